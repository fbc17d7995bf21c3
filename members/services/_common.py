"""What every members service shares: the UNSET marker, history attribution, row locks, staff status."""

from typing import Any, TypeVar

from django.db.models import Model

from core.types import Actor, User

_M = TypeVar("_M", bound=Model)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # "leave this field as it is" in partial updates, where None and "" are real values


def _audit(instance: Any, actor: Actor, reason: str) -> None:
    """Attribute the next history row of `instance` to `actor`, with a reason (django-simple-history)."""
    instance._history_user = actor
    instance._change_reason = reason


def _lock(model: type[_M], pk: Any) -> _M:
    # The default manager is `objects` on every model locked here; the stubs type only this name generically.
    return model._default_manager.select_for_update().get(pk=pk)


def _ensure_staff(user: User) -> None:
    """Secretaries and 组织管理员 work in the admin, which lets only staff in. Never unset here: staff status may
    have been granted for other reasons, and without managed organizations the admin shows such a user nothing."""
    if user is not None and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])

"""What the demands services share: the wish's states, the defaults, the wish's events and row locks."""

from collections.abc import Collection, Iterable
from urllib.parse import urljoin

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from core.types import Actor, User
from notifications.services import notify

from ..models import MicroWish, WishEvent

State = MicroWish.State

RELEASE_GRACE_DAYS = 7  # a released wish whose deadline has passed gets this many more days on the wall


def _absolute(path: str, site_url: str = "") -> str:
    base = site_url or settings.SITE_URL
    return urljoin(base, path) if base else path


def _lock(wish: MicroWish) -> MicroWish:
    return MicroWish.objects.select_for_update().get(pk=wish.pk)


def _require_state(wish: MicroWish, allowed: Collection[str], message: str) -> None:
    if wish.state not in allowed:
        raise ValidationError(message % {"state": wish.get_state_display()}, code="state")


def _event(
    wish: MicroWish,
    *,
    action: str,
    from_state: str,
    actor_kind: str,
    actor: Actor = None,
    reason: str = "",
    public: bool = True,
) -> WishEvent:
    return WishEvent.objects.create(
        wish=wish,
        action=action,
        from_state=from_state,
        to_state=wish.state,
        actor_kind=actor_kind,
        actor=actor if getattr(actor, "pk", None) else None,
        reason=reason,
        public=public,
    )


def _tell_resident(wish: MicroWish, *, template: str, event: WishEvent, context: dict) -> None:
    """An SMS to the resident (quiet hours apply: residents have no account), unless their contact was purged."""
    if not wish.contact_phone:
        return
    notify(
        template=template,
        channel="sms",
        phone=wish.contact_phone,
        dedupe_key=f"{template}:{event.pk}",
        context={"code": wish.tracking_code, "title": wish.public_title, **context},
    )


def _tell_users(users: Iterable[User], *, template: str, event: WishEvent, context: dict, kind: str) -> None:
    """In-app messages to members or secretaries, one per user; `kind` (notifications.kinds) files them under the
    recipients' preferences: "work" for secretaries and grid leaders, "wish_update" for a claiming member."""
    for user in users:
        notify(
            template=template,
            channel="inapp",
            user=user,
            kind=kind,
            dedupe_key=f"{template}:{event.pk}:{user.pk}",
            context={"title": wish_title(event.wish), "wish_id": event.wish_id, **context},
        )


def wish_title(wish: MicroWish) -> str:
    return wish.public_title or wish.title


def _track_link(site_url: str) -> str:
    return _absolute(reverse("demands:track"), site_url)


def _review_link(wish: MicroWish, site_url: str) -> str:
    return _absolute(reverse("demands:review_detail", args=[wish.pk]), site_url)


def _wish_link(wish: MicroWish, site_url: str) -> str:
    return _absolute(reverse("demands:detail", args=[wish.pk]), site_url)

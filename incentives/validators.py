"""The rules of the incentives app that a form shows before a service is called: the services call them again
under their locks, so a broken rule is a message on the form, never a failed save."""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .models import MAX_STARS, CatalogueItem, Objection, RatingRun


def check_rule(*, leader_multiplier: Decimal | None, min_quantity: Decimal | None) -> None:
    if leader_multiplier is not None and not Decimal(1) <= leader_multiplier <= Decimal(10):
        raise ValidationError({"leader_multiplier": _("负责人倍数应在 1 到 10 之间。")})
    if min_quantity is not None and min_quantity <= 0:
        raise ValidationError({"min_quantity": _("起计数量必须大于 0。")})


def check_catalogue_item(
    *, kind: str, min_star_level: int, opens_at: datetime | None, closes_at: datetime | None
) -> None:
    if kind == CatalogueItem.Kind.BENEFIT and not 1 <= (min_star_level or 0) <= MAX_STARS:
        raise ValidationError({"min_star_level": _("政策优惠须设置最低星级（1–5）。")})
    if opens_at and closes_at and closes_at <= opens_at:
        raise ValidationError({"closes_at": _("截止兑换时间必须晚于开始兑换时间。")})


def check_thresholds(thresholds: Iterable[Decimal | int | str]) -> list[int | str]:
    """Five positive, strictly increasing numbers (★1 … ★5); returned as ints where whole, else as strings of decimals
    (JSON keeps them exact)."""
    try:
        values = [Decimal(str(v)) for v in thresholds]
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValidationError({"thresholds": _("门槛必须是数字。")}) from exc
    if len(values) != MAX_STARS:
        raise ValidationError({"thresholds": _("请填写 5 个门槛（一星到五星）。")})
    if any(not v.is_finite() or v <= 0 for v in values):
        raise ValidationError({"thresholds": _("门槛必须大于 0。")})
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ValidationError({"thresholds": _("门槛必须逐级递增。")})
    return [int(v) if v == v.to_integral_value() else str(v.normalize()) for v in values]


def check_objection_answerable(objection: Objection) -> None:
    if objection.outcome != Objection.Outcome.PENDING:
        raise ValidationError(_("该异议已经答复。"))
    if objection.rating.run.status != RatingRun.Status.PUBLICITY:
        raise ValidationError(_("评定已结束，不能再答复异议。"))

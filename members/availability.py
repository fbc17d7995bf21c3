"""Weekly availability: weekday × morning/afternoon/evening, stored as a 21-bit integer on `Member.availability`.

Why an integer and not a JSON list: a CheckConstraint can keep it valid (0 ≤ value < 2²¹) on every database, and
"who is free on Wednesday afternoon" is a portable bitwise filter (`available_in`) on SQLite and PostgreSQL alike,
where JSON containment is PostgreSQL-only. Bit i is `SLOTS[i]`: Monday morning is bit 0, Sunday evening bit 20.
"""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

DAYS = (
    ("mon", _("周一")),
    ("tue", _("周二")),
    ("wed", _("周三")),
    ("thu", _("周四")),
    ("fri", _("周五")),
    ("sat", _("周六")),
    ("sun", _("周日")),
)
PERIODS = (("am", _("上午")), ("pm", _("下午")), ("eve", _("晚上")))

SLOTS: tuple[str, ...] = tuple(f"{day}-{period}" for day, _d in DAYS for period, _p in PERIODS)
# Lazy, so each label follows the language of the request (an f-string here would freeze the language at import).
SLOT_CHOICES: tuple[tuple[str, Promise | str], ...] = tuple(
    (f"{day}-{period}", format_lazy(_("{day}{period}"), day=day_label, period=period_label))
    for day, day_label in DAYS
    for period, period_label in PERIODS
)
FULL_MASK = (1 << len(SLOTS)) - 1


def to_mask(slots: Iterable[str]) -> int:
    """The integer for a set of slot codes ("mon-am", "wed-pm", …); an unknown code is a ValidationError."""
    mask = 0
    for slot in slots:
        try:
            mask |= 1 << SLOTS.index(slot)
        except ValueError:
            raise ValidationError(_("无效的服务时段：%(slot)s"), params={"slot": slot}, code="invalid_slot") from None
    return mask


def from_mask(mask: int) -> list[str]:
    """The slot codes set in `mask`, Monday morning first."""
    return [slot for i, slot in enumerate(SLOTS) if mask & (1 << i)]


def available_in(queryset: QuerySet, slot: str) -> QuerySet:
    """Members of `queryset` free in `slot` (a bitwise AND in SQL, so it runs on the database)."""
    bit = to_mask([slot])
    return queryset.alias(_slot_bit=F("availability").bitand(bit)).filter(_slot_bit=bit)


def grid(mask: int) -> list[tuple[Promise | str, list[bool]]]:
    """The week as rows for a table: (day label, [morning, afternoon, evening] free or not)."""
    slots = [bool(mask & (1 << i)) for i in range(len(SLOTS))]
    width = len(PERIODS)
    return [(label, slots[i * width : (i + 1) * width]) for i, (_code, label) in enumerate(DAYS)]

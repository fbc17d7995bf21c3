"""What the projects services share: the rules' constants, the row locks in their order, check-in codes, the
messages' activity context."""

import secrets
from collections.abc import Iterable
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.types import Actor
from members.models import Member

from ..models import Activity

# The no-show restriction (DESIGN.md: "repeated no-shows restrict new sign-ups"): settings.NO_SHOW_LIMIT no-shows
# among the activities that started within the window refuse new sign-ups and post claims until the oldest one ages
# out.
NO_SHOW_WINDOW = timedelta(days=90)

# Check-in is open from an hour before the start to an hour after it, both ends included.
CHECKIN_EARLY = timedelta(hours=1)
CHECKIN_LATE = timedelta(hours=1)

# Activities generated from a recurrence rule or a post: sign-up closes at the start, cancellation a day before.
GENERATE_WEEKS = 8
GENERATED_CANCEL_CUTOFF = timedelta(hours=24)


KEEP: Any = object()  # activity_update: leave the on-site leader as it is


def _lock_activity(activity: Activity) -> Activity:
    # of=("self",): the project joined for its rules (and its category, for the records' 服务类别) is read, not locked.
    return Activity.objects.select_for_update(of=("self",)).select_related("project__category").get(pk=activity.pk)


def _lock_activities(activity_ids: Iterable[int]) -> dict[int, Activity]:
    """Lock activity rows in id order (the fixed order) and return them by id."""
    rows = Activity.objects.select_for_update(of=("self",)).select_related("project").filter(pk__in=set(activity_ids))
    return {a.pk: a for a in rows.order_by("pk")}


def _lock_members(member_ids: Iterable[int]) -> dict[int, Member]:
    """Lock member rows in id order (the fixed order) and return them by id."""
    rows = Member.objects.select_for_update(of=("self",)).select_related("user").filter(pk__in=set(member_ids))
    return {m.pk: m for m in rows.order_by("pk")}


def new_checkin_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def _as_hours(value: object, field_name: str = "hours") -> Decimal:
    try:
        hours = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({field_name: _("请填写有效的服务时长。")}) from None
    if not hours.is_finite() or hours <= 0:
        raise ValidationError({field_name: _("服务时长必须大于0。")})
    return hours


def _person_name(user: Actor) -> str:
    """How a record names the person in charge (负责人): the member's name, else the account's name."""
    if user is None:
        return ""
    member = Member.objects.filter(user=user).only("name").first()
    return member.name if member is not None else (user.get_full_name() or user.get_username())


def _activity_context(activity: Activity) -> dict:
    return {
        "activity": activity.display_title,
        "starts_at": timezone.localtime(activity.starts_at).strftime("%Y-%m-%d %H:%M"),
        "place": activity.place,
        "url": reverse("projects:activity_detail", args=[activity.pk]),
    }

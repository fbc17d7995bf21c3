"""Check-in with the activity's code, inside its window."""

import secrets
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member

from ..models import Activity, SignUp
from ._common import CHECKIN_EARLY, CHECKIN_LATE, _lock_activity, new_checkin_code


def checkin_window(activity: Activity) -> tuple[datetime, datetime]:
    return activity.starts_at - CHECKIN_EARLY, activity.starts_at + CHECKIN_LATE


@transaction.atomic
def signup_check_in(*, activity: Activity, member: Member, code: str, now: datetime | None = None) -> SignUp:
    """Check `member` in with the activity's code, from CHECKIN_EARLY before the start to CHECKIN_LATE after it
    (both ends included). Checking in again keeps the first time. Attempts are limited by the caller
    (CHECKIN_ATTEMPT_LIMIT per member and activity, projects.views.activity_checkin), so the code cannot be guessed.
    Lock: the sign-up row.
    """
    now = now or timezone.now()
    opens, closes = checkin_window(activity)
    if now < opens:
        raise ValidationError(
            _("签到将于 %(when)s 开始（活动开始前1小时）。")
            % {"when": timezone.localtime(opens).strftime("%m-%d %H:%M")}
        )
    if now > closes:
        raise ValidationError(_("签到已结束（活动开始后1小时内可以签到）。"))
    signup = (
        SignUp.objects.select_for_update(of=("self",))
        .filter(activity=activity, member=member, status__in=SignUp.ACTIVE_STATUSES)
        .first()
    )
    if signup is None or signup.status == SignUp.Status.WAITLISTED:
        raise ValidationError(_("您没有该活动的确认报名，不能签到。"))
    if activity.status == Activity.Status.CANCELLED:
        raise ValidationError(_("该活动已取消。"))
    if not secrets.compare_digest((code or "").strip(), activity.checkin_code):
        raise ValidationError({"code": _("签到码不正确。")})
    if signup.checked_in_at is None:
        signup.checked_in_at = now
        signup.save(update_fields=["checked_in_at"])
    return signup


@transaction.atomic
def activity_new_code(*, activity: Activity) -> Activity:
    """Give the activity a new check-in code (the old one leaked). Lock: the activity row."""
    activity = _lock_activity(activity)
    activity.checkin_code = new_checkin_code()
    activity.save(update_fields=["checkin_code"])
    return activity

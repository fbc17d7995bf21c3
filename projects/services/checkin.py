"""Check-in and sign-out (签退): proved with the rotating QR token the organizer's phone shows, or with the
activity's 6-digit code as the fallback; inside the activity's window; within its radius when it has one.

The QR token is an HMAC (Django's SECRET_KEY, `salted_hmac`) of the activity, its current 6-digit code and a
30-second time step. A token is accepted in its own step and the next one only, so a photo of the QR code forwarded
to someone at home stops working within a minute; a new code (`activity_new_code`) ends every token made before.

A member's phone may report its position (the browser's Geolocation API). When the activity has a check-in place
and the position lies outside its radius, check-in and sign-out are refused. When the phone reports none (the
member did not allow it, or it is not available) check-in is still accepted and marked 未提供位置 on the attendance
sheet, where the organizer sees it before confirming the hours: a phone without location must not keep a member
who is there from checking in, and the organizer on site can tell.
"""

import math
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from members.models import Member

from ..models import Activity, CheckinPosition, SignUp
from ..validators import check_checkin_place
from ._common import CHECKIN_EARLY, CHECKIN_LATE, _lock_activity, new_checkin_code

# The QR code changes every CHECKIN_STEP_SECONDS; a token is accepted in its step and the next.
CHECKIN_STEP_SECONDS = 30
_TOKEN_SALT = "projects.checkin-token"
_MAX_STEP_DIGITS = 12

EARTH_RADIUS_M = 6_371_008.8  # the mean radius


@dataclass(frozen=True)
class Position:
    """Where the member's phone says it is (WGS-84 degrees)."""

    latitude: float
    longitude: float


def checkin_window(activity: Activity) -> tuple[datetime, datetime]:
    return activity.starts_at - CHECKIN_EARLY, activity.starts_at + CHECKIN_LATE


def signout_window(activity: Activity) -> tuple[datetime, datetime]:
    """Sign-out is open from the start to CHECKIN_LATE after the end, both ends included."""
    return activity.starts_at, activity.ends_at + CHECKIN_LATE


def checkin_step(now: datetime) -> int:
    return int(now.timestamp()) // CHECKIN_STEP_SECONDS


def seconds_to_next_step(now: datetime) -> float:
    """How long the QR code shown at `now` stays the newest (the organizer's page refreshes it then)."""
    return CHECKIN_STEP_SECONDS - (now.timestamp() % CHECKIN_STEP_SECONDS)


def _token_mac(activity: Activity, step: int) -> str:
    value = f"{activity.pk}:{activity.checkin_code}:{step}"
    return salted_hmac(_TOKEN_SALT, value, algorithm="sha256").hexdigest()[:20]


def checkin_token(activity: Activity, now: datetime) -> str:
    """The token the organizer's QR code carries at `now`: "<step>.<mac>"."""
    step = checkin_step(now)
    return f"{step}.{_token_mac(activity, step)}"


def _check_proof(activity: Activity, *, code: str, token: str, now: datetime) -> None:
    """The member is at the activity: the 6-digit code when typed (the fallback after a refused token), else a QR
    token of this step or the previous one."""
    if code or not token:
        if not secrets.compare_digest((code or "").strip(), activity.checkin_code):
            raise ValidationError({"code": _("签到码不正确。")})
        return
    step_text, _dot, mac = token.strip().partition(".")
    step = int(step_text) if step_text.isdigit() and len(step_text) <= _MAX_STEP_DIGITS else None
    current = checkin_step(now)
    if step is None or step > current or not constant_time_compare(mac, _token_mac(activity, step)):
        raise ValidationError({"code": _("二维码无效。请扫描组织者手机上的签到二维码，或输入签到码。")})
    if current - step > 1:
        raise ValidationError({"code": _("二维码已过期（每30秒更换一次）。请重新扫描组织者手机上的签到二维码。")})


def distance_m(latitude1: float, longitude1: float, latitude2: float, longitude2: float) -> float:
    """The great-circle distance in metres (haversine)."""
    phi1, phi2 = math.radians(latitude1), math.radians(latitude2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(longitude2 - longitude1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _check_position(activity: Activity, position: Position | None) -> tuple[str, int | None]:
    """(CheckinPosition, distance in metres) of a check-in; refused outside the radius."""
    if activity.latitude is None or activity.longitude is None or activity.checkin_radius_m is None:
        return "", None
    if position is None:
        return CheckinPosition.UNKNOWN, None
    distance = round(
        distance_m(float(activity.latitude), float(activity.longitude), position.latitude, position.longitude)
    )
    if distance > activity.checkin_radius_m:
        raise ValidationError(
            _(
                "您的位置距活动地点约 %(distance)d 米，超出了 %(radius)d 米的签到范围。"
                "请到达活动地点后再试；定位不准时可稍候重试，或请组织者在考勤表上登记。"
            )
            % {"distance": distance, "radius": activity.checkin_radius_m}
        )
    return CheckinPosition.INSIDE, distance


def _lock_signup(activity: Activity, member: Member) -> SignUp | None:
    return (
        SignUp.objects.select_for_update(of=("self",))
        .filter(activity=activity, member=member, status__in=SignUp.ACTIVE_STATUSES)
        .first()
    )


@transaction.atomic
def signup_check_in(
    *,
    activity: Activity,
    member: Member,
    code: str = "",
    token: str = "",
    position: Position | None = None,
    now: datetime | None = None,
) -> SignUp:
    """Check `member` in with the QR token (`token`, this step or the previous) or the activity's code, from
    CHECKIN_EARLY before the start to CHECKIN_LATE after it (both ends included), within the activity's radius when
    it has one and the phone reported a `position` (none: accepted, marked 未提供位置). Checking in again keeps the
    first time. Attempts are limited by the caller (CHECKIN_ATTEMPT_LIMIT per member and activity,
    projects.views.activity_checkin), so the code cannot be guessed.
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
    signup = _lock_signup(activity, member)
    if signup is None or signup.status == SignUp.Status.WAITLISTED:
        raise ValidationError(_("您没有该活动的确认报名，不能签到。"))
    if activity.status == Activity.Status.CANCELLED:
        raise ValidationError(_("该活动已取消。"))
    _check_proof(activity, code=code, token=token, now=now)
    if signup.checked_in_at is not None:
        return signup
    signup.checkin_position, signup.checkin_distance_m = _check_position(activity, position)
    signup.checked_in_at = now
    signup.save(update_fields=["checked_in_at", "checkin_position", "checkin_distance_m"])
    return signup


@transaction.atomic
def signup_check_out(
    *,
    activity: Activity,
    member: Member,
    code: str = "",
    token: str = "",
    position: Position | None = None,
    now: datetime | None = None,
) -> SignUp:
    """Sign `member` out (签退) of an activity that asks for it, proved as a check-in is (the QR token or the code,
    the radius), from the start to CHECKIN_LATE after the end. The hours the attendance sheet proposes then run
    from the check-in to the sign-out (`default_hours`). Signing out again keeps the first time.

    Lock: the sign-up row, as check-in (the attendance sheet locks it too): a sign-out either lands before the sheet
    marks the member, and the sheet's hours follow it, or after, and is refused. Invariant (CHECK): a sign-out
    follows a check-in.
    """
    now = now or timezone.now()
    if not activity.signout_required:
        raise ValidationError(_("该活动不需要签退。"))
    opens, closes = signout_window(activity)
    if now < opens:
        raise ValidationError(_("活动开始后才能签退。"))
    if now > closes:
        raise ValidationError(_("签退已结束（活动结束后1小时内可以签退），服务时长请组织者在考勤表上登记。"))
    signup = _lock_signup(activity, member)
    if signup is None or signup.status == SignUp.Status.WAITLISTED:
        raise ValidationError(_("您没有该活动的确认报名。"))
    if signup.checked_in_at is None:
        raise ValidationError(_("您还没有签到，不能签退。"))
    if signup.status != SignUp.Status.CONFIRMED:
        raise ValidationError(_("组织者已记录考勤，不能再签退。"))
    _check_proof(activity, code=code, token=token, now=now)
    if signup.checked_out_at is not None:
        return signup
    _check_position(activity, position)
    # `now` was read before the lock: a check-in that committed meanwhile (or another web server's clock a few
    # milliseconds ahead) may be later; a sign-out never precedes its check-in (CHECK).
    signup.checked_out_at = max(now, signup.checked_in_at)
    signup.save(update_fields=["checked_out_at"])
    return signup


@transaction.atomic
def activity_new_code(*, activity: Activity) -> Activity:
    """Give the activity a new check-in code (the old one leaked): the old code and every QR code shown before
    stop working. Lock: the activity row."""
    activity = _lock_activity(activity)
    activity.checkin_code = new_checkin_code()
    activity.save(update_fields=["checkin_code"])
    return activity


@transaction.atomic
def activity_checkin_place_set(
    *, activity: Activity, latitude: Decimal | None, longitude: Decimal | None, checkin_radius_m: int | None
) -> Activity:
    """Set the activity's check-in place — typically where the organizer stands with their phone, so its
    coordinates are what members' phones report there — or clear it (three Nones). Lock: the activity row.
    Invariant: all three values or none, in range (`check_checkin_place`, and a CHECK); a cancelled activity keeps
    its own."""
    activity = _lock_activity(activity)
    if activity.status == Activity.Status.CANCELLED:
        raise ValidationError(_("该活动已取消。"))
    check_checkin_place(latitude=latitude, longitude=longitude, checkin_radius_m=checkin_radius_m)
    activity.latitude, activity.longitude, activity.checkin_radius_m = latitude, longitude, checkin_radius_m
    activity.save(update_fields=["latitude", "longitude", "checkin_radius_m"])
    return activity

"""The projects app's rules, one function each: forms call them in `clean()` so a broken rule is a message on the
form, and services call them again inside their transaction, so each rule is written once. A broken rule raises
`django.core.exceptions.ValidationError` with a Chinese message (a dict keyed by field when the field is known).

The project logo: checked, then re-encoded, so what is stored is a plain PNG this code wrote.

An upload is refused when it is too large, not a JPEG/PNG/WebP/GIF image Pillow can decode, or has absurd
dimensions (a decompression bomb). What passes is re-encoded as PNG, at most 512 px on its longer side: metadata
(EXIF with the photographer's location, comments) and anything appended to the image are dropped, and the file is
served by `projects.views.project_logo` with a fixed content type.
"""

from datetime import datetime
from decimal import Decimal
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member
from members.validators import check_service_times
from notifications.images import ImageRejected, random_name, reencode

from .models import Activity, ActivitySurvey, Post, ServiceProject, SignUp

MAX_LOGO_BYTES = 2 * 1024 * 1024
MAX_LOGO_PIXELS = 4096 * 4096
LOGO_SIDE = 512
LOGO_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif")
LOGO_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF"})


def clean_logo(upload) -> ContentFile:
    """The re-encoded PNG of an uploaded logo under a random name; ValidationError when it is not acceptable."""
    if PurePath(upload.name or "").suffix.lower() not in LOGO_EXTENSIONS:
        raise ValidationError(_("标识只能是 PNG、JPG、WebP 或 GIF 图片。"), code="logo_type")
    if upload.size is not None and upload.size > MAX_LOGO_BYTES:
        raise ValidationError(
            _("标识图片不能超过 %(size)s。") % {"size": filesizeformat(MAX_LOGO_BYTES)}, code="logo_size"
        )
    try:
        content, _width, _height = reencode(
            upload, accepted=LOGO_FORMATS, max_pixels=MAX_LOGO_PIXELS, max_side=LOGO_SIDE, fmt="PNG"
        )
    except ImageRejected as exc:
        if exc.reason == "format":
            raise ValidationError(_("标识只能是 PNG、JPG、WebP 或 GIF 图片。"), code="logo_type") from None
        if exc.reason == "pixels":
            raise ValidationError(_("标识图片尺寸过大。"), code="logo_dimensions") from None
        raise ValidationError(_("无法识别该图片，请换一张。"), code="logo_invalid") from None
    return ContentFile(content, name=random_name(".png"))


def check_project(*, project: ServiceProject) -> None:
    """The rules of a project's fields a CHECK cannot state, shared by the admin form (clean) and `project_save`."""
    errors = {}
    if project.grid_id is not None and project.community_id is not None:
        if project.grid is not None and project.grid.community_id != project.community_id:
            errors["grid"] = _("网格不在所选社区（村）内。")
    elif project.grid_id is not None:
        errors["community"] = _("选择网格时请同时选择社区（村）。")
    if project.recurrence != ServiceProject.Recurrence.NONE:
        missing = [
            f
            for f in ("recurrence_weekday", "recurrence_time", "recurrence_minutes", "recurrence_capacity")
            if not getattr(project, f) and getattr(project, f) != 0
        ]
        for name in missing:
            errors[name] = _("重复的项目需要填写此项。")
        if project.recurrence == ServiceProject.Recurrence.MONTHLY and not (1 <= (project.recurrence_week or 0) <= 4):
            errors["recurrence_week"] = _("每月重复的项目需要填写第几周（1–4）。")
    if errors:
        raise ValidationError(errors)


def check_activity(
    *,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int | None,
    signup_opens_at: datetime,
    signup_closes_at: datetime,
    cancel_cutoff_at: datetime,
) -> None:
    """The rules of an activity's times and seats (the same as its CHECKs, as messages on the form's fields)."""
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": _("结束时间必须晚于开始时间。")})
    if capacity is None or capacity <= 0:
        raise ValidationError({"capacity": _("名额必须大于0。")})
    if signup_closes_at <= signup_opens_at:
        raise ValidationError({"signup_closes_at": _("报名截止应晚于报名开始。")})
    if signup_closes_at > starts_at:
        raise ValidationError({"signup_closes_at": _("报名截止不能晚于活动开始。")})
    if cancel_cutoff_at > starts_at:
        raise ValidationError({"cancel_cutoff_at": _("取消截止不能晚于活动开始。")})


def check_activity_start(*, starts_at: datetime, now: datetime) -> None:
    """A new activity, or one moved to another time, starts after `now`: members must be able to sign up for it."""
    if starts_at <= now:
        raise ValidationError({"starts_at": _("开始时间已过，请填写将来的时间。")})


def check_leader(leader: Member | None) -> None:
    if leader is not None and leader.status != Member.Status.ACTIVE:
        raise ValidationError({"leader": _("现场负责人须为在册党员。")})


# A radius below what a phone's position is good to outdoors would refuse members standing at the place.
CHECKIN_RADIUS_MIN, CHECKIN_RADIUS_MAX = 50, 5000


def check_checkin_place(*, latitude: Decimal | None, longitude: Decimal | None, checkin_radius_m: int | None) -> None:
    """The check-in place is optional; given, it is a latitude, a longitude and a radius of 50–5000 m together."""
    if latitude is None or longitude is None or checkin_radius_m is None:
        if latitude is None and longitude is None and checkin_radius_m is None:
            return
        raise ValidationError({"checkin_radius_m": _("签到点的纬度、经度和范围须同时填写，或都不填。")})
    if not -90 <= latitude <= 90:
        raise ValidationError({"latitude": _("纬度应在 -90 到 90 之间。")})
    if not -180 <= longitude <= 180:
        raise ValidationError({"longitude": _("经度应在 -180 到 180 之间。")})
    if not CHECKIN_RADIUS_MIN <= checkin_radius_m <= CHECKIN_RADIUS_MAX:
        raise ValidationError(
            {
                "checkin_radius_m": _("签到范围应在 %(low)d 到 %(high)d 米之间。")
                % {"low": CHECKIN_RADIUS_MIN, "high": CHECKIN_RADIUS_MAX}
            }
        )


def check_activity_open(activity: Activity, now: datetime) -> None:
    if activity.status != Activity.Status.SCHEDULED or activity.project.status != ServiceProject.Status.PUBLISHED:
        raise ValidationError(_("该活动不在报名中。"))
    if now < activity.signup_opens_at:
        raise ValidationError(
            _("报名将于 %(when)s 开始。")
            % {"when": timezone.localtime(activity.signup_opens_at).strftime("%m-%d %H:%M")}
        )
    if now >= activity.signup_closes_at:
        raise ValidationError(_("该活动已截止报名。"))


def check_post(*, post: Post) -> None:
    if post.places is None or post.places <= 0:
        raise ValidationError({"places": _("岗位数必须大于0。")})
    if post.minutes is None or post.minutes <= 0:
        raise ValidationError({"minutes": _("时长必须大于0。")})


def check_self_report(
    *, started_at: datetime, ended_at: datetime, hours: Decimal | int | float | str, place: str, content: str
) -> Decimal:
    checked: Decimal
    checked, _date = check_service_times(start=started_at, end=ended_at, hours=hours)
    if ended_at > timezone.now():
        raise ValidationError({"ended_at": _("只能申报已经完成的服务。")})
    if not (place or "").strip():
        raise ValidationError({"place": _("请填写服务地点。")})
    if not (content or "").strip():
        raise ValidationError({"content": _("请填写服务内容。")})
    return checked


def check_survey_rating(rating: str | int | None) -> int:
    try:
        value = int(rating) if rating is not None else 0
    except (TypeError, ValueError):
        value = 0
    if str(value) != str(rating).strip() or not ActivitySurvey.RATING_MIN <= value <= ActivitySurvey.RATING_MAX:
        raise ValidationError(_("请选择1到5分的满意度。"))
    return value


def check_cancellable(*, signup: SignUp, activity: Activity, now: datetime) -> None:
    """A sign-up may be cancelled, or its place on the waitlist left, while it is confirmed or waitlisted, the member
    has not checked in, and the activity has not started. The page offers the button exactly when this passes."""
    if signup.status not in (SignUp.Status.CONFIRMED, SignUp.Status.WAITLISTED):
        raise ValidationError(_("已记录考勤，不能取消报名。"))
    if signup.checked_in_at is not None:
        raise ValidationError(_("您已签到，不能再取消报名。如不能参加，请告知活动负责人。"))
    if now >= activity.starts_at:
        raise ValidationError(_("活动已经开始，不能取消报名。"))

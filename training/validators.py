"""The training app's rules, one function each: forms call them in `clean()` so a broken rule is a message on the
form, and services call them again inside their transaction, so each rule is written once. A broken rule raises
`django.core.exceptions.ValidationError` with a Chinese message (a dict keyed by field when the field is known).

The checks of uploaded files, which the models use as field validators, are in `training.files`.
"""

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member, Organization

from .models import Course, TrainingSession
from .selectors import path_ids

MAX_HOURS = Decimal("999.99")


def _hours(value: object, field: str = "hours") -> Decimal:
    try:
        hours = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({field: _("请填写有效的学时。")}) from None
    if hours <= 0:
        raise ValidationError({field: _("学时必须大于0。")})
    if hours > MAX_HOURS:
        raise ValidationError({field: _("学时过大。")})
    return hours


def _course_open_to(course: Course, organization: Organization) -> bool:
    return course.organization_id is None or course.organization_id in path_ids(organization)


def check_course(*, title: str, hours: object, validity_months: int | None) -> Decimal:
    if not (title or "").strip():
        raise ValidationError({"title": _("请填写课程名称。")})
    if validity_months is not None and validity_months <= 0:
        raise ValidationError({"validity_months": _("有效期必须大于0个月。")})
    return _hours(hours)


def check_session(
    *,
    course: Course,
    organizer: Organization,
    starts_at: datetime,
    ends_at: datetime,
    place: str,
    online_url: str,
    capacity: int,
) -> None:
    """The rules of a session's fields, shared by the forms (in clean) and the services (in the transaction)."""
    if not course.active:
        raise ValidationError({"course": _("该课程已停开。")})
    if not _course_open_to(course, organizer):
        raise ValidationError({"course": _("该课程不面向组织单位开放。")})
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": _("结束时间必须晚于开始时间。")})
    if capacity is None or capacity <= 0:
        raise ValidationError({"capacity": _("名额必须大于0。")})
    if not (place or "").strip() and not (online_url or "").strip():
        raise ValidationError({"place": _("请填写地点或线上链接。")})


def check_enrollment(*, session: TrainingSession, member: Member, now: datetime | None = None) -> None:
    """Whether `member` may take a seat in `session`, apart from the seat count (which needs the lock)."""
    now = now or timezone.now()
    if member.status != Member.Status.ACTIVE:
        raise ValidationError(_("只有在册党员可以报名参训。"))
    if session.status != TrainingSession.Status.SCHEDULED:
        raise ValidationError(_("该场次已取消或已结束，不能报名。"))
    if session.starts_at <= now:
        raise ValidationError(_("该场次已经开始，不能报名。"))
    if not session.course.active:
        raise ValidationError(_("该课程已停开。"))
    if session.organizer_id not in path_ids(member.organization):
        raise ValidationError(_("该场次不面向您所在的支部开放。"))


def check_external_training(*, member: Member, hours: object, completed_on: date, score: object) -> Decimal:
    """The rules of an external record's fields, shared by the form (in clean) and the service."""
    checked = _hours(hours)
    if member.status != Member.Status.ACTIVE:
        raise ValidationError({"member": _("只能为在册党员记录培训。")})
    if completed_on > timezone.localdate():
        raise ValidationError({"completed_on": _("完成日期不能晚于今天。")})
    if score is not None:
        try:
            in_range = Decimal(0) <= Decimal(str(score)) <= Decimal(100)
        except InvalidOperation:
            in_range = False
        if not in_range:
            raise ValidationError({"score": _("成绩应在0到100之间。")})
    return checked


def check_requirement(*, total_hours: Decimal, minimums: dict[str, Decimal], year: int) -> None:
    if year is None or not 2000 <= year <= 2100:
        raise ValidationError({"year": _("请填写有效的年度。")})
    values = {"total_hours": total_hours, **minimums}
    for name, value in values.items():
        if value is None or value < 0:
            raise ValidationError({name: _("学时不能为负数。")})
    if sum(minimums.values(), Decimal(0)) > total_hours:
        raise ValidationError({"total_hours": _("各类别最少学时之和不能超过全年学时。")})

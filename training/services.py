"""Every write of the training app.

Functions are keyword-only, typed and atomic; each docstring names the lock it takes and the invariant it keeps.
A broken rule raises `django.core.exceptions.ValidationError` with a Chinese message (a dict keyed by field when
the field is known), before anything is written.

Seats: `enrollment_create` locks the session row (SELECT … FOR UPDATE) and counts the enrollments holding a seat
before adding one, so concurrent enrollments queue on that row and the count they see is exact; the seat count is
not stored anywhere else. Every service that touches a session's enrollments takes the session lock first, then
the enrollment rows: one order, no deadlock.

Services do not decide who may call them — views and the admin check scope through `training.selectors` first.
"""

import calendar
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.text import plain_decimal
from core.types import Actor
from incentives import services as incentives_services
from members.models import Member, Organization
from notifications import fanout
from notifications.services import notify, notify_many, user_messages

from . import selectors
from .files import stored_copy, validate_evidence_file, validate_material_file
from .models import AnnualRequirement, Course, CourseMaterial, Enrollment, TrainingRecord, TrainingSession
from .validators import check_course, check_enrollment, check_external_training, check_requirement, check_session


def add_months(start: date, months: int) -> date:
    """`start` plus whole months; a day missing in the target month becomes its last day (31 Jan + 1 → 28/29 Feb)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return start.replace(year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1]))


def expiry_for(course: Course, completed_on: date) -> date | None:
    """When a record of `course` completed on `completed_on` stops qualifying (None: never)."""
    return add_months(completed_on, course.validity_months) if course.validity_months else None


def _lock_session(session: TrainingSession) -> TrainingSession:
    # of=("self",): the course row joined for its hours is read, not locked.
    return TrainingSession.objects.select_for_update(of=("self",)).select_related("course").get(pk=session.pk)


# --- Courses and materials ------------------------------------------------------------------------------------


@transaction.atomic
def course_save(*, course: Course, actor: Actor) -> Course:
    """Create or change a course (the admin's form fills the instance).

    No lock: a course row is only changed by its editors, and sessions keep a reference, not a copy. Invariants:
    hours > 0, validity > 0 months when set, a known type (also CHECKs). Records already made keep their hours and
    expiry: changing the course does not rewrite history.
    """
    course.hours = check_course(title=course.title, hours=course.hours, validity_months=course.validity_months)
    if course.type not in Course.Type.values:
        raise ValidationError({"type": _("请选择培训类别。")})
    course.title = course.title.strip()
    course.save()
    return course


@transaction.atomic
def course_material_save(*, material: CourseMaterial, actor: Actor) -> CourseMaterial:
    """Add or change a material of a course: a file (checked by `validate_material_file`) or a link, not both.

    No lock. Invariant: exactly one of file and link (also a CHECK); a file is never stored unchecked, and is stored
    under a random name (pictures re-encoded without metadata: `validators.stored_copy`).
    """
    has_file, has_url = bool(material.file), bool(material.url)
    if has_file == has_url:
        raise ValidationError(_("请上传文件或填写链接（二选一）。"))
    if not (material.title or "").strip():
        raise ValidationError({"title": _("请填写资料名称。")})
    if has_file and isinstance(material.file.file, UploadedFile):
        try:
            validate_material_file(material.file)
            material.file = stored_copy(material.file.file)
        except ValidationError as exc:
            raise ValidationError({"file": exc.messages}) from None
    material.save()
    return material


# --- Sessions -------------------------------------------------------------------------------------------------


@transaction.atomic
def session_schedule(
    *,
    course: Course,
    organizer: Organization,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    actor: Actor,
    place: str = "",
    online_url: str = "",
) -> TrainingSession:
    """Schedule a session of `course` organised by `organizer`.

    No lock: a new row. Invariants: ends after it starts, capacity > 0, a place or a link (also CHECKs); the course
    is active and open to the organizer (platform-wide, or of the organizer or an organization above it). A session
    may be entered after it took place (补录), so that its attendance can be recorded.
    """
    check_session(
        course=course,
        organizer=organizer,
        starts_at=starts_at,
        ends_at=ends_at,
        place=place,
        online_url=online_url,
        capacity=capacity,
    )
    return TrainingSession.objects.create(
        course=course,
        organizer=organizer,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        place=place.strip(),
        online_url=online_url.strip(),
        created_by=actor,
    )


@transaction.atomic
def session_update(
    *,
    session: TrainingSession,
    actor: Actor,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    place: str = "",
    online_url: str = "",
) -> TrainingSession:
    """Change a scheduled session's time, place or capacity.

    Lock: the session row, so no enrollment slips in between the count and the change. Invariant: the capacity is
    never below the seats already taken.
    """
    session = _lock_session(session)
    if session.status != TrainingSession.Status.SCHEDULED:
        raise ValidationError(_("只能修改已安排的场次。"))
    check_session(
        course=session.course,
        organizer=session.organizer,
        starts_at=starts_at,
        ends_at=ends_at,
        place=place,
        online_url=online_url,
        capacity=capacity,
    )
    taken = Enrollment.objects.filter(session=session, status__in=Enrollment.ACTIVE_STATUSES).count()
    if capacity < taken:
        raise ValidationError({"capacity": _("已有 %(taken)d 人报名，名额不能少于报名人数。") % {"taken": taken}})
    session.starts_at, session.ends_at, session.capacity = starts_at, ends_at, capacity
    session.place, session.online_url = place.strip(), online_url.strip()
    session.save(update_fields=["starts_at", "ends_at", "capacity", "place", "online_url"])
    return session


@transaction.atomic
def session_cancel(*, session: TrainingSession, actor: Actor, reason: str = "") -> TrainingSession:
    """Cancel a scheduled session: its enrollments are cancelled and each enrolled member gets an in-app message.

    Lock: the session row, then (by the UPDATE) its enrollments. Invariants: only a scheduled session is cancelled;
    one message per enrollment however often this runs (dedupe key), written in the same transaction.
    """
    session = _lock_session(session)
    if session.status == TrainingSession.Status.CANCELLED:
        return session
    if session.status != TrainingSession.Status.SCHEDULED:
        raise ValidationError(_("已结束的场次不能取消。"))
    enrolled = list(
        Enrollment.objects.select_for_update(of=("self",))
        .filter(session=session, status=Enrollment.Status.ENROLLED)
        .select_related("member__user")
        .order_by("pk")
    )
    now = timezone.now()
    Enrollment.objects.filter(pk__in=[e.pk for e in enrolled]).update(
        status=Enrollment.Status.CANCELLED, cancelled_at=now
    )
    session.status = TrainingSession.Status.CANCELLED
    session.cancel_reason = reason.strip()
    session.save(update_fields=["status", "cancel_reason"])
    starts = timezone.localtime(session.starts_at)
    for enrollment in enrolled:
        notify(
            template="training_session_cancelled",
            channel="inapp",
            user=enrollment.member.user,
            dedupe_key=f"training-session-cancelled:{enrollment.pk}",
            context={
                "name": enrollment.member.name,
                "course": session.course.title,
                "starts_at": starts.strftime("%Y-%m-%d %H:%M"),
                "reason": session.cancel_reason,
            },
        )
    return session


# --- Enrollment -----------------------------------------------------------------------------------------------


@transaction.atomic
def enrollment_create(*, session: TrainingSession, member: Member) -> Enrollment:
    """Give `member` a seat in `session`.

    Lock: the session row (SELECT … FOR UPDATE); the seats are counted under it, so concurrent enrollments are
    serialised and the capacity is never exceeded. Invariants: at most `capacity` enrollments hold a seat; one
    active enrollment per member and session (also a partial UNIQUE); only active members, scheduled sessions that
    have not started, and sessions open to the member's branch.
    """
    session = _lock_session(session)
    check_enrollment(session=session, member=member)
    if Enrollment.objects.filter(session=session, member=member, status__in=Enrollment.ACTIVE_STATUSES).exists():
        raise ValidationError(_("您已报名该场次。"))
    taken = Enrollment.objects.filter(session=session, status__in=Enrollment.ACTIVE_STATUSES).count()
    if taken >= session.capacity:
        raise ValidationError(_("该场次名额已满。"))
    return Enrollment.objects.create(session=session, member=member)


@transaction.atomic
def enrollment_cancel(*, enrollment: Enrollment, actor: Actor) -> Enrollment:
    """Give the seat back before the session starts.

    Locks: the session row, then the enrollment (the order every seat-changing service uses). Invariant: only an
    enrollment still `enrolled` in a session that has not started is cancelled; cancelling twice is a no-op.
    """
    _lock_session(enrollment.session)
    enrollment = Enrollment.objects.select_for_update(of=("self",)).select_related("session").get(pk=enrollment.pk)
    if enrollment.status == Enrollment.Status.CANCELLED:
        return enrollment
    if enrollment.status != Enrollment.Status.ENROLLED:
        raise ValidationError(_("已记录考勤，不能取消报名。"))
    if enrollment.session.starts_at <= timezone.now():
        raise ValidationError(_("场次已经开始，不能取消报名。"))
    enrollment.status = Enrollment.Status.CANCELLED
    enrollment.cancelled_at = timezone.now()
    enrollment.save(update_fields=["status", "cancelled_at"])
    return enrollment


# --- Attendance and records -----------------------------------------------------------------------------------


def _award(record: TrainingRecord, actor: Actor) -> None:
    """Points of the `training_hour` rule for the record's hours, as incentives' rule table says: one award per
    record however often this runs (the source's first key is the record's id)."""
    incentives_services.points_source_sync(source=selectors.training_points_source(record), actor=actor)


def _ids(values: Iterable, field: str) -> set[int]:
    try:
        return {int(v) for v in values}
    except (TypeError, ValueError):
        raise ValidationError({field: _("名单中有无效的党员。")}) from None


@transaction.atomic
def attendance_record(
    *, session: TrainingSession, attended: list[int], absent: list[int], actor: Actor
) -> list[TrainingRecord]:
    """Mark attendance of a session in bulk: each attendee gets a TrainingRecord with the course's hours and the
    points of the `training_hour` rule; absentees are marked absent. Returns the attendees' records.

    Lock: the session row, held to the end, so two submissions of the same sheet run one after the other.
    Idempotent: submitting again finds each attendee's record (UNIQUE member + session) and the award finds its
    ledger entry (idempotency key `training-record:<id>`) — one record and one entry per attendee, ever.
    Invariants: only members holding a seat are marked; nobody is both attended and absent; an attendee with a
    record is not turned absent (their hours and points stand); attendance opens on the session's day.
    """
    session = _lock_session(session)
    attended_ids, absent_ids = _ids(attended, "attended"), _ids(absent, "absent")
    if session.status == TrainingSession.Status.CANCELLED:
        raise ValidationError(_("该场次已取消，不能记录考勤。"))
    today = timezone.localdate()
    if timezone.localdate(session.starts_at) > today:
        raise ValidationError(_("培训当天起才能记录考勤。"))
    if attended_ids & absent_ids:
        raise ValidationError(_("同一名党员不能既到场又缺席。"))
    enrollments = {
        e.member_id: e
        for e in Enrollment.objects.select_for_update(of=("self",))
        .filter(session=session, status__in=Enrollment.ACTIVE_STATUSES)
        .select_related("member")
    }
    unknown = (attended_ids | absent_ids) - set(enrollments)
    if unknown:
        raise ValidationError(_("只能为已报名的党员记录考勤。"))
    turned_absent = [enrollments[i] for i in absent_ids if enrollments[i].status == Enrollment.Status.ATTENDED]
    if turned_absent:
        raise ValidationError(
            _("%(names)s 已记录学时，不能改为缺席。") % {"names": "、".join(e.member.name for e in turned_absent)}
        )

    now = timezone.now()
    Enrollment.objects.filter(session=session, member_id__in=absent_ids).exclude(
        status=Enrollment.Status.CANCELLED
    ).update(status=Enrollment.Status.ABSENT, marked_at=now)
    Enrollment.objects.filter(session=session, member_id__in=attended_ids).exclude(
        status=Enrollment.Status.CANCELLED
    ).update(status=Enrollment.Status.ATTENDED, marked_at=now)

    completed_on = timezone.localdate(session.starts_at)
    existing = {r.member_id: r for r in TrainingRecord.objects.filter(session=session, member_id__in=attended_ids)}
    records = []
    for member_id in sorted(attended_ids):
        record = existing.get(member_id)
        if record is None:
            record = TrainingRecord.objects.create(
                member=enrollments[member_id].member,
                course=session.course,
                session=session,
                hours=session.course.hours,
                completed_on=completed_on,
                expires_on=expiry_for(session.course, completed_on),
                recorded_by=actor,
            )
        else:
            record.member = enrollments[member_id].member
        record.course = session.course
        _award(record, actor)
        records.append(record)
    if session.status == TrainingSession.Status.SCHEDULED and (attended_ids or absent_ids):
        session.status = TrainingSession.Status.DONE
        session.save(update_fields=["status"])
    return records


@transaction.atomic
def external_training_record(
    *,
    member: Member,
    course: Course,
    hours: object,
    completed_on: date,
    evidence: File | None,
    actor: Actor,
    score: Decimal | None = None,
    provider: str = "",
    note: str = "",
) -> TrainingRecord:
    """Record a training the member took outside the platform (上级党校, 业务部门, …), with evidence, and award its
    points like an attended session.

    No lock: a new row. Invariants: hours > 0; completed on or before today; an evidence file that passes
    `validate_evidence_file` (also a CHECK that external records have one); the expiry follows the course's validity.
    """
    hours = check_external_training(member=member, hours=hours, completed_on=completed_on, score=score)
    if not evidence:
        raise ValidationError({"evidence": _("请上传证明材料。")})
    try:
        validate_evidence_file(evidence)
        evidence = stored_copy(evidence)  # a scan's EXIF (GPS) is dropped; a random name
    except ValidationError as exc:
        raise ValidationError({"evidence": exc.messages}) from None
    record = TrainingRecord(
        member=member,
        course=course,
        hours=hours,
        score=score,
        completed_on=completed_on,
        expires_on=expiry_for(course, completed_on),
        provider=provider.strip(),
        note=note.strip(),
        evidence=evidence,
        recorded_by=actor,
    )
    record.save()
    _award(record, actor)
    return record


# --- Requirements ---------------------------------------------------------------------------------------------


@transaction.atomic
def requirement_set(
    *,
    organization: Organization,
    year: int,
    total_hours: Decimal,
    actor: Actor,
    theory_hours: Decimal = Decimal(0),
    post_hours: Decimal = Decimal(0),
    business_hours: Decimal = Decimal(0),
    practical_hours: Decimal = Decimal(0),
) -> AnnualRequirement:
    """Set an organization's annual requirement, creating or replacing the one for that year.

    Lock: the existing row, if any (SELECT … FOR UPDATE); a concurrent first insert loses on the UNIQUE
    (organization, year) and is retried as an update. Invariants: no negative hours; the per-type minimums add up
    to at most the total (also CHECKs).
    """
    minimums = {
        "theory_hours": theory_hours,
        "post_hours": post_hours,
        "business_hours": business_hours,
        "practical_hours": practical_hours,
    }
    check_requirement(total_hours=total_hours, minimums=minimums, year=year)
    values = {"total_hours": total_hours, **minimums}
    requirement = AnnualRequirement.objects.select_for_update().filter(organization=organization, year=year).first()
    if requirement is None:
        try:
            with transaction.atomic():
                return AnnualRequirement.objects.create(organization=organization, year=year, **values)
        except IntegrityError:
            requirement = AnnualRequirement.objects.select_for_update().get(organization=organization, year=year)
    for name, value in values.items():
        setattr(requirement, name, value)
    requirement.save()
    return requirement


# --- Scheduled messages (training/tasks.py; schedules in volunteer_platform/schedules.py) ----------------------

SHORTFALL_FROM_MONTH = 10  # the annual shortfall is announced from October, while there is time to catch up


def session_reminders_plan(*, now: datetime | None = None) -> int:
    """Fan out the T-24 h session reminders: one chunk task per 500 seats of `selectors.enrollments_to_remind`;
    returns the number of chunks. Writes nothing itself; a rerun plans the same seats and writes nothing new."""
    return fanout.plan("training.tasks.send_session_reminders", selectors.enrollments_to_remind(now))


def session_reminders_send(*, enrollment_ids: list[int], now: datetime | None = None) -> int:
    """Remind the member of each seat in `enrollment_ids` that is still to be reminded (the selection is checked
    again: a seat cancelled or a session moved since the plan is skipped); returns the rows written.

    In-app always; email and SMS as the member chose for the `training` kind. Dedupe key: session, member and the
    session's start time, so a rerun writes nothing, while a session moved to another time is reminded again."""
    seats = (
        selectors.enrollments_to_remind(now)
        .filter(pk__in=enrollment_ids)
        .select_related("session__course", "member__user")
        .order_by("pk")
    )
    messages = []
    for seat in seats:
        session, member = seat.session, seat.member
        starts = timezone.localtime(session.starts_at)
        messages += user_messages(
            user_id=member.user_id,
            kind="training",
            template="training_session_reminder",
            dedupe_key=f"training:session-reminder:{session.pk}:{member.pk}:{starts:%Y%m%d%H%M}",
            context={
                "name": member.name,
                "course": session.course.title,
                "starts_at": starts.strftime("%Y-%m-%d %H:%M"),
                "place": session.place,
                "online_url": session.online_url,
            },
            has_email=bool(member.user.email),
            phone=member.phone,
        )
    return notify_many(messages)


def training_shortfall_plan(*, today: date | None = None) -> int:
    """From October, fan out the annual shortfall notice over every active member (chunks of 500; each chunk keeps
    those below their requirement). Before October it plans nothing. The year and month travel with the chunks,
    so a chunk that runs after midnight still belongs to the month it was planned in. Returns the chunks."""
    today = today or timezone.localdate()
    if today.month < SHORTFALL_FROM_MONTH:
        return 0
    return fanout.plan(
        "training.tasks.send_training_shortfall",
        Member.objects.filter(status=Member.Status.ACTIVE),
        kwargs={"year": today.year, "month": today.month},
    )


def training_shortfall_send(*, member_ids: list[int], year: int, month: int) -> int:
    """Tell each of these members who is below their annual requirement for `year` what is missing, once per
    month (dedupe key: year, month, member); returns the rows written. Kind `training`."""
    messages = []
    for shortfall in selectors.training_shortfalls(member_ids, year):
        member = shortfall.member
        messages += user_messages(
            user_id=member.user_id,
            kind="training",
            template="training_shortfall",
            dedupe_key=f"training:shortfall:{year}-{month:02d}:{member.pk}",
            context={
                "name": member.name,
                "year": year,
                "hours": plain_decimal(shortfall.hours),
                "required": plain_decimal(shortfall.requirement.total_hours),
                "missing": plain_decimal(shortfall.missing_total),
                "missing_by_type": [
                    {"type": label, "hours": plain_decimal(h)} for label, h in shortfall.missing_by_type
                ],
            },
            has_email=bool(member.user.email),
            phone=member.phone,
        )
    return notify_many(messages)

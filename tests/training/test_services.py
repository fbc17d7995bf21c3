"""The training services: seats, cancellations, attendance and records, external training, requirements."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.utils import timezone

from incentives.models import LedgerEntry
from members import services as member_services
from notifications.models import Notification
from notifications.rendering import render_message
from tests.members.factories import MemberFactory
from tests.training.conftest import move_to_past
from tests.training.factories import CourseFactory, SessionFactory
from training import services
from training.models import AnnualRequirement, CourseMaterial, Enrollment, TrainingRecord, TrainingSession

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def evidence(name="证书.pdf", content=PDF, content_type="application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)


# --- Helpers --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 3, 15), 12, date(2026, 3, 15)),
        (date(2025, 11, 30), 3, date(2026, 2, 28)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_last_one(start, months, expected):
    assert services.add_months(start, months) == expected


# --- Sessions -------------------------------------------------------------------------------------------------


def test_a_branch_cannot_schedule_a_course_of_another_branch(org_tree):
    course = CourseFactory(organization=org_tree.branch_b)
    with pytest.raises(ValidationError) as exc:
        SessionFactory(course=course, organizer=org_tree.branch_a)
    assert "course" in exc.value.message_dict
    assert not TrainingSession.objects.exists()


def test_a_branch_schedules_a_course_of_the_street(org_tree):
    course = CourseFactory(organization=org_tree.street)
    assert SessionFactory(course=course, organizer=org_tree.branch_a).organizer == org_tree.branch_a


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"capacity": 0}, "capacity"),
        ({"place": "", "online_url": ""}, "place"),
        ({"ends_at": None}, "ends_at"),
    ],
)
def test_session_rules(org_tree, change, field):
    course = CourseFactory()
    starts = timezone.now() + timedelta(days=2)
    values = {"starts_at": starts, "ends_at": starts + timedelta(hours=2), "capacity": 10, "place": "会议室"}
    values.update(change)
    if values["ends_at"] is None:
        values["ends_at"] = starts
    with pytest.raises(ValidationError) as exc:
        services.session_schedule(course=course, organizer=org_tree.branch_a, actor=None, **values)
    assert field in exc.value.message_dict


def test_capacity_cannot_drop_below_the_enrollments(org_tree, member_a):
    session = SessionFactory(organizer=org_tree.branch_a, capacity=2)
    services.enrollment_create(session=session, member=member_a)
    services.enrollment_create(session=session, member=MemberFactory(organization=org_tree.branch_a))
    with pytest.raises(ValidationError) as exc:
        services.session_update(
            session=session,
            actor=None,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            capacity=1,
            place=session.place,
        )
    assert "capacity" in exc.value.message_dict
    session.refresh_from_db()
    assert session.capacity == 2


def test_cancelling_a_session_tells_each_enrolled_member_once(org_tree, member_a, secretary_a):
    session = SessionFactory(organizer=org_tree.branch_a)
    other = MemberFactory(organization=org_tree.branch_a)
    enrolled = services.enrollment_create(session=session, member=member_a)
    gone = services.enrollment_create(session=session, member=other)
    services.enrollment_cancel(enrollment=gone, actor=other.user)

    services.session_cancel(session=session, actor=secretary_a, reason="场地临时维修")
    services.session_cancel(session=session, actor=secretary_a, reason="场地临时维修")

    enrolled.refresh_from_db()
    assert enrolled.status == Enrollment.Status.CANCELLED
    messages = Notification.objects.filter(template="training_session_cancelled")
    assert [n.recipient_user for n in messages] == [member_a.user]
    message = render_message(messages.get())
    assert message.subject == f"培训场次已取消：{session.course.title}"
    assert "取消原因：场地临时维修" in message.body
    with pytest.raises(ValidationError):
        services.enrollment_create(session=session, member=other)


# --- Enrollment -----------------------------------------------------------------------------------------------


def test_enrollment_takes_a_seat_until_the_session_is_full(org_tree, member_a):
    session = SessionFactory(organizer=org_tree.branch_a, capacity=1)
    services.enrollment_create(session=session, member=member_a)
    with pytest.raises(ValidationError, match="名额已满"):
        services.enrollment_create(session=session, member=MemberFactory(organization=org_tree.branch_a))
    assert Enrollment.objects.count() == 1


def test_enrolling_twice_is_refused_and_the_database_agrees(org_tree, member_a):
    session = SessionFactory(organizer=org_tree.branch_a)
    services.enrollment_create(session=session, member=member_a)
    with pytest.raises(ValidationError, match="已报名"):
        services.enrollment_create(session=session, member=member_a)
    with pytest.raises(IntegrityError):
        Enrollment.objects.create(session=session, member=member_a)


def test_a_cancelled_seat_can_be_taken_again(org_tree, member_a):
    session = SessionFactory(organizer=org_tree.branch_a, capacity=1)
    first = services.enrollment_create(session=session, member=member_a)
    services.enrollment_cancel(enrollment=first, actor=member_a.user)
    services.enrollment_cancel(enrollment=first, actor=member_a.user)  # twice: a no-op
    other = MemberFactory(organization=org_tree.branch_a)
    services.enrollment_create(session=session, member=other)
    assert Enrollment.objects.filter(status=Enrollment.Status.ENROLLED).get().member == other


@pytest.mark.parametrize("case", ["other_branch", "started", "inactive", "cancelled", "course_closed"])
def test_who_may_enroll(clock, org_tree, member_a, member_b, case):
    session = SessionFactory(organizer=org_tree.branch_a)
    member = member_a
    if case == "other_branch":
        member = member_b
    elif case == "started":
        move_to_past(clock, session)
    elif case == "inactive":
        member_services.member_deactivate(member=member_a, actor=None, reason="外出务工")
        member.refresh_from_db()
    elif case == "cancelled":
        services.session_cancel(session=session, actor=None)
    elif case == "course_closed":
        session.course.active = False
        services.course_save(course=session.course, actor=None)
    with pytest.raises(ValidationError):
        services.enrollment_create(session=session, member=member)
    assert not Enrollment.objects.exists()


def test_members_of_every_branch_below_enroll_in_a_street_session(org_tree, member_a, member_b):
    session = SessionFactory(organizer=org_tree.street)
    services.enrollment_create(session=session, member=member_a)
    services.enrollment_create(session=session, member=member_b)
    assert Enrollment.objects.filter(session=session).count() == 2


def test_no_cancellation_once_the_session_has_started(clock, org_tree, member_a):
    session = SessionFactory(organizer=org_tree.branch_a)
    enrollment = services.enrollment_create(session=session, member=member_a)
    move_to_past(clock, session)
    with pytest.raises(ValidationError):
        services.enrollment_cancel(enrollment=enrollment, actor=member_a.user)


# --- Attendance -----------------------------------------------------------------------------------------------


@pytest.fixture
def held_session(clock, org_tree, member_a):
    """A six-seat session of a 3-hour course valid for 12 months, with member A and two others enrolled, now over."""
    course = CourseFactory(hours=Decimal("3"), validity_months=12)
    session = SessionFactory(course=course, organizer=org_tree.branch_a, capacity=6)
    members = [member_a, *MemberFactory.create_batch(2, organization=org_tree.branch_a)]
    for member in members:
        services.enrollment_create(session=session, member=member)
    move_to_past(clock, session)
    return session, members


def test_attendance_creates_records_with_the_course_hours_and_expiry(held_session, secretary_a):
    session, (present, also_present, missing) = held_session
    records = services.attendance_record(
        session=session, attended=[present.pk, also_present.pk], absent=[missing.pk], actor=secretary_a
    )
    assert {r.member for r in records} == {present, also_present}
    record = TrainingRecord.objects.get(member=present)
    completed = timezone.localdate(session.starts_at)
    assert (record.hours, record.completed_on, record.course) == (Decimal("3.00"), completed, session.course)
    assert record.expires_on == services.add_months(completed, 12)
    assert record.recorded_by == secretary_a
    statuses = dict(Enrollment.objects.values_list("member_id", "status"))
    assert statuses == {present.pk: "attended", also_present.pk: "attended", missing.pk: "absent"}
    session.refresh_from_db()
    assert session.status == TrainingSession.Status.DONE


def test_attendance_submitted_twice_makes_one_record(held_session, secretary_a):
    session, (present, *_others) = held_session
    first = services.attendance_record(session=session, attended=[present.pk], absent=[], actor=secretary_a)
    again = services.attendance_record(session=session, attended=[present.pk], absent=[], actor=secretary_a)
    assert [r.pk for r in first] == [r.pk for r in again]
    assert TrainingRecord.objects.filter(member=present).count() == 1


def test_attendance_submitted_twice_makes_one_ledger_entry(held_session, secretary_a):
    session, (present, also_present, _missing) = held_session
    for _ in range(3):
        services.attendance_record(
            session=session, attended=[present.pk, also_present.pk], absent=[], actor=secretary_a
        )
    record = TrainingRecord.objects.get(member=present)
    entry = LedgerEntry.objects.get(member=present)
    # The default training_hour rule: 5 points per hour; the course has 3 hours.
    assert (entry.points, entry.rule.code, entry.quantity) == (15, "training_hour", Decimal("3.00"))
    assert entry.idempotency_key == f"training-record:{record.pk}"
    assert entry.source_ref == f"training-session:{session.pk}"
    assert entry.actor == secretary_a
    assert LedgerEntry.objects.count() == 2


def test_the_database_refuses_a_second_record_for_one_session(held_session, secretary_a):
    session, (present, *_others) = held_session
    services.attendance_record(session=session, attended=[present.pk], absent=[], actor=secretary_a)
    with pytest.raises(IntegrityError):
        TrainingRecord.objects.create(
            member=present, course=session.course, session=session, hours=1, completed_on=timezone.localdate()
        )


@pytest.mark.parametrize("case", ["not_enrolled", "both", "future", "cancelled_session", "junk"])
def test_bad_attendance_saves_nothing(held_session, secretary_a, member_b, case):
    session, (present, *_others) = held_session
    attended, absent = [present.pk], []
    if case == "not_enrolled":
        attended.append(member_b.pk)
    elif case == "both":
        absent = [present.pk]
    elif case == "junk":
        attended = ["abc"]
    elif case == "future":
        session = SessionFactory(organizer=session.organizer)
        services.enrollment_create(session=session, member=present)
    elif case == "cancelled_session":
        TrainingSession.objects.filter(pk=session.pk).update(status=TrainingSession.Status.CANCELLED)
    with pytest.raises(ValidationError):
        services.attendance_record(session=session, attended=attended, absent=absent, actor=secretary_a)
    assert not TrainingRecord.objects.exists()
    assert not LedgerEntry.objects.exists()
    assert not Enrollment.objects.filter(status__in=["attended", "absent"]).exists()


def test_an_attendee_with_a_record_is_not_turned_absent(held_session, secretary_a):
    session, (present, *_others) = held_session
    services.attendance_record(session=session, attended=[present.pk], absent=[], actor=secretary_a)
    with pytest.raises(ValidationError, match="不能改为缺席"):
        services.attendance_record(session=session, attended=[], absent=[present.pk], actor=secretary_a)
    assert Enrollment.objects.get(member=present).status == Enrollment.Status.ATTENDED


def test_absent_can_be_corrected_to_attended(held_session, secretary_a):
    session, (present, *_others) = held_session
    services.attendance_record(session=session, attended=[], absent=[present.pk], actor=secretary_a)
    services.attendance_record(session=session, attended=[present.pk], absent=[], actor=secretary_a)
    assert TrainingRecord.objects.filter(member=present).count() == 1


# --- External training ----------------------------------------------------------------------------------------


def test_external_training_is_recorded_with_evidence(member_a, secretary_a):
    course = CourseFactory(validity_months=24)
    done = timezone.localdate() - timedelta(days=3)
    record = services.external_training_record(
        member=member_a,
        course=course,
        hours="4.5",
        completed_on=done,
        evidence=evidence(),
        actor=secretary_a,
        score=Decimal("92"),
        provider="区委党校",
    )
    assert record.session is None
    assert record.hours == Decimal("4.50")
    entry = LedgerEntry.objects.get(member=member_a)
    assert (entry.points, entry.idempotency_key) == (23, f"training-record:{record.pk}")  # 4.5 × 5, half up
    assert record.expires_on == services.add_months(done, 24)
    assert record.evidence.name.endswith(".pdf")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hours": "0"}, "hours"),
        ({"hours": "abc"}, "hours"),
        ({"completed_on": lambda today: today + timedelta(days=1)}, "completed_on"),
        ({"score": Decimal("101")}, "score"),
        ({"evidence": None}, "evidence"),
        ({"evidence": evidence("证书.exe", b"MZ\x90\x00")}, "evidence"),
        ({"evidence": evidence("证书.pdf", b"<html><script>alert(1)</script></html>")}, "evidence"),
        ({"evidence": evidence("证书.png", b"\x89PNG\r\n\x1a\n" + b"x" * (10 * 1024 * 1024))}, "evidence"),
    ],
)
def test_bad_external_training_saves_nothing(member_a, secretary_a, change, field):
    values = {
        "member": member_a,
        "course": CourseFactory(),
        "hours": "2",
        "completed_on": timezone.localdate(),
        "evidence": evidence(),
        "actor": secretary_a,
    }
    values.update({k: v(timezone.localdate()) if callable(v) else v for k, v in change.items()})
    with pytest.raises(ValidationError) as exc:
        services.external_training_record(**values)
    assert field in exc.value.message_dict
    assert not TrainingRecord.objects.exists()
    assert not LedgerEntry.objects.exists()


# --- Materials and requirements -------------------------------------------------------------------------------


def test_a_material_is_a_file_or_a_link(db):
    course = CourseFactory()
    with pytest.raises(ValidationError):
        services.course_material_save(material=CourseMaterial(course=course, title="讲义"), actor=None)
    with pytest.raises(ValidationError):
        services.course_material_save(
            material=CourseMaterial(course=course, title="讲义", url="https://example.com/a", file=evidence()),
            actor=None,
        )
    with pytest.raises(ValidationError) as exc:
        services.course_material_save(
            material=CourseMaterial(course=course, title="讲义", file=evidence("讲义.html", b"<html></html>")),
            actor=None,
        )
    assert "file" in exc.value.message_dict
    services.course_material_save(material=CourseMaterial(course=course, title="讲义", file=evidence()), actor=None)
    services.course_material_save(
        material=CourseMaterial(course=course, title="视频", url="https://example.com/v"), actor=None
    )
    assert course.materials.count() == 2


def test_requirement_set_creates_then_replaces(org_tree, this_year):
    services.requirement_set(organization=org_tree.street, year=this_year, total_hours=Decimal(20), actor=None)
    services.requirement_set(
        organization=org_tree.street,
        year=this_year,
        total_hours=Decimal(24),
        theory_hours=Decimal(8),
        post_hours=Decimal(4),
        actor=None,
    )
    requirement = AnnualRequirement.objects.get()
    assert (requirement.total_hours, requirement.theory_hours, requirement.post_hours) == (24, 8, 4)


@pytest.mark.parametrize(
    "values",
    [
        {"total_hours": Decimal(10), "theory_hours": Decimal(6), "practical_hours": Decimal(5)},
        {"total_hours": Decimal(-1)},
        {"total_hours": Decimal(10), "year": 1999},
    ],
)
def test_bad_requirements_are_refused(org_tree, this_year, values):
    values = {"year": this_year, **values}
    with pytest.raises(ValidationError):
        services.requirement_set(organization=org_tree.street, actor=None, **values)
    assert not AnnualRequirement.objects.exists()


def test_the_database_refuses_minimums_above_the_total(org_tree, this_year):
    with pytest.raises(IntegrityError):
        AnnualRequirement.objects.create(
            organization=org_tree.street, year=this_year, total_hours=5, theory_hours=3, business_hours=3
        )

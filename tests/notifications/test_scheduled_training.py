"""Training's scheduled messages: the T-24 h session reminder and the annual shortfall from October."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from members import services as member_services
from notifications.models import Notification
from notifications.rendering import render_message
from notifications.services import preferences_save
from tests.training.factories import CourseFactory, SessionFactory
from training import services, tasks
from training.models import Course

REMINDER = "training_session_reminder"
SHORTFALL = "training_shortfall"


def rows(template):
    """(user id, channel) of the rows of `template`, as a set."""
    return set(Notification.objects.filter(template=template).values_list("recipient_user", "channel"))


def reminded(template=REMINDER):
    """(member name, session id) pairs reminded, read from the rows' dedupe keys and contexts."""
    return {
        (n.context["name"], int(n.dedupe_key.split(":")[2]))
        for n in Notification.objects.filter(template=template, channel="inapp")
    }


# --- Session reminders (T-24 h) ---------------------------------------------------------------------------------


@pytest.fixture
def sessions(org_tree, clock):
    """Sessions of the street (open to both branches), starting at various distances from now (frozen at noon)."""
    now = clock.now

    def at(delta, **kwargs):
        return SessionFactory(
            organizer=org_tree.street, starts_at=now + delta, ends_at=now + delta + timedelta(hours=2)
        )

    return {
        "in_23h": at(timedelta(hours=23)),
        "at_24h": at(timedelta(hours=24)),  # the edge: exactly 24 h ahead is inside the window
        "after_24h": at(timedelta(hours=24, minutes=1)),
        "in_1h": at(timedelta(hours=1)),
    }


def test_reminds_each_enrolled_member_once_inside_the_24h_window(
    sessions, member_a, member_b, clock, django_capture_on_commit_callbacks, sms_outbox, mailoutbox
):
    for session in sessions.values():
        services.enrollment_create(session=session, member=member_a)
    services.enrollment_create(session=sessions["in_23h"], member=member_b)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.plan_session_reminders.delay()

    s = sessions
    assert reminded() == {
        (member_a.name, s["in_23h"].pk),
        (member_a.name, s["at_24h"].pk),
        (member_a.name, s["in_1h"].pk),
        (member_b.name, s["in_23h"].pk),
    }
    # Training's default channels: in-app, email and SMS, all delivered.
    assert Notification.objects.filter(template=REMINDER).count() == 4 * 3
    assert set(Notification.objects.filter(template=REMINDER).values_list("status", flat=True)) == {"sent"}
    assert len(sms_outbox) == 4 and len(mailoutbox) == 4
    sms = next(m for m in sms_outbox if m.phone == member_b.phone)
    starts = timezone.localtime(s["in_23h"].starts_at).strftime("%Y-%m-%d %H:%M")
    assert s["in_23h"].course.title in sms.text and starts in sms.text and "党群服务中心二楼会议室" in sms.text

    # Run again, and again an hour later: nothing new for those already reminded.
    with django_capture_on_commit_callbacks(execute=True):
        tasks.plan_session_reminders.delay()
    clock.advance(60 * 60)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.plan_session_reminders.delay()
    assert (member_a.name, s["after_24h"].pk) in reminded()  # it has entered the window now
    assert Notification.objects.filter(template=REMINDER).count() == 5 * 3
    assert len(sms_outbox) == 5


def test_nobody_is_reminded_of_a_cancelled_seat_or_session_a_started_session_or_as_an_inactive_member(
    sessions, member_a, member_b, org_tree, clock
):
    seat = services.enrollment_create(session=sessions["in_23h"], member=member_a)
    services.enrollment_cancel(enrollment=seat, actor=member_a.user)
    services.enrollment_create(session=sessions["at_24h"], member=member_a)
    services.session_cancel(session=sessions["at_24h"], actor=None, reason="场地检修")
    services.enrollment_create(session=sessions["in_1h"], member=member_a)
    services.enrollment_create(session=sessions["after_24h"], member=member_b)
    member_services.member_deactivate(member=member_b, actor=None, reason="外出务工")
    clock.advance(2 * 60 * 60)  # the one-hour session has started; the last one is inside the window now

    tasks.plan_session_reminders.delay()

    assert reminded() == set()


def test_a_session_moved_to_another_time_is_reminded_again(sessions, member_a, clock):
    session = sessions["in_23h"]
    services.enrollment_create(session=session, member=member_a)
    tasks.plan_session_reminders.delay()

    later = session.starts_at + timedelta(hours=1)
    services.session_update(
        session=session, actor=None, starts_at=later, ends_at=later + timedelta(hours=2), capacity=30, place="社区书屋"
    )
    tasks.plan_session_reminders.delay()

    texts = [n.context["place"] for n in Notification.objects.filter(template=REMINDER, channel="inapp")]
    assert sorted(texts) == ["党群服务中心二楼会议室", "社区书屋"]


def test_channels_follow_the_members_preferences(sessions, member_a, member_b):
    preferences_save(user=member_a.user, choices={"training": []})
    preferences_save(user=member_b.user, choices={"training": ["sms"]})
    for member in (member_a, member_b):
        services.enrollment_create(session=sessions["in_23h"], member=member)

    tasks.plan_session_reminders.delay()

    assert rows(REMINDER) == {
        (member_a.user_id, "inapp"),
        (member_b.user_id, "inapp"),
        (member_b.user_id, "sms"),
    }


def test_an_online_session_has_its_link_in_the_message(org_tree, member_a, clock):
    starts = clock.now + timedelta(hours=5)
    session = SessionFactory(
        organizer=org_tree.street,
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
        place="",
        online_url="https://meeting.example.cn/123",
    )
    services.enrollment_create(session=session, member=member_a)

    tasks.plan_session_reminders.delay()

    sms = render_message(Notification.objects.get(template=REMINDER, channel="sms")).body
    assert "线上培训" in sms
    email = render_message(Notification.objects.get(template=REMINDER, channel="email")).body
    assert "线上链接：https://meeting.example.cn/123" in email
    assert "地点" not in email


# --- Annual shortfall (from October) ----------------------------------------------------------------------------

PDF = b"%PDF-1.4\n%%EOF\n"


def trained(member, course, hours, on):
    services.external_training_record(
        member=member,
        course=course,
        hours=Decimal(hours),
        completed_on=on,
        evidence=SimpleUploadedFile("证书.pdf", PDF),
        actor=None,
    )


@pytest.fixture
def october(clock):
    clock.now = datetime(clock.now.year, 10, 1, 9, 0, tzinfo=timezone.get_current_timezone())
    return clock


@pytest.fixture
def requirement(org_tree, october):
    """The street asks 12 hours a year, at least 4 of theory; branch B sets its own 6 hours, nothing per type."""
    year = october.now.year
    services.requirement_set(
        organization=org_tree.street, year=year, total_hours=Decimal(12), theory_hours=Decimal(4), actor=None
    )
    services.requirement_set(organization=org_tree.branch_b, year=year, total_hours=Decimal(6), actor=None)
    return year


def test_shortfall_reaches_exactly_those_below_their_requirement(requirement, org_tree, member_a, member_b, october):
    from tests.members.factories import MemberFactory

    year = requirement
    theory = CourseFactory(type=Course.Type.THEORY)
    practical = CourseFactory(type=Course.Type.PRACTICAL)
    jan = october.now.date().replace(month=1, day=10)
    # member_a (branch A, street rule 12 h / 4 theory): 10 practical → 2 h short in total, 4 h short of theory.
    trained(member_a, practical, 10, jan)
    # exact: 4 theory + 8 practical = 12 → meets it exactly, not reminded.
    exact = MemberFactory(name="孙满", organization=org_tree.branch_a)
    trained(exact, theory, 4, jan)
    trained(exact, practical, 8, jan)
    # member_b (branch B's own rule, 6 h): 6 h of last year and 5 h this year → short.
    trained(member_b, practical, 6, jan.replace(year=year - 1))
    trained(member_b, practical, 5, jan)
    # total met, type missing: 12 practical, 0 theory → reminded for theory only.
    typed = MemberFactory(name="吴缺", organization=org_tree.branch_a)
    trained(typed, practical, 12, jan)
    # retired from service: not reminded.
    exempt = MemberFactory(name="郑免", organization=org_tree.branch_a)
    member_services.member_deactivate(member=exempt, actor=None, status="exempt", reason="年满70岁")

    assert tasks.plan_training_shortfall.delay().get() == 1

    by_name = {n.context["name"]: n.context for n in Notification.objects.filter(template=SHORTFALL, channel="inapp")}
    assert set(by_name) == {member_a.name, member_b.name, "吴缺"}
    assert by_name[member_a.name] == {
        "name": member_a.name,
        "year": year,
        "hours": "10",
        "required": "12",
        "missing": "2",
        "missing_by_type": [{"type": "理论培训", "hours": "4"}],
    }
    assert (by_name[member_b.name]["missing"], by_name[member_b.name]["missing_by_type"]) == ("1", [])
    assert (by_name["吴缺"]["missing"], by_name["吴缺"]["missing_by_type"]) == (
        "0",
        [{"type": "理论培训", "hours": "4"}],
    )
    email = Notification.objects.get(template=SHORTFALL, channel="email", recipient_user=member_a.user)
    text = render_message(email).body
    assert "还差 2 学时" in text and "理论培训还差 4 学时" in text


def test_shortfall_is_sent_once_a_month(requirement, member_a, october):
    tasks.plan_training_shortfall.delay()
    tasks.plan_training_shortfall.delay()
    assert Notification.objects.filter(template=SHORTFALL, channel="inapp").count() == 1

    october.now += timedelta(days=31)  # November: a new reminder
    tasks.plan_training_shortfall.delay()
    assert Notification.objects.filter(template=SHORTFALL, channel="inapp").count() == 2


def test_no_shortfall_notice_before_october_or_without_a_requirement(org_tree, member_a, october):
    year = october.now.year
    assert services.training_shortfall_plan(today=october.now.date().replace(month=9, day=30)) == 0

    tasks.plan_training_shortfall.delay()  # October, but nobody set a requirement
    assert not Notification.objects.filter(template=SHORTFALL).exists()

    services.requirement_set(organization=org_tree.branch_b, year=year, total_hours=Decimal(6), actor=None)
    tasks.plan_training_shortfall.delay()  # only branch B has one: member_a (branch A) is not concerned
    assert not Notification.objects.filter(template=SHORTFALL).exists()

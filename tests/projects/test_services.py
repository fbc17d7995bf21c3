"""The projects services, each rule at its edge: seats and the waitlist, overlaps, the course gate, the no-show
restriction, the cancellation cut-off, team sign-ups, check-in, attendance, self-reports."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from incentives.models import LedgerEntry
from members import services as members_services
from members.models import ServiceRecord
from notifications.models import Notification
from projects import services
from projects.models import Activity, SelfReport, SignUp
from tests.members.factories import MemberFactory
from tests.projects.conftest import started_ago
from tests.projects.factories import ActivityFactory, ProjectFactory
from tests.timing import earlier
from tests.training.factories import CourseFactory
from training.models import TrainingRecord

pytestmark = pytest.mark.django_db


def members(org_tree, n):
    return MemberFactory.create_batch(n, organization=org_tree.branch_a)


def statuses(activity):
    return list(SignUp.objects.filter(activity=activity).order_by("pk").values_list("status", "waitlist_position"))


# --- Capacity and the waitlist ------------------------------------------------------------------------------------


def test_confirmed_while_seats_are_left_then_waitlisted_in_order(org_tree):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=2)
    for member in members(org_tree, 4):
        services.signup_create(activity=activity, member=member)
    assert statuses(activity) == [("confirmed", None), ("confirmed", None), ("waitlisted", 1), ("waitlisted", 2)]


@pytest.mark.parametrize("before", [2, 20])
def test_a_signup_costs_the_same_few_queries_however_many_came_before(org_tree, before, django_assert_num_queries):
    """The sign-up storm's cost: under the activity's lock every query lengthens the queue. Savepoint and
    release of the service's atomic block (the test's transaction is outside), the two locks, one statement for the
    no-show count, the seats, the next waitlist place, 'already signed up' and the overlap (_signup_state), and the
    insert in its own savepoint — the same with 2 or 20 sign-ups before, confirmed or waitlisted."""
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=1)
    for member in members(org_tree, before):
        services.signup_create(activity=activity, member=member)
    newcomer = MemberFactory(organization=org_tree.branch_a)
    with django_assert_num_queries(8):
        signup = services.signup_create(activity=activity, member=newcomer)
    assert (signup.status, signup.waitlist_position) == ("waitlisted", before)


# --- What a sign-up reads under its locks (_signup_state), each answer on hand-made rows at its rule's edge ---------


def signed(activity, member, status, position=None, now=None):
    cancelled = status in (SignUp.Status.CANCELLED, SignUp.Status.LATE_CANCELLED)
    return SignUp.objects.create(
        activity=activity,
        member=member,
        status=status,
        waitlist_position=position,
        cancelled_at=(now or timezone.now()) if cancelled else None,
    )


def test_the_no_shows_counted_are_those_at_activities_started_in_the_window(org_tree, activity_a, member_a, member_b):
    now = timezone.now()
    for ago, member, status in [
        (timedelta(days=90), member_a, "no_show"),  # the window's first instant: counted
        (timedelta(days=90, seconds=1), member_a, "no_show"),  # just before it
        (timedelta(days=10), member_a, "no_show"),
        (timedelta(days=10), member_a, "attended"),
        (timedelta(days=10), member_b, "no_show"),  # someone else's
    ]:
        with earlier(ago + timedelta(days=3)):
            signed(ActivityFactory(project__organization=org_tree.branch_a, starts_at=now - ago), member, status)
    assert services._signup_state(activity_a, member_a, now).no_shows == 2
    assert services.no_shows_recently(member_a, now) == 2
    # A second later the first one has aged out.
    assert services._signup_state(activity_a, member_a, now + timedelta(seconds=1)).no_shows == 1
    assert services.no_shows_recently(member_a, now + timedelta(seconds=1)) == 1


def test_the_seats_taken_and_the_next_waitlist_place(org_tree, member_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=3)
    state = services._signup_state(activity, member_a, timezone.now())
    assert (state.taken, state.next_position) == (0, 1)
    others = members(org_tree, 7)
    for member, status, position in zip(
        others,
        ["confirmed", "attended", "no_show", "waitlisted", "waitlisted", "cancelled", "late_cancelled"],
        [None, None, None, 4, 7, None, None],
        strict=True,
    ):
        signed(activity, member, status, position)
    state = services._signup_state(activity, member_a, timezone.now())
    assert (state.taken, state.next_position) == (3, 8)  # confirmed, attended and no-show hold seats
    assert services._seats_taken(activity) == 3


@pytest.mark.parametrize(
    ("status", "already"),
    [
        ("confirmed", True),
        ("waitlisted", True),
        ("attended", True),
        ("no_show", True),
        ("cancelled", False),
        ("late_cancelled", False),
    ],
)
def test_already_signed_up_means_an_active_signup_of_this_activity(activity_a, member_a, member_b, status, already):
    signed(activity_a, member_a, status, 1 if status == "waitlisted" else None)
    assert services._signup_state(activity_a, member_a, timezone.now()).already is already
    assert services._signup_state(activity_a, member_b, timezone.now()).already is False


def test_the_overlap_is_a_confirmed_seat_at_another_scheduled_activity_whose_time_overlaps(
    org_tree, activity_a, member_a
):
    def other(starts_at, ends_at, status="confirmed", position=None):
        activity = ActivityFactory(project__organization=org_tree.branch_a, starts_at=starts_at, ends_at=ends_at)
        signed(activity, member_a, status, position)
        return activity

    def overlapping_id():
        assert services._signup_state(activity_a, member_a, timezone.now()).overlapping_id == (
            found.pk if (found := services._overlapping(member_a, activity_a)) else None
        )
        return found and found.pk

    starts, ends = activity_a.starts_at, activity_a.ends_at
    signed(activity_a, member_a, "confirmed")  # the activity itself is no overlap
    other(ends, ends + timedelta(hours=1))  # touching ends do not overlap
    other(starts - timedelta(hours=1), starts)
    other(starts, ends, "waitlisted", 1)  # a waitlisted seat is no seat
    other(starts, ends, "cancelled")
    cancelled = other(starts, ends)
    Activity.objects.filter(pk=cancelled.pk).update(status=Activity.Status.CANCELLED)
    assert overlapping_id() is None
    overlapping = other(ends - timedelta(minutes=1), ends + timedelta(hours=1))
    assert overlapping_id() == overlapping.pk


def test_one_active_signup_per_member_and_activity(activity_a, member_a):
    services.signup_create(activity=activity_a, member=member_a)
    with pytest.raises(ValidationError, match="您已报名该活动"):
        services.signup_create(activity=activity_a, member=member_a)
    with pytest.raises(IntegrityError):  # the database says so too
        SignUp.objects.create(activity=activity_a, member=member_a, status="waitlisted", waitlist_position=9)


def test_signing_up_again_after_cancelling_is_allowed(activity_a, member_a):
    signup = services.signup_create(activity=activity_a, member=member_a)
    services.signup_cancel(signup=signup)
    assert services.signup_create(activity=activity_a, member=member_a).status == "confirmed"


def test_cancelling_before_the_cutoff_promotes_the_first_waitlisted_and_tells_them(org_tree):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=1)
    first, second, third = members(org_tree, 3)
    seat = services.signup_create(activity=activity, member=first)
    services.signup_create(activity=activity, member=second)
    services.signup_create(activity=activity, member=third)

    cancelled = services.signup_cancel(signup=seat, now=activity.cancel_cutoff_at - timedelta(seconds=1))

    assert cancelled.status == "cancelled"
    assert statuses(activity) == [("cancelled", None), ("confirmed", None), ("waitlisted", 2)]
    note = Notification.objects.get(template="projects_waitlist_promoted")
    assert note.recipient_user == second.user and note.context["activity"] == activity.display_title
    # Cancelling again changes nothing and promotes nobody else.
    services.signup_cancel(signup=seat)
    assert statuses(activity)[2] == ("waitlisted", 2)


def test_cancelling_at_the_cutoff_is_a_late_cancellation_and_still_frees_the_seat(org_tree):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=1)
    first, second = members(org_tree, 2)
    seat = services.signup_create(activity=activity, member=first)
    services.signup_create(activity=activity, member=second)

    assert services.signup_cancel(signup=seat, now=activity.cancel_cutoff_at).status == "late_cancelled"
    assert statuses(activity)[1] == ("confirmed", None)


def test_cancelling_after_the_start_is_refused(activity_a, member_a):
    signup = services.signup_create(activity=activity_a, member=member_a)
    with pytest.raises(ValidationError, match="已经开始"):
        services.signup_cancel(signup=signup, now=activity_a.starts_at)


def test_a_waitlisted_member_with_an_overlap_keeps_their_place_and_is_skipped(org_tree):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=1)
    first, second, third = members(org_tree, 3)
    seat = services.signup_create(activity=activity, member=first)
    services.signup_create(activity=activity, member=second)
    services.signup_create(activity=activity, member=third)
    # Meanwhile the second member is confirmed for another activity at the same time.
    other = ActivityFactory(project__organization=org_tree.branch_a, starts_at=activity.starts_at)
    services.signup_create(activity=other, member=second)

    services.signup_cancel(signup=seat)

    assert statuses(activity) == [("cancelled", None), ("waitlisted", 1), ("confirmed", None)]


def test_raising_the_capacity_promotes_the_waitlist(org_tree):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=1)
    for member in members(org_tree, 3):
        services.signup_create(activity=activity, member=member)
    fields = {
        f: getattr(activity, f)
        for f in ("starts_at", "ends_at", "place", "title", "signup_opens_at", "signup_closes_at", "cancel_cutoff_at")
    }
    services.activity_update(activity=activity, capacity=2, **fields)
    assert [s for s, _p in statuses(activity)] == ["confirmed", "confirmed", "waitlisted"]
    with pytest.raises(ValidationError, match="名额不能少于报名人数"):
        services.activity_update(activity=activity, capacity=1, **fields)


# --- Sign-up rules at their edges ---------------------------------------------------------------------------------


def test_overlap_refused_by_one_minute_touching_ends_allowed(org_tree, member_a):
    first = ActivityFactory(project__organization=org_tree.branch_a)  # 9:00–11:00
    services.signup_create(activity=first, member=member_a)
    touching = ActivityFactory(
        project__organization=org_tree.branch_a, starts_at=first.ends_at, ends_at=first.ends_at + timedelta(hours=1)
    )
    overlapping = ActivityFactory(
        project__organization=org_tree.branch_a,
        starts_at=first.ends_at - timedelta(minutes=1),
        ends_at=first.ends_at + timedelta(hours=1),
    )
    assert services.signup_create(activity=touching, member=member_a).status == "confirmed"
    with pytest.raises(ValidationError, match="时间冲突"):
        services.signup_create(activity=overlapping, member=member_a)


def test_a_cancelled_or_waitlisted_signup_does_not_block_another_activity(org_tree, member_a, member_b):
    full = ActivityFactory(project__organization=org_tree.branch_a, capacity=1)
    services.signup_create(activity=full, member=member_b)
    assert services.signup_create(activity=full, member=member_a).status == "waitlisted"
    same_time = ActivityFactory(project__organization=org_tree.branch_a, starts_at=full.starts_at)
    assert services.signup_create(activity=same_time, member=member_a).status == "confirmed"


def _record(member, course, completed_on, expires_on=None):
    return TrainingRecord.objects.create(
        member=member,
        course=course,
        hours=course.hours,
        completed_on=completed_on,
        expires_on=expires_on,
        evidence="training/evidence/certificate.pdf",
    )


def test_course_gate_at_its_edges(org_tree, member_a, member_b):
    course = CourseFactory(title="应急救护")
    activity = ActivityFactory(project__organization=org_tree.branch_a, project__course_required=course)
    day = timezone.localdate(activity.starts_at)

    with pytest.raises(ValidationError, match="应急救护"):
        services.signup_create(activity=activity, member=member_a)
    # A record that expires on the activity's day no longer qualifies (valid up to the day before)…
    _record(member_a, course, day - timedelta(days=400), expires_on=day)
    with pytest.raises(ValidationError, match="应急救护"):
        services.signup_create(activity=activity, member=member_a)
    # …one that expires the day after does; so does a training completed on the activity's day.
    _record(member_a, course, day - timedelta(days=10), expires_on=day + timedelta(days=1))
    assert services.signup_create(activity=activity, member=member_a).status == "confirmed"
    _record(member_b, course, day)
    assert services.signup_create(activity=activity, member=member_b).status == "confirmed"


def _no_show(member, org_tree, days_ago):
    with earlier(timedelta(days=days_ago + 3)):
        activity = ActivityFactory(
            project__organization=org_tree.branch_a, starts_at=timezone.now() + timedelta(days=3)
        )
    SignUp.objects.create(activity=activity, member=member, status=SignUp.Status.NO_SHOW)


def test_no_show_restriction_at_its_edges(org_tree, member_a, settings):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    _no_show(member_a, org_tree, 91)  # outside the 90 days: does not count
    _no_show(member_a, org_tree, 30)
    _no_show(member_a, org_tree, 89)
    signup = services.signup_create(activity=activity, member=member_a)  # 2 within 90 days: allowed
    services.signup_cancel(signup=signup)

    _no_show(member_a, org_tree, 10)  # the third
    with pytest.raises(ValidationError, match="缺席了3次"):
        services.signup_create(activity=activity, member=member_a)

    settings.NO_SHOW_LIMIT = 4  # configurable
    assert services.signup_create(activity=activity, member=member_a).status == "confirmed"


def test_signup_window_edges(org_tree, member_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    Activity.objects.filter(pk=activity.pk).update(signup_opens_at=timezone.now() + timedelta(minutes=5))
    activity.refresh_from_db()
    with pytest.raises(ValidationError, match="报名将于"):
        services.signup_create(activity=activity, member=member_a)
    Activity.objects.filter(pk=activity.pk).update(
        signup_opens_at=timezone.now() - timedelta(hours=1), signup_closes_at=timezone.now()
    )
    with pytest.raises(ValidationError, match="已截止报名"):
        services.signup_create(activity=activity, member=member_a)


def test_drafts_cancelled_activities_and_inactive_members_take_no_signups(org_tree, member_a, member_b):
    draft = ActivityFactory(project__organization=org_tree.branch_a, project__status="draft")
    with pytest.raises(ValidationError, match="不在报名中"):
        services.signup_create(activity=draft, member=member_a)
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    services.activity_cancel(activity=activity, actor=None)
    with pytest.raises(ValidationError, match="不在报名中"):
        services.signup_create(activity=activity, member=member_a)
    members_services.member_deactivate(member=member_b, actor=None)
    member_b.refresh_from_db()
    with pytest.raises(ValidationError, match="在册党员"):
        services.signup_create(activity=ActivityFactory(project__organization=org_tree.branch_a), member=member_b)


def test_cancelling_an_activity_cancels_and_tells_everyone_once(org_tree):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=1)
    for member in members(org_tree, 2):
        services.signup_create(activity=activity, member=member)
    services.activity_cancel(activity=activity, actor=None, reason="暴雨预警")
    services.activity_cancel(activity=activity, actor=None)
    assert {s for s, _p in statuses(activity)} == {"cancelled"}
    assert Notification.objects.filter(template="projects_activity_cancelled").count() == 2


# --- Team sign-up -------------------------------------------------------------------------------------------------


@pytest.fixture
def team(org_tree):
    leader, *others = members(org_tree, 3)
    team = members_services.team_create(
        organization=org_tree.branch_a, name="红马甲服务队", actor=None, leader=leader, members=others
    )
    return team


def test_team_leader_takes_one_seat_per_member(org_tree, team):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=3)
    signups = services.team_signup_create(activity=activity, team=team, leader=team.leader)
    assert len(signups) == 3 and {s.status for s in signups} == {"confirmed"} and {s.team for s in signups} == {team}


def test_team_signup_is_all_or_nothing(org_tree, team, member_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=3)
    services.signup_create(activity=activity, member=member_a)
    with pytest.raises(ValidationError, match="不足以让全队3人报名"):
        services.team_signup_create(activity=activity, team=team, leader=team.leader)
    roomy = ActivityFactory(project__organization=org_tree.branch_a, capacity=10, starts_at=activity.starts_at)
    services.signup_create(activity=roomy, member=team.members.first())  # one member already signed up
    with pytest.raises(ValidationError, match="没有人被报名"):
        services.team_signup_create(activity=roomy, team=team, leader=team.leader)
    assert SignUp.objects.filter(activity=roomy).count() == 1
    with pytest.raises(ValidationError, match="队长"):
        services.team_signup_create(activity=roomy, team=team, leader=member_a)


# --- Check-in -----------------------------------------------------------------------------------------------------


def test_checkin_window_edges(org_tree, member_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    services.signup_create(activity=activity, member=member_a)
    start, code = activity.starts_at, activity.checkin_code
    second = timedelta(seconds=1)

    with pytest.raises(ValidationError, match="签到将于"):
        services.signup_check_in(activity=activity, member=member_a, code=code, now=start - timedelta(hours=1) - second)
    with pytest.raises(ValidationError, match="签到已结束"):
        services.signup_check_in(activity=activity, member=member_a, code=code, now=start + timedelta(hours=1) + second)
    signup = services.signup_check_in(activity=activity, member=member_a, code=code, now=start - timedelta(hours=1))
    assert signup.checked_in_at == start - timedelta(hours=1)
    # The last second of the window also works, and checking in again keeps the first time.
    again = services.signup_check_in(activity=activity, member=member_a, code=code, now=start + timedelta(hours=1))
    assert again.checked_in_at == start - timedelta(hours=1)


def test_a_waitlisted_member_cannot_check_in(org_tree, member_a, member_b):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=1)
    services.signup_create(activity=activity, member=member_b)
    services.signup_create(activity=activity, member=member_a)
    with pytest.raises(ValidationError, match="没有该活动的确认报名"):
        services.signup_check_in(activity=activity, member=member_a, code=activity.checkin_code, now=activity.starts_at)


# --- Attendance ---------------------------------------------------------------------------------------------------


def _checked_in(activity, member, at):
    signup = services.signup_create(activity=activity, member=member)
    SignUp.objects.filter(pk=signup.pk).update(checked_in_at=at)
    signup.refresh_from_db()
    return signup


def test_default_hours_are_the_checked_in_span_capped_by_the_length(org_tree):
    activity = ActivityFactory(project__organization=org_tree.branch_a)  # two hours
    early, late, absent_minded = members(org_tree, 3)
    early_signup = _checked_in(activity, early, activity.starts_at - timedelta(minutes=40))
    late_signup = _checked_in(activity, late, activity.starts_at + timedelta(minutes=30))
    plain_signup = services.signup_create(activity=activity, member=absent_minded)
    assert services.default_hours(early_signup, activity) == Decimal("2.00")
    assert services.default_hours(late_signup, activity) == Decimal("1.50")
    assert services.default_hours(plain_signup, activity) == Decimal("2.00")


def test_attendance_records_verified_hours_and_points_once(clock, org_tree, secretary_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    attendee, absentee = members(org_tree, 2)
    present = services.signup_create(activity=activity, member=attendee)
    missing = services.signup_create(activity=activity, member=absentee)
    started_ago(clock, activity, timedelta(hours=3))
    SignUp.objects.filter(pk=present.pk).update(checked_in_at=activity.starts_at + timedelta(minutes=30))
    marks = {present.pk: ("attended", None), missing.pk: ("no_show", None)}

    result = services.attendance_submit(activity=activity, marks=marks, actor=secretary_a)
    services.attendance_submit(activity=activity, marks=marks, actor=secretary_a)  # submitted twice

    assert [s.pk for s in result.attended] == [present.pk] and [s.pk for s in result.no_show] == [missing.pk]
    record = ServiceRecord.objects.get()
    assert record.member == attendee and record.hours == Decimal("1.50") and record.status == "verified"
    assert record.source == "activity" and record.source_ref == f"activity:{activity.pk}"
    assert record.recording_organization == org_tree.branch_a and record.verified_by == secretary_a
    entry = LedgerEntry.objects.get()
    assert entry.member == attendee and entry.points == 15
    assert (entry.source_ref, entry.idempotency_key) == (f"record:{record.pk}", f"record:{record.pk}:hours")
    assert SignUp.objects.get(pk=missing.pk).status == "no_show"
    activity.refresh_from_db()
    assert activity.status == "completed"


def test_attendance_rules(clock, org_tree, secretary_a, member_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    signup = services.signup_create(activity=activity, member=member_a)
    with pytest.raises(ValidationError, match="活动开始后"):
        services.attendance_submit(activity=activity, marks={signup.pk: ("attended", None)}, actor=secretary_a)
    started_ago(clock, activity)
    with pytest.raises(ValidationError, match="不能超过活动时长"):
        services.attendance_submit(activity=activity, marks={signup.pk: ("attended", "2.01")}, actor=secretary_a)
    services.attendance_submit(activity=activity, marks={signup.pk: ("attended", "1.25")}, actor=secretary_a)
    assert ServiceRecord.objects.get().hours == Decimal("1.25")
    with pytest.raises(ValidationError, match="不能改为缺席"):
        services.attendance_submit(activity=activity, marks={signup.pk: ("no_show", None)}, actor=secretary_a)


def test_a_no_show_can_be_corrected_to_attended(clock, org_tree, secretary_a, member_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    signup = services.signup_create(activity=activity, member=member_a)
    started_ago(clock, activity)
    services.attendance_submit(activity=activity, marks={signup.pk: ("no_show", None)}, actor=secretary_a)
    services.attendance_submit(activity=activity, marks={signup.pk: ("attended", None)}, actor=secretary_a)
    assert SignUp.objects.get(pk=signup.pk).status == "attended" and ServiceRecord.objects.count() == 1


def test_an_organizer_marking_themselves_leaves_their_record_for_someone_else(clock, org_tree, secretary_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    signup = services.signup_create(activity=activity, member=secretary_a.member)
    started_ago(clock, activity)
    result = services.attendance_submit(activity=activity, marks={signup.pk: ("attended", None)}, actor=secretary_a)
    assert result.unverified == [signup]
    assert ServiceRecord.objects.get().status == "pending" and not LedgerEntry.objects.exists()


def test_the_organizers_record_confirmed_later_earns_the_same_points_once(clock, org_tree, secretary_a, east_secretary):
    """Another secretary confirms the organizer's hours in the admin: the points follow, as for every attendee."""
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    signup = services.signup_create(activity=activity, member=secretary_a.member)
    other = services.signup_create(activity=activity, member=MemberFactory(organization=org_tree.branch_a))
    started_ago(clock, activity)
    marks = {signup.pk: ("attended", None), other.pk: ("attended", None)}
    services.attendance_submit(activity=activity, marks=marks, actor=secretary_a)
    attendee_points = LedgerEntry.objects.get(member=other.member).points
    record = ServiceRecord.objects.get(member=secretary_a.member)

    members_services.service_record_verify(record=record, verifier=east_secretary)

    entry = LedgerEntry.objects.get(member=secretary_a.member)
    assert (entry.points, entry.idempotency_key, entry.actor) == (
        attendee_points,
        f"record:{record.pk}:hours",
        east_secretary,
    )
    # The sheet submitted again awards nothing more (same key).
    services.attendance_submit(activity=activity, marks=marks, actor=secretary_a)
    assert LedgerEntry.objects.filter(member=secretary_a.member).count() == 1


def test_a_record_of_no_activity_earns_its_points_when_confirmed(org_tree, secretary_a, member_a):
    """Every verified record earns by the rules, whatever its source."""
    record = members_services.service_record_create(
        member=member_a,
        start=timezone.now() - timedelta(hours=3),
        end=timezone.now() - timedelta(hours=1),
        place="社区活动中心",
        content="入户走访",
        hours=Decimal("2"),
        source="manual",
        recording_organization=org_tree.branch_a,
        organizer="王书记",
        recorder=None,
    )
    members_services.service_record_verify(record=record, verifier=secretary_a)
    entry = LedgerEntry.objects.get()
    assert (entry.member, entry.points, entry.source_ref) == (member_a, 20, f"record:{record.pk}")


def test_waitlisted_members_are_not_on_the_sheet(clock, org_tree, secretary_a, member_a, member_b):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=1)
    services.signup_create(activity=activity, member=member_b)
    waiting = services.signup_create(activity=activity, member=member_a)
    started_ago(clock, activity)
    with pytest.raises(ValidationError, match="已确认报名"):
        services.attendance_submit(activity=activity, marks={waiting.pk: ("attended", None)}, actor=secretary_a)


# --- Self-reports -------------------------------------------------------------------------------------------------


def _report(member, **kwargs):
    start = (timezone.localtime() - timedelta(days=2)).replace(hour=14, minute=0, second=0, microsecond=0)
    values = {
        "started_at": start,
        "ended_at": start + timedelta(hours=3),
        "hours": "2.5",
        "place": "东风村村委会",
        "content": "帮助独居老人申请助餐服务",
    }
    values.update(kwargs)
    return services.self_report_submit(member=member, **values)


def test_self_report_approval_makes_a_verified_record_and_points(member_a, secretary_a, org_tree):
    report = _report(member_a)
    assert report.status == "pending" and report.organization == org_tree.branch_a

    approved = services.self_report_approve(report=report, actor=secretary_a)
    services.self_report_approve(report=report, actor=secretary_a)  # twice: nothing more

    record = ServiceRecord.objects.get()
    assert approved.status == "approved" and approved.record == record
    assert record.source == "self_report" and record.status == "verified" and record.hours == Decimal("2.50")
    assert LedgerEntry.objects.get().points == 25


def test_self_report_rules(member_a, secretary_a, org_tree):
    with pytest.raises(ValidationError):
        _report(member_a, hours="4")  # longer than the span
    with pytest.raises(ValidationError, match="已经完成"):
        _report(member_a, started_at=timezone.now(), ended_at=timezone.now() + timedelta(hours=1), hours=1)
    report = _report(member_a)
    with pytest.raises(ValidationError, match="本人"):
        services.self_report_approve(report=report, actor=member_a.user)
    with pytest.raises(ValidationError, match="原因"):
        services.self_report_reject(report=report, actor=secretary_a, reason=" ")
    rejected = services.self_report_reject(report=report, actor=secretary_a, reason="时间与活动记录重复")
    assert rejected.status == "rejected" and not ServiceRecord.objects.exists()
    with pytest.raises(ValidationError, match="已处理"):
        services.self_report_approve(report=report, actor=secretary_a)


def test_a_self_report_for_a_project_goes_to_its_organization(member_b, org_tree):
    project = ProjectFactory(organization=org_tree.branch_a)
    assert _report(member_b, project=project).organization == org_tree.branch_a
    assert SelfReport.objects.count() == 1


# --- Calendar feed ------------------------------------------------------------------------------------------------


def test_calendar_token_is_stable_until_renewed(member_a):
    first = services.calendar_feed_for(member=member_a).token
    assert services.calendar_feed_for(member=member_a).token == first
    assert services.calendar_feed_for(member=member_a, renew=True).token != first


def test_the_on_site_leader_earns_the_rules_leader_multiplier(clock, org_tree, secretary_a):
    """The seeded 1.5× for the on-site leader (现场负责人) is applied."""
    leader, helper = members(org_tree, 2)
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    services.activity_update(
        activity=activity,
        starts_at=activity.starts_at,
        ends_at=activity.ends_at,
        capacity=activity.capacity,
        place=activity.place,
        title=activity.title,
        signup_opens_at=activity.signup_opens_at,
        signup_closes_at=activity.signup_closes_at,
        cancel_cutoff_at=activity.cancel_cutoff_at,
        leader=leader,
    )
    signups = [services.signup_create(activity=activity, member=m) for m in (leader, helper)]
    started_ago(clock, activity, timedelta(hours=3))
    services.attendance_submit(activity=activity, marks={s.pk: ("attended", None) for s in signups}, actor=secretary_a)

    roles = dict(ServiceRecord.objects.values_list("member_id", "role"))
    assert roles == {leader.pk: "leader", helper.pk: "participant"}
    points = dict(LedgerEntry.objects.values_list("member_id", "points"))
    assert points == {leader.pk: 30, helper.pk: 20}  # two hours × 10, × 1.5 for the leader
    assert LedgerEntry.objects.get(member=leader).multiplier == Decimal("1.5")

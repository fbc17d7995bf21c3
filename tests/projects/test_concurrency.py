"""Seats, posts and attendance under real concurrency: threads with their own PostgreSQL connections."""

import threading
from collections import Counter
from datetime import time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from incentives.models import LedgerEntry
from members.models import ServiceRecord
from projects import services
from projects.models import Post, PostClaim, ServiceProject, SignUp
from tests.members.factories import MemberFactory
from tests.personas import make_secretary
from tests.projects.conftest import started_ago
from tests.projects.factories import ActivityFactory, ProjectFactory
from tests.timing import earlier

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(functions) -> Counter:
    """Start every function at the same moment in its own thread; count the outcomes (the result's text, or the
    error's)."""
    barrier = threading.Barrier(len(functions))
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def run(function):
        try:
            barrier.wait()
            outcome = function()
        except ValidationError as exc:
            outcome = exc.messages[0]
        except Exception as exc:  # noqa: BLE001 - any other failure is a finding, reported by name
            outcome = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()  # each thread opened its own connection
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(f,)) for f in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_fifty_members_press_sign_up_at_once_for_ten_seats(org_tree):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=10)
    members = MemberFactory.create_batch(50, organization=org_tree.branch_a)

    outcomes = run_together([lambda m=m: services.signup_create(activity=activity, member=m).status for m in members])

    assert outcomes == Counter({"confirmed": 10, "waitlisted": 40})
    assert SignUp.objects.filter(activity=activity, status="confirmed").count() == 10
    positions = sorted(
        SignUp.objects.filter(activity=activity, status="waitlisted").values_list("waitlist_position", flat=True)
    )
    assert positions == list(range(1, 41))


def test_one_member_pressing_twice_on_two_overlapping_activities_gets_one(org_tree, member_a):
    first = ActivityFactory(project__organization=org_tree.branch_a)
    second = ActivityFactory(project__organization=org_tree.branch_a, starts_at=first.starts_at)
    calls = [lambda a=a: services.signup_create(activity=a, member=member_a).status for a in (first, second)] * 5

    outcomes = run_together(calls)

    assert outcomes["confirmed"] == 1
    assert SignUp.objects.filter(member=member_a, status="confirmed").count() == 1


def test_cancellations_racing_sign_ups_never_overbook(org_tree):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=5)
    holders = MemberFactory.create_batch(5, organization=org_tree.branch_a)
    signups = [services.signup_create(activity=activity, member=m) for m in holders]
    newcomers = MemberFactory.create_batch(10, organization=org_tree.branch_a)

    run_together(
        [lambda s=s: services.signup_cancel(signup=s).status for s in signups[:3]]
        + [lambda m=m: services.signup_create(activity=activity, member=m).status for m in newcomers]
    )

    assert SignUp.objects.filter(activity=activity, status="confirmed").count() == 5
    assert SignUp.objects.filter(activity=activity, status="waitlisted").count() == 7


def test_last_place_of_a_post_goes_to_one_of_many(org_tree):
    project = ProjectFactory(organization=org_tree.branch_a)
    post = services.post_save(
        post=Post(project=project, title="周三下午", weekday=2, start_time=time(14), minutes=120, places=3)
    )
    services.post_claim(post=post, member=MemberFactory(organization=org_tree.branch_a))
    services.post_claim(post=post, member=MemberFactory(organization=org_tree.branch_a))
    members = MemberFactory.create_batch(12, organization=org_tree.branch_a)

    outcomes = run_together([lambda m=m: services.post_claim(post=post, member=m).claim.status for m in members])

    assert outcomes == Counter({"active": 1, "该岗位已被认领满。": 11})
    assert PostClaim.objects.filter(post=post, status="active").count() == 3


def test_generation_run_twice_at_once_makes_each_activity_once(org_tree):
    project = ProjectFactory(
        organization=org_tree.branch_a,
        recurrence=ServiceProject.Recurrence.WEEKLY,
        recurrence_weekday=3,
        recurrence_time=time(9),
        recurrence_minutes=60,
        recurrence_capacity=5,
    )
    outcomes = run_together([lambda: len(services.activities_generate(project=project))] * 4)
    assert sum(n * c for n, c in outcomes.items() if isinstance(n, int)) == project.activities.count() > 0
    assert outcomes[0] == 3


def test_attendance_submitted_at_once_makes_one_record_and_one_entry_each(clock, org_tree, secretary_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=10)
    members = MemberFactory.create_batch(4, organization=org_tree.branch_a)
    signups = [services.signup_create(activity=activity, member=m) for m in members]
    started_ago(clock, activity)
    marks = {s.pk: ("attended", None) for s in signups}

    outcomes = run_together(
        [lambda: len(services.attendance_submit(activity=activity, marks=marks, actor=secretary_a).attended)] * 6
    )

    assert outcomes == Counter({4: 6})
    assert ServiceRecord.objects.filter(source_ref=f"activity:{activity.pk}", status="verified").count() == 4
    assert sorted(LedgerEntry.objects.values_list("member_id", "points")) == sorted((m.pk, 20) for m in members)


def test_sign_out_racing_the_attendance_sheet_never_leaves_hours_that_disagree(clock, org_tree):
    """The sheet proposes the hours from check-in to sign-out: a sign-out lands before the sheet marks the member
    (and the hours follow it) or after it (and is refused) — never between the sheet reading the times and
    writing the hours."""
    activity = ActivityFactory(project__organization=org_tree.branch_a, signout_required=True, capacity=8)
    members = MemberFactory.create_batch(8, organization=org_tree.branch_a)
    secretary = make_secretary(org_tree.branch_a, "race_secretary", "赛书记")
    for member in members:
        services.signup_create(activity=activity, member=member)
    activity = started_ago(clock, activity, timedelta(minutes=30))
    for member in members:
        services.signup_check_in(activity=activity, member=member, code=activity.checkin_code)
    started_ago(clock, activity, timedelta(hours=1, minutes=30))  # everyone checked in an hour ago
    signups = {s.member_id: s for s in SignUp.objects.filter(activity=activity)}

    def sheet(member):
        marks = {signups[member.pk].pk: ("attended", None)}
        return len(services.attendance_submit(activity=activity, marks=marks, actor=secretary).attended)

    def sign_out(member):
        return services.signup_check_out(activity=activity, member=member, code=activity.checkin_code).status

    outcomes = run_together([lambda m=m: sheet(m) for m in members] + [lambda m=m: sign_out(m) for m in members])

    # Every sign-out is taken: the sheet marks nobody who has not signed out, so none comes after a marked sheet.
    assert outcomes["confirmed"] == len(members), outcomes
    refused = sum(n for outcome, n in outcomes.items() if "没有签退" in str(outcome))
    assert outcomes[1] + refused == len(members), outcomes
    for signup in SignUp.objects.filter(activity=activity).select_related("member"):
        assert signup.checked_out_at is not None
        if signup.status == SignUp.Status.ATTENDED:
            assert signup.hours == services.default_hours(signup, activity)
            record = ServiceRecord.objects.get(member=signup.member, source_ref=f"activity:{activity.pk}")
            assert record.hours == signup.hours
        else:
            assert signup.status == SignUp.Status.CONFIRMED and signup.hours is None


def test_check_in_and_sign_out_pressed_together_never_sign_out_before_checking_in(org_tree):
    """In real, ticking time (no `clock`): each thread reads its own `now` before it waits for the sign-up's lock,
    so a sign-out may have read an earlier time than the check-in that committed before it."""
    starts_at = timezone.now() - timedelta(minutes=10)
    with earlier(timedelta(hours=1)):  # signed up before it started
        members = MemberFactory.create_batch(10, organization=org_tree.branch_a)
        activity = ActivityFactory(
            project__organization=org_tree.branch_a,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=2),
            signout_required=True,
            capacity=10,
        )
        for member in members:
            services.signup_create(activity=activity, member=member)
    code = activity.checkin_code

    def check_in(member):
        return services.signup_check_in(activity=activity, member=member, code=code).status

    def sign_out(member):
        return services.signup_check_out(activity=activity, member=member, code=code).status

    outcomes = run_together([lambda m=m: check_in(m) for m in members] + [lambda m=m: sign_out(m) for m in members] * 2)

    assert set(outcomes) <= {"confirmed", "您还没有签到，不能签退。"}, outcomes
    assert outcomes["confirmed"] >= len(members)  # every check-in, and the sign-outs that came after one
    for signup in SignUp.objects.filter(activity=activity):
        assert signup.checked_in_at is not None
        assert signup.checked_out_at is None or signup.checked_out_at >= signup.checked_in_at

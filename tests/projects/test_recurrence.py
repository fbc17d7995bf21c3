"""Recurring projects and standing posts: activities generated ahead without duplicates; claimers signed up, their
skipped dates and their leaving; a post's places. The clock stands at a Thursday noon (tests/conftest.py), so the
dates generated are known exactly, whatever day the suite runs on."""

from datetime import date, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from projects import services
from projects.models import Activity, Post, PostClaim, ServiceProject, SignUp
from tests.members.factories import MemberFactory
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _thursday(clock):
    assert timezone.localtime(clock.now).isoformat() == "2026-12-10T12:00:00+08:00"


@pytest.fixture
def weekly(org_tree):
    """Every Wednesday 14:00–16:00, 12 places."""
    return ProjectFactory(
        organization=org_tree.branch_a,
        recurrence=ServiceProject.Recurrence.WEEKLY,
        recurrence_weekday=2,
        recurrence_time=time(14, 0),
        recurrence_minutes=120,
        recurrence_capacity=12,
    )


def _future_dates(weekday, weeks=8):
    now = timezone.localtime()
    today = now.date()
    days = [today + timedelta(days=i) for i in range(weeks * 7) if (today + timedelta(days=i)).weekday() == weekday]
    return days


def test_weekly_generation_covers_eight_weeks_once(weekly):
    created = services.activities_generate(project=weekly)
    assert services.activities_generate(project=weekly) == []  # regenerating creates no duplicates

    starts = [timezone.localtime(a.starts_at) for a in created]
    assert all(s.weekday() == 2 and s.time() == time(14, 0) for s in starts)
    wednesdays = [date(2026, 12, 16) + timedelta(weeks=i) for i in range(8)]  # 12-16 … 2027-02-03
    assert [s.date() for s in starts] == wednesdays == _future_dates(2)
    assert all(a.capacity == 12 and a.ends_at - a.starts_at == timedelta(hours=2) for a in created)
    assert all(a.checkin_code.isdigit() and len(a.checkin_code) == 6 for a in created)
    assert Activity.objects.filter(project=weekly).count() == len(created)


def test_monthly_generation_takes_the_nth_weekday(org_tree):
    project = ProjectFactory(
        organization=org_tree.branch_a,
        recurrence=ServiceProject.Recurrence.MONTHLY,
        recurrence_weekday=5,
        recurrence_week=2,
        recurrence_time=time(9, 0),
        recurrence_minutes=180,
        recurrence_capacity=20,
    )
    created = services.activities_generate(project=project, weeks=13)
    # The second Saturdays within 13 weeks of Thursday 2026-12-10 (up to 2027-03-10).
    assert [timezone.localtime(a.starts_at) for a in created] == [
        timezone.make_aware(timezone.datetime(*day, 9, 0)) for day in [(2026, 12, 12), (2027, 1, 9), (2027, 2, 13)]
    ]


def test_drafts_and_one_off_projects_generate_nothing(org_tree):
    draft = ProjectFactory(
        organization=org_tree.branch_a,
        status="draft",
        recurrence="weekly",
        recurrence_weekday=0,
        recurrence_time=time(9),
        recurrence_minutes=60,
        recurrence_capacity=5,
    )
    assert services.activities_generate(project=draft) == []
    assert services.activities_generate(project=ProjectFactory(organization=org_tree.branch_a)) == []


def test_recurring_projects_need_a_complete_rule(org_tree):
    with pytest.raises(ValidationError) as exc:
        ProjectFactory(organization=org_tree.branch_a, recurrence="monthly", recurrence_weekday=1)
    assert {"recurrence_time", "recurrence_minutes", "recurrence_capacity", "recurrence_week"} <= set(
        exc.value.error_dict
    )


# --- Posts --------------------------------------------------------------------------------------------------------


@pytest.fixture
def post(weekly):
    """Every Saturday 9:00–11:00, 2 places (its own weekly slot)."""
    return services.post_save(
        post=Post(project=weekly, title="周六上午陪伴老人", weekday=5, start_time=time(9), minutes=120, places=2)
    )


def test_a_claimer_is_signed_up_to_the_posts_activities_now_and_later(post, member_a):
    first = services.activities_generate(project=post.project, weeks=2)
    post_activities = [a for a in first if a.post_id == post.pk]
    assert post_activities and all(a.capacity == 2 for a in post_activities)

    result = services.post_claim(post=post, member=member_a)
    assert {s.activity_id for s in result.signed_up} == {a.pk for a in post_activities}
    assert all(s.status == "confirmed" and s.claim == result.claim for s in result.signed_up)

    later = [a for a in services.activities_generate(project=post.project, weeks=4) if a.post_id == post.pk]
    assert later
    assert SignUp.objects.filter(
        member=member_a, activity__in=later, claim=result.claim, status="confirmed"
    ).count() == len(later)


def test_the_posts_places_are_never_exceeded(post, org_tree):
    first, second, third = MemberFactory.create_batch(3, organization=org_tree.branch_a)
    services.post_claim(post=post, member=first)
    with pytest.raises(ValidationError, match="您已认领"):
        services.post_claim(post=post, member=first)
    services.post_claim(post=post, member=second)
    with pytest.raises(ValidationError, match="认领满"):
        services.post_claim(post=post, member=third)
    assert PostClaim.objects.filter(post=post, status="active").count() == 2
    with pytest.raises(ValidationError, match="不能少于认领人数"):
        post.places = 1
        services.post_save(post=post)


def test_skipping_a_date_cancels_it_and_later_generation_leaves_it_out(post, member_a):
    services.activities_generate(project=post.project, weeks=3)  # at least two Saturdays ahead
    claim = services.post_claim(post=post, member=member_a).claim
    signup = SignUp.objects.filter(claim=claim).order_by("activity__starts_at").first()
    day = timezone.localdate(signup.activity.starts_at)

    services.post_skip(claim=claim, day=day)
    services.post_skip(claim=claim, day=day)  # twice: one skip

    assert SignUp.objects.get(pk=signup.pk).status == "cancelled"
    assert claim.skips.count() == 1
    # The activity of that day is regenerated by nobody, and a later date is still served.
    assert SignUp.objects.filter(claim=claim, status="confirmed").exists()
    with pytest.raises(ValidationError, match="已经过去"):
        services.post_skip(claim=claim, day=timezone.localdate() - timedelta(days=1))


def test_a_skipped_future_date_is_not_signed_up_when_generated(post, member_a):
    claim = services.post_claim(post=post, member=member_a).claim
    saturdays = _future_dates(5, weeks=3)
    skipped = saturdays[-1]
    services.post_skip(claim=claim, day=skipped)
    created = [a for a in services.activities_generate(project=post.project, weeks=3) if a.post_id == post.pk]
    signed = {timezone.localdate(s.activity.starts_at) for s in SignUp.objects.filter(claim=claim)}
    assert skipped not in signed
    assert signed == {timezone.localdate(a.starts_at) for a in created} - {skipped}


def test_leaving_a_post_cancels_the_signups_ahead_and_frees_the_place(post, member_a, member_b):
    services.activities_generate(project=post.project, weeks=2)
    claim = services.post_claim(post=post, member=member_a).claim
    left = services.post_leave(claim=claim)
    services.post_leave(claim=claim)
    assert left.status == "left" and left.left_at is not None
    assert set(SignUp.objects.filter(claim=claim).values_list("status", flat=True)) == {"cancelled"}
    assert services.post_claim(post=post, member=member_b).claim.status == "active"
    assert services.post_claim(post=post, member=member_a).claim.status == "active"  # may claim again


def test_leaving_a_post_after_checking_in_keeps_that_activity(clock, post, member_a):
    services.activities_generate(project=post.project, weeks=2)
    claim = services.post_claim(post=post, member=member_a).claim
    first, second = SignUp.objects.filter(claim=claim).order_by("activity__starts_at")
    clock.now = first.activity.starts_at - timedelta(minutes=30)
    services.signup_check_in(activity=first.activity, member=member_a, code=first.activity.checkin_code)

    services.post_leave(claim=claim)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("confirmed", "cancelled")
    assert first.checked_in_at == clock.now


def test_a_full_activity_waitlists_the_claimer_and_says_so(post, member_a, org_tree):
    activity = [a for a in services.activities_generate(project=post.project, weeks=2) if a.post_id == post.pk][0]
    for other in MemberFactory.create_batch(2, organization=org_tree.branch_a):
        services.signup_create(activity=activity, member=other)
    result = services.post_claim(post=post, member=member_a)
    assert [a.pk for a, _why in result.missed] == [activity.pk]
    # The full week is waitlisted; the claim also signs up for the following week, which has seats.
    assert SignUp.objects.get(claim=result.claim, activity=activity).status == "waitlisted"
    assert SignUp.objects.filter(claim=result.claim, status="confirmed").count() == 1


def test_a_post_on_the_rules_slot_shares_its_activity(weekly, member_a):
    shared = services.post_save(
        post=Post(project=weekly, title="周三下午岗位", weekday=2, start_time=time(14), minutes=120, places=4)
    )
    created = services.activities_generate(project=weekly, weeks=2)
    assert created and all(a.post_id == shared.pk and a.capacity == 12 for a in created)


def test_the_task_generates_for_every_recurring_project_once(weekly, post, org_tree):
    from projects.tasks import generate_recurring_activities

    ProjectFactory(organization=org_tree.branch_a)  # one-off: nothing to generate
    first = generate_recurring_activities.delay(weeks=2).get()
    assert first == Activity.objects.count() > 0
    assert generate_recurring_activities.delay(weeks=2).get() == 0

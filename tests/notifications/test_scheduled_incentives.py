"""Incentives' scheduled work: 公示 notices (last day to members, ended to the organization) and nightly drafts."""

from datetime import date, timedelta

import pytest

from incentives import services, tasks
from incentives.models import RatingRun
from members import services as member_services
from notifications.models import Notification
from tests.factories import UserFactory
from tests.incentives.conftest import add_hours
from tests.members.factories import MemberFactory

LAST_DAY = "incentives_publicity_last_day"
ENDED = "incentives_publicity_ended"


@pytest.fixture
def published(org_tree, secretary_a, member_a, clock):
    """Branch A's 2025 rating, computed and in 公示 until the day after tomorrow; a second admin helps the secretary."""
    helper = UserFactory(username="branch_a_admin", is_staff=True)
    member_services.organization_set_admins(organization=org_tree.branch_a, users=[helper], actor=None)
    run = services.rating_run_create(
        organization=org_tree.branch_a, period_start=date(2025, 1, 1), period_end=date(2025, 12, 31), actor=None
    )
    services.rating_run_compute(run=run)
    services.rating_run_publish(run=run, actor=secretary_a, publicity_ends_on=clock.now.date() + timedelta(days=2))
    run.refresh_from_db()
    return {"run": run, "helper": helper}


def day(clock, n):
    """Move the frozen clock n days on."""
    clock.advance(n * 24 * 60 * 60)


def test_members_are_reminded_on_the_last_day_only_and_once(published, member_a, secretary_a, clock):
    tasks.plan_publicity_notices.delay()  # two days before the end: nothing
    day(clock, 1)
    tasks.plan_publicity_notices.delay()  # the day before: nothing
    assert not Notification.objects.filter(template__in=[LAST_DAY, ENDED]).exists()

    day(clock, 1)  # the last day
    tasks.plan_publicity_notices.delay()
    tasks.plan_publicity_notices.delay()

    reminded = Notification.objects.filter(template=LAST_DAY, channel="inapp")
    rated = set(published["run"].ratings.values_list("member__user", flat=True))
    assert {member_a.user_id, secretary_a.pk} <= rated
    assert set(reminded.values_list("recipient_user", flat=True)) == rated
    assert reminded.count() == len(rated)
    # points: in-app and email by default, no SMS unless chosen
    assert set(Notification.objects.filter(template=LAST_DAY).values_list("channel", flat=True)) == {"inapp", "email"}
    assert not Notification.objects.filter(template=ENDED).exists()


def test_managers_are_told_once_when_the_publicity_has_ended(published, org_tree, secretary_a, member_a, clock):
    rating = published["run"].ratings.get(member=member_a)
    services.objection_file(rating=rating, member=member_a, text="我的服务时长漏记了一次")
    day(clock, 3)  # the day after the last day

    tasks.plan_publicity_notices.delay()
    tasks.plan_publicity_notices.delay()
    day(clock, 1)
    tasks.plan_publicity_notices.delay()  # still not finalized a day later: no second notice

    ended = Notification.objects.filter(template=ENDED, channel="inapp")
    assert set(ended.values_list("recipient_user", flat=True)) == {secretary_a.pk, published["helper"].pk}
    assert ended.first().context["pending_objections"] == 1
    assert ended.first().kind == "work"
    assert not Notification.objects.filter(template=LAST_DAY).exists()  # the last day was skipped by the calendar


def test_a_finalized_or_draft_run_gets_no_notice(org_tree, secretary_a, clock):
    draft = services.rating_run_create(
        organization=org_tree.branch_a, period_start=date(2024, 1, 1), period_end=date(2024, 12, 31), actor=None
    )
    services.rating_run_compute(run=draft)
    run = services.rating_run_create(
        organization=org_tree.branch_a, period_start=date(2025, 1, 1), period_end=date(2025, 12, 31), actor=None
    )
    services.rating_run_compute(run=run)
    services.rating_run_publish(run=run, actor=secretary_a, publicity_ends_on=clock.now.date())
    day(clock, 1)
    services.rating_run_finalize(run=run, actor=secretary_a)

    tasks.plan_publicity_notices.delay()

    assert not Notification.objects.filter(template__in=[LAST_DAY, ENDED]).exists()


def test_drafts_follow_newly_verified_hours_and_a_quiet_night_writes_nothing(org_tree, member_a, platform_admin, clock):
    run = services.rating_run_create(
        organization=org_tree.branch_a, period_start=date(2025, 1, 1), period_end=date(2025, 12, 31), actor=None
    )
    services.rating_run_compute(run=run)
    assert run.ratings.get(member=member_a).stars == 0

    add_hours(member_a, "120", day=date(2025, 6, 1), verifier=platform_admin)
    assert run.ratings.get(member=member_a).stars == 1  # a draft follows each verified record at once
    newcomer = MemberFactory(name="新来", organization=org_tree.branch_a)

    assert tasks.recompute_draft_ratings.delay().get() == 1  # the nightly run adds the newcomer
    assert run.ratings.get(member=member_a).stars == 1
    assert run.ratings.filter(member=newcomer).exists()
    assert tasks.recompute_draft_ratings.delay().get() == 0
    assert RatingRun.objects.get(pk=run.pk).status == RatingRun.Status.DRAFT

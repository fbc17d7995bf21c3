"""projects.demo.seed: every service mode, past activities with attendance, upcoming ones with a waiting list."""

import pytest
from django.utils import timezone

from incentives.models import LedgerEntry
from members.models import ServiceRecord
from projects import demo
from projects.models import Activity, ActivitySurvey, Post, ServiceProject, SignUp
from tests.members.factories import MemberFactory

pytestmark = pytest.mark.django_db


def _counts():
    return (
        ServiceProject.objects.count(),
        Post.objects.count(),
        Activity.objects.count(),
        SignUp.objects.count(),
        ServiceRecord.objects.count(),
        LedgerEntry.objects.count(),
        ActivitySurvey.objects.count(),
    )


def test_seed_without_organizations_adds_nothing():
    demo.seed()
    assert _counts() == (0, 0, 0, 0, 0, 0, 0)


def test_seed_without_members_adds_projects_and_activities(org_tree):
    demo.seed()
    assert set(ServiceProject.objects.values_list("service_mode", flat=True)) == set(ServiceProject.Mode.values)
    first = _counts()
    demo.seed()
    assert _counts() == first
    assert Activity.objects.filter(starts_at__lt=timezone.now()).count() == len(demo.SPECS) * demo.PAST_ACTIVITIES
    assert not SignUp.objects.exists()


def test_seed_with_members_is_idempotent(org_tree, platform_admin):
    MemberFactory.create_batch(20, organization=org_tree.branch_a)
    MemberFactory.create_batch(20, organization=org_tree.branch_b)
    demo.seed()
    first = _counts()
    demo.seed()
    assert _counts() == first

    assert set(ServiceProject.objects.values_list("service_mode", flat=True)) == set(ServiceProject.Mode.values)
    past = Activity.objects.filter(starts_at__lt=timezone.now())
    assert past.count() == past.filter(status="completed").count() == len(demo.SPECS) * demo.PAST_ACTIVITIES
    attended = SignUp.objects.filter(status="attended").count()
    assert attended == ServiceRecord.objects.filter(status="verified").count() == LedgerEntry.objects.count() > 0
    assert SignUp.objects.filter(status="no_show").count() == len(demo.SPECS) * demo.PAST_ACTIVITIES
    assert SignUp.objects.filter(status="waitlisted").count() == 2 * len(demo.SPECS)
    # Most attendees answered the survey, every fourth sign-up of an activity did not; only attendees answer.
    surveys = ActivitySurvey.objects.all()
    assert 0 < surveys.count() < attended
    assert not surveys.exclude(signup__status="attended").exists()
    assert set(surveys.values_list("rating", flat=True)) == {4, 5}
    upcoming = Activity.objects.filter(starts_at__gt=timezone.now(), status="scheduled")
    assert upcoming.filter(project__recurrence="weekly").count() >= 8

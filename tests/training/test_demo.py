"""training.demo.seed: all four course types, past sessions with records, upcoming sessions, the requirement."""

import pytest
from django.utils import timezone

from incentives.models import LedgerEntry
from tests.members.factories import MemberFactory
from training import demo, selectors
from training.models import AnnualRequirement, Course, Enrollment, TrainingRecord, TrainingSession

pytestmark = pytest.mark.django_db


def _counts():
    return (
        Course.objects.count(),
        TrainingSession.objects.count(),
        Enrollment.objects.count(),
        TrainingRecord.objects.count(),
        AnnualRequirement.objects.count(),
        LedgerEntry.objects.count(),
    )


def test_seed_without_members_adds_the_courses_only():
    demo.seed()
    demo.seed()
    assert set(Course.objects.values_list("type", flat=True)) == set(Course.Type.values)
    assert _counts()[1:] == (0, 0, 0, 0, 0)


def test_seed_with_members_is_idempotent(org_tree, member_a, member_b):
    MemberFactory.create_batch(8, organization=org_tree.branch_a)
    demo.seed()
    first = _counts()
    demo.seed()
    assert _counts() == first

    assert set(Course.objects.values_list("type", flat=True)) == set(Course.Type.values)
    now = timezone.now()
    past = TrainingSession.objects.filter(starts_at__lt=now)
    assert past.count() == len(demo.PAST)
    assert all(s.status == TrainingSession.Status.DONE for s in past)
    assert TrainingSession.objects.filter(starts_at__gt=now, status="scheduled").count() == len(demo.UPCOMING)
    # 10 members, every fifth absent: 8 records per past session, each with its points.
    assert TrainingRecord.objects.count() == 8 * len(demo.PAST) == LedgerEntry.objects.count()
    requirement = AnnualRequirement.objects.get()
    assert requirement.organization == org_tree.street
    assert selectors.progress_for(member_a, timezone.localdate().year).requirement == requirement

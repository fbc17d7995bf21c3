"""Branch A's activity and helpers that move an activity in time (the personas are the suite's:
tests/personas.py)."""

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from projects.models import Activity, SignUp
from tests.projects.factories import ActivityFactory


def shift(activity: Activity, starts_at) -> Activity:
    """Move the activity (its windows and its check-in times too) so that it starts at `starts_at`."""
    delta = starts_at - activity.starts_at
    Activity.objects.filter(pk=activity.pk).update(
        starts_at=activity.starts_at + delta,
        ends_at=activity.ends_at + delta,
        signup_opens_at=activity.signup_opens_at + delta,
        signup_closes_at=activity.signup_closes_at + delta,
        cancel_cutoff_at=activity.cancel_cutoff_at + delta,
    )
    SignUp.objects.filter(activity=activity, checked_in_at__isnull=False).update(
        checked_in_at=F("checked_in_at") + delta
    )
    activity.refresh_from_db()
    return activity


def started_ago(activity: Activity, ago: timedelta = timedelta(minutes=1)) -> Activity:
    """Time passes: the activity started `ago` before now."""
    return shift(activity, timezone.now() - ago)


@pytest.fixture
def activity_a(org_tree):
    """Branch A's activity in three days, 9:00–11:00, with 10 seats."""
    return ActivityFactory(project__organization=org_tree.branch_a)

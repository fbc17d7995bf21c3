"""Branch A's activity and `started_ago`, which moves the clock to an activity's time (the personas are the suite's:
tests/personas.py; rows of another time: tests/timing.py)."""

from datetime import timedelta

import pytest

from projects.models import Activity
from tests.projects.factories import ActivityFactory


def started_ago(clock, activity: Activity, ago: timedelta = timedelta(minutes=1)) -> Activity:
    """Time passes (the clock moves): the activity started `ago` before now."""
    clock.now = activity.starts_at + ago
    return activity


@pytest.fixture
def activity_a(org_tree):
    """Branch A's activity in three days, 9:00–11:00, with 10 seats."""
    return ActivityFactory(project__organization=org_tree.branch_a)

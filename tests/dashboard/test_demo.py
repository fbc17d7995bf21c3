"""The demo's plan: this year's plan of the top organization, five targets, one overdue task; idempotent."""

import pytest

from volunteer_platform import demo, selectors
from volunteer_platform.models import Plan, Task

pytestmark = pytest.mark.django_db


def test_demo_plan_is_idempotent_and_has_an_overdue_task(org_tree):
    demo._plans()
    demo._plans()
    plan = Plan.objects.get()
    assert plan.organization == org_tree.street
    assert plan.targets.count() == 5 and Task.objects.count() == 2  # no member "dangyuan" in this tree
    assert [t.title for t in selectors.overdue_tasks_for(org_tree.street)] == ["建立社区助老服务队"]

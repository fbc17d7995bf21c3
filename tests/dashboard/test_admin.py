"""Plans and tasks in the admin, scoped like the members admin: a secretary sees the plans of their subtree and the
tasks assigned into it; another organization's plan answers 404; status actions go through the services."""

import pytest
from django.utils import timezone

from volunteer_platform.models import Plan, Task

pytestmark = pytest.mark.django_db


def test_a_branch_secretary_sees_their_plans_and_the_tasks_assigned_to_them(client, street):
    own = Plan.objects.create(organization=street.branch_a, year=2025, title="东一支部服务计划")
    client.force_login(street.secretary_a)

    plans = client.get("/admin/volunteer_platform/plan/").content.decode()
    assert "东一支部服务计划" in plans and "党员志愿服务年度规划" not in plans
    assert client.get(f"/admin/volunteer_platform/plan/{own.pk}/change/").status_code == 200
    assert client.get(f"/admin/volunteer_platform/plan/{street.plan.pk}/change/").status_code == 404

    tasks = client.get("/admin/volunteer_platform/task/").content.decode()
    assert "建立助老服务队" in tasks and "完成年度培训" not in tasks  # the latter is branch B's


def test_status_actions_call_the_service_and_write_a_note(client, street):
    client.force_login(street.admin)
    response = client.post(
        "/admin/volunteer_platform/task/",
        {"action": "mark_done", "_selected_action": [street.overdue.pk, street.done.pk]},
        follow=True,
    )
    assert response.status_code == 200
    street.overdue.refresh_from_db()
    assert street.overdue.status == Task.Status.DONE and street.overdue.completed_on == timezone.localdate()
    assert street.overdue.notes.get().status_after == Task.Status.DONE
    html = response.content.decode()
    assert "已更新 1 项任务" in html and "任务已经是这个状态" in html  # the done task is refused and named
    street.done.refresh_from_db()
    assert street.done.notes.count() == 0


def test_the_plan_admin_pages_open_for_a_platform_admin(client, street):
    client.force_login(street.admin)
    assert client.get("/admin/volunteer_platform/plan/add/").status_code == 200
    assert client.get(f"/admin/volunteer_platform/plan/{street.plan.pk}/change/").status_code == 200
    assert client.get(f"/admin/volunteer_platform/task/{street.overdue.pk}/change/").status_code == 200

"""Tasks (任务分工) from the assignee's side: each task has its own page (/dashboard/tasks/<id>/) that its assignee —
the member it is assigned to, or whoever administers the organization it is assigned to — and the plan's managers
open and report progress on; everyone else gets 404. `/me/` lists a member's own open tasks, and a task change
drops the assignee's cached `/me/`.

On the dashboard's street (tests/dashboard/conftest.py): the street's plan (2025) has `overdue` (branch A, due
2025-06-30, open), `later` (member a1, due 2099-01-01) and `done` (branch B, done). Dates are fixed far from any
real day, so "overdue" does not depend on the clock.
"""

import re
from datetime import date

import pytest
from django.urls import reverse

from members import services as members_services
from tests.members.factories import MemberFactory
from tests.personas import make_secretary
from tests.queries import count_queries
from volunteer_platform import services
from volunteer_platform.models import Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def street(shared_street):  # made once for the module (tests/dashboard/conftest.py)
    return shared_street


def task_url(task) -> str:
    return f"/dashboard/tasks/{task.pk}/"


def html_of(client, user, url) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start : html.index("</section>", start)]


@pytest.fixture
def street_secretary(street):
    """The secretary of the street, whose plan it is (a member homed in branch A)."""
    return make_secretary(street.street, "street_secretary", "孔书记", home=street.branch_a)


# --- The reported bugs ------------------------------------------------------------------------------------------


def test_the_overdue_task_link_on_the_dashboard_opens_for_the_assignee(client, street):
    # Branch A's secretary is the assignee (branch A holds the task) of a task of the street's plan, which is above
    # them: the dashboard's overdue link must open a page they may see, not the plan (404 for them).
    html = html_of(client, street.secretary_a, "/dashboard/")
    links = re.findall(r'href="([^"]+)"', section(html, "overdue-tasks"))
    assert links, "the overdue list links to the task"
    page = client.get(links[0])
    assert page.status_code == 200, links[0]
    assert "建立助老服务队" in page.content.decode()


def test_a_task_update_lands_on_a_page_the_assignee_can_open(client, street):
    client.force_login(street.secretary_a)
    response = client.post(task_url(street.overdue), {"status": "in_progress", "text": "已招募8人"}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain and response.redirect_chain[-1][0] == task_url(street.overdue)
    assert "已招募8人" in response.content.decode()
    street.overdue.refresh_from_db()
    assert street.overdue.status == Task.Status.IN_PROGRESS


def test_me_lists_the_members_own_open_tasks(client, street):
    # a1's own task, due later: listed with its due date and a link to its page.
    tasks = section(html_of(client, street.a1.user, "/me/"), "my-tasks")
    assert "开展法律咨询" in tasks and "2099-01-01" in tasks
    assert f'href="{task_url(street.later)}"' in tasks
    assert "已逾期" not in tasks
    # 王书记 administers branch A: its overdue task is theirs, marked overdue; branch B's (done) task is not.
    tasks = section(html_of(client, street.secretary_a, "/me/"), "my-tasks")
    assert "建立助老服务队" in tasks and "2025-06-30" in tasks and "已逾期" in tasks
    assert f'href="{task_url(street.overdue)}"' in tasks
    assert "开展法律咨询" not in tasks and "完成年度培训" not in tasks


def test_a_member_without_tasks_sees_none_and_a_finished_task_leaves_the_list(client, street):
    assert 'id="my-tasks"' not in html_of(client, street.a2.user, "/me/")
    services.task_status_change(task=street.later, actor=street.a1.user, status=Task.Status.DONE)
    assert 'id="my-tasks"' not in html_of(client, street.a1.user, "/me/")


# --- /me/ is cached per person: a task change drops the assignee's copy ---------------------------------------


def _is_cached(client, path="/me/") -> bool:
    queries, _sqls = count_queries(lambda: client.get(path))
    return queries == 1  # a hit costs the user's row only (core/member_cache.py)


def me(client) -> str:
    """/me/ for whoever is signed in: signing in again would itself drop the cached page (the last login is saved)."""
    response = client.get("/me/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_task_assigned_after_me_was_cached_shows_up(client, street):
    client.force_login(street.a2.user)
    assert "整理党员花名册" not in me(client) and _is_cached(client)
    task = Task.objects.create(
        plan=street.plan, title="整理党员花名册", assignee_member=street.a2, due_on=date(2099, 3, 1)
    )
    assert "整理党员花名册" in me(client)
    # A status change through the service and a deletion drop it as well.
    assert _is_cached(client)
    services.task_status_change(task=task, actor=street.admin, status=Task.Status.CANCELLED)
    assert "整理党员花名册" not in me(client)
    services.task_status_change(task=task, actor=street.admin, status=Task.Status.IN_PROGRESS)
    assert "整理党员花名册" in me(client)
    task.delete()
    assert "整理党员花名册" not in me(client)


def test_a_task_for_an_organization_reaches_the_me_of_its_admins(client, street):
    client.force_login(street.secretary_b)
    assert "西一支部走访" not in me(client) and _is_cached(client)
    Task.objects.create(
        plan=street.plan, title="西一支部走访", assignee_organization=street.branch_b, due_on=date(2099, 3, 1)
    )
    assert "西一支部走访" in section(me(client), "my-tasks")


def test_a_reassigned_task_leaves_the_former_assignees_me(client, street):
    client.force_login(street.a1.user)
    assert "开展法律咨询" in me(client) and _is_cached(client)
    street.later.assignee_member = street.a2
    street.later.save()
    assert "开展法律咨询" not in me(client)
    assert "开展法律咨询" in html_of(client, street.a2.user, "/me/")


def test_a_new_admin_of_the_assignee_organization_sees_its_task_on_me(client, street):
    client.force_login(street.a2.user)
    assert "建立助老服务队" not in me(client) and _is_cached(client)
    street.branch_a.admins.add(street.a2.user)
    assert "建立助老服务队" in section(me(client), "my-tasks")


# --- Who may open a task's page and report on it ---------------------------------------------------------------

# The overdue task: street's plan, assigned to branch A. The later task: the same plan, assigned to member a1.
PERMISSIONS = [
    # (persona, task, expected status of GET and POST)
    ("a1", "later", 200),  # the assignee person
    ("secretary_a", "overdue", 200),  # the assignee organization's secretary
    ("east_secretary", "overdue", 200),  # administers the assignee organization's parent
    ("street_secretary", "overdue", 200),  # the plan's secretary
    ("street_secretary", "later", 200),
    ("admin", "later", 200),  # the platform admin
    ("secretary_b", "overdue", 404),  # a secretary of another branch
    ("secretary_b", "later", 404),
    ("a2", "overdue", 404),  # a plain member of the assignee branch
    ("a2", "later", 404),  # another member's task
    ("b1", "later", 404),
    ("a1", "overdue", 404),  # an assignee of one task sees no other task of the plan
]


def _user(street, street_secretary, persona):
    if persona == "street_secretary":
        return street_secretary
    found = getattr(street, persona)
    return getattr(found, "user", found)


@pytest.mark.parametrize(("persona", "task_name", "status"), PERMISSIONS)
def test_who_may_open_and_update_a_task(client, street, street_secretary, persona, task_name, status):
    task = getattr(street, task_name)
    client.force_login(_user(street, street_secretary, persona))
    assert client.get(task_url(task)).status_code == status
    response = client.post(task_url(task), {"text": f"{persona} 的进展"})
    assert response.status_code == (302 if status == 200 else 404)
    notes = list(task.notes.values_list("text", flat=True))
    assert notes == ([f"{persona} 的进展"] if status == 200 else [])
    if status == 200:
        assert response.url == task_url(task)
        assert client.get(response.url).status_code == 200


def test_anonymous_is_sent_to_sign_in_and_nothing_changes(client, street):
    login = reverse("login")
    response = client.get(task_url(street.overdue))
    assert response.status_code == 302 and response.url.startswith(login)
    response = client.post(task_url(street.overdue), {"text": "匿名"})
    assert response.status_code == 302 and response.url.startswith(login)
    assert not street.overdue.notes.exists()


def test_a_missing_or_junk_task_is_404(client, street):
    client.force_login(street.admin)
    assert client.get("/dashboard/tasks/999999/").status_code == 404
    assert client.get("/dashboard/tasks/99999999999999999999/").status_code == 404


def test_a_personal_task_follows_its_member_to_another_branch(client, street):
    # Assigned to the person, not to their branch: a transfer to a branch outside the plan's reach keeps it theirs.
    members_services.member_transfer(
        member=street.a1, to_organization=street.branch_b, actor=street.admin, transferred_on=date(2025, 8, 1)
    )
    client.force_login(street.a1.user)
    assert client.get(task_url(street.later)).status_code == 200


# --- The page ---------------------------------------------------------------------------------------------------


def test_the_task_page_shows_the_task_its_notes_and_the_form(client, street):
    services.task_note_add(task=street.overdue, author=street.secretary_a, text="已联系12位老人")
    html = html_of(client, street.secretary_a, task_url(street.overdue))
    assert 'id="task-title"' in html and "建立助老服务队" in html
    assert "东一支部" in html and "2025-06-30" in html and "已逾期" in html
    assert "已联系12位老人" in html
    assert 'name="text"' in html and 'name="status"' in html
    # The plan is above branch A's secretary: no link to it (it would be 404); the plan's secretary gets one.
    assert f"/dashboard/plans/{street.plan.pk}/" not in html
    assert f"/dashboard/plans/{street.plan.pk}/" in html_of(client, street.admin, task_url(street.overdue))


def test_a_bad_update_says_why_and_changes_nothing(client, street):
    client.force_login(street.a1.user)
    response = client.post(task_url(street.later), {"text": "  "}, follow=True)
    assert response.status_code == 200 and "请填写进展情况" in response.content.decode()
    response = client.post(task_url(street.later), {"status": "bogus"}, follow=True)
    assert response.status_code == 200 and "未知的任务状态" in response.content.decode()
    assert not street.later.notes.exists()
    street.later.refresh_from_db()
    assert street.later.status == Task.Status.TODO


def test_the_plan_page_reports_through_the_task_page(client, street):
    html = html_of(client, street.admin, f"/dashboard/plans/{street.plan.pk}/")
    assert f'action="{task_url(street.overdue)}"' in html
    assert f'href="{task_url(street.overdue)}"' in html


# --- Query counts -----------------------------------------------------------------------------------------------


def test_the_task_page_costs_the_same_with_many_notes(client, street):
    client.force_login(street.secretary_a)
    url = task_url(street.overdue)

    def add_notes(n):
        for i in range(n):
            author = MemberFactory(organization=street.branch_a).user
            services.task_note_add(task=street.overdue, author=author, text=f"进展{i}")

    add_notes(2)
    small, _ = count_queries(lambda: client.get(url))
    add_notes(20)
    large, sqls = count_queries(lambda: client.get(url))
    # The user (the session comes from the cache), the task with its plan, organizations, assignee and whether the
    # plan is in scope, its notes with their authors.
    assert small == large == 3, "\n".join(sqls)


def test_me_costs_the_same_with_many_tasks(client, street):
    client.force_login(street.secretary_a)  # a member, and the admin of branch A: both kinds of task are theirs
    member = street.secretary_a.member

    def add_tasks(n):
        for i in range(n):
            Task.objects.create(plan=street.plan, title=f"个人任务{i}", assignee_member=member, due_on=date(2025, 1, 1))
            Task.objects.create(
                plan=street.plan, title=f"支部任务{i}", assignee_organization=street.branch_a, due_on=date(2099, 1, 1)
            )

    add_tasks(1)
    small, _ = count_queries(lambda: client.get("/me/"))
    add_tasks(15)  # drops the cached copy: the next visit renders again
    response = None

    def get():
        nonlocal response
        response = client.get("/me/")

    large, sqls = count_queries(get)
    assert small == large, "\n".join(sqls)
    assert "个人任务14" in section(response.content.decode(), "my-tasks")


# --- The demo, as reported --------------------------------------------------------------------------------------

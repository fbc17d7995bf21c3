"""Browser journeys of a task's assignee (任务分工): branch A's secretary — whose branch a task of the street's plan
(above them) is assigned to, like the demo's `shequ` — follows the overdue task from the dashboard, reports
progress and lands on the task's page; a member finds their own task on /me/ (on a phone) and does the same."""

import pytest
from playwright.sync_api import expect

from tests.conftest import login_in_browser
from tests.factories import DEFAULT_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_assignee_follows_the_overdue_task_from_the_dashboard_and_reports_progress(page, street):
    login_in_browser(page, street.secretary_a.username, DEFAULT_PASSWORD)
    page.goto("/")
    page.locator("#nav-manage").click()
    page.locator("#nav-dashboard").click()
    overdue = page.locator("#overdue-tasks")
    expect(overdue).to_contain_text("建立助老服务队")

    with page.expect_navigation() as opened:
        overdue.get_by_role("link", name="建立助老服务队").click()
    assert opened.value.status == 200
    expect(page.locator("#task-title")).to_have_text("建立助老服务队")
    expect(page.locator("#task-status")).to_contain_text("已逾期")

    page.fill("#task-note", "已招募8名队员，下周开展首次服务")
    page.select_option("#task-new-status", "in_progress")
    with page.expect_navigation() as landed:
        page.locator("#task-form button[type=submit]").click()
    assert landed.value.status == 200
    assert page.url.endswith(f"/dashboard/tasks/{street.overdue.pk}/")
    expect(page.locator(".alert-success")).to_contain_text("已记录任务进展")
    expect(page.locator("#task-status")).to_contain_text("进行中")
    expect(page.locator("#task-notes")).to_contain_text("已招募8名队员，下周开展首次服务")


def test_a_member_opens_their_task_from_me_and_reports_progress(phone_page, street):
    page = phone_page
    login_in_browser(page, "a1", DEFAULT_PASSWORD)
    page.goto("/me/")
    tasks = page.locator("#my-tasks")
    expect(tasks).to_contain_text("2099-01-01")

    tasks.get_by_role("link", name="开展法律咨询").click()
    expect(page.locator("#task-title")).to_have_text("开展法律咨询")
    page.fill("#task-note", "已联系律师事务所")
    with page.expect_navigation() as landed:
        page.locator("#task-form button[type=submit]").click()
    assert landed.value.status == 200
    expect(page.locator("#task-notes")).to_contain_text("已联系律师事务所")

    # Done: it leaves the member's list of open tasks.
    page.select_option("#task-new-status", "done")
    page.locator("#task-form button[type=submit]").click()
    expect(page.locator("#task-status")).to_contain_text("已完成")
    page.locator("#task-back").click()
    expect(page.locator("h1")).to_have_text("我的主页")
    expect(page.locator("#my-tasks")).to_have_count(0)

"""On a phone: a waitlisted member leaves the waitlist with a button that says so; after checking in, the member is
offered no cancellation."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from projects import services
from projects.models import SignUp
from tests.conftest import login_in_browser
from tests.factories import DEFAULT_PASSWORD
from tests.projects.factories import ActivityFactory, days_ahead_at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_leave_the_waitlist_and_no_cancel_after_check_in(clock, phone_page, org_tree, member_a, member_b):
    page = phone_page
    full = ActivityFactory(project__organization=org_tree.branch_a, capacity=1, title="陪老人读报")
    services.signup_create(activity=full, member=member_b)
    services.signup_create(activity=full, member=member_a)
    soon = ActivityFactory(project__organization=org_tree.branch_a, title="楼道清扫", starts_at=days_ahead_at(2))
    services.signup_create(activity=soon, member=member_a)
    clock.now = soon.starts_at - timedelta(minutes=30)
    services.signup_check_in(activity=soon, member=member_a, code=soon.checkin_code)

    login_in_browser(page, member_a.user.username, DEFAULT_PASSWORD)
    page.goto(f"/activities/{full.pk}/")
    expect(page.locator("#signup-status")).to_contain_text("候补第 1 位")
    expect(page.get_by_role("button", name="取消报名")).to_have_count(0)
    page.get_by_role("button", name="退出候补").click()
    expect(page.get_by_role("alert")).to_contain_text("已退出候补。")
    assert SignUp.objects.get(activity=full, member=member_a).status == SignUp.Status.CANCELLED

    page.goto(f"/activities/{soon.pk}/")
    expect(page.locator("#checked-in")).to_be_visible()
    expect(page.locator("#cancel-form")).to_have_count(0)
    expect(page.get_by_text("现在取消将记为逾期取消")).to_have_count(0)

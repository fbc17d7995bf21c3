"""On a phone: redeeming tells the member what really happens to the points — deducted at once, refunded on
cancelling — and the balance on the page says the same."""

import pytest
from playwright.sync_api import expect

from tests.conftest import login_in_browser
from tests.factories import DEFAULT_PASSWORD
from tests.incentives.conftest import fund, make_item

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_redeeming_on_a_phone_says_deducted_and_cancelling_refunds(phone_page, member_a):
    page = phone_page
    fund(member_a, 120)
    item = make_item(name="理发", points_cost=50, stock=3)

    login_in_browser(page, "member_a", DEFAULT_PASSWORD)
    page.goto("/rewards/")
    page.locator(f"#item-{item.pk}").get_by_role("button", name="用 50 积分兑换").click()
    expect(page.locator(".alert-success")).to_contain_text("已扣除 50 积分")
    expect(page.locator(".alert-success")).not_to_contain_text("冻结")
    expect(page.locator("#rewards-balance")).to_have_text("70")
    waiting = page.locator("#my-redemptions li").first
    expect(waiting.locator(".redemption-note")).to_have_text("已扣除 50 积分，等待书记审核；取消兑换或未获批准时退还。")

    waiting.get_by_role("button", name="取消兑换").click()
    expect(page.locator(".alert-success")).to_contain_text("积分已退还")
    expect(page.locator("#rewards-balance")).to_have_text("120")

"""Browser journey: a member redeems points, a secretary approves in the admin, the member sees the pickup code —
also on /me/points/, which the member had open before: the page kept for them (core/member_cache.py) is dropped
by the approval, with the member still in the same session."""

import re

import pytest
from playwright.sync_api import expect

from incentives.models import Redemption
from tests.conftest import login_in_browser
from tests.factories import DEFAULT_PASSWORD
from tests.incentives.conftest import fund, make_item

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_member_redeems_secretary_approves_member_sees_the_pickup_code(page, member_a, secretary_a):
    fund(member_a, 120)
    item = make_item(name="理发", points_cost=50, stock=3, pickup_place="社区党群服务中心一楼")

    login_in_browser(page, "member_a", DEFAULT_PASSWORD)
    page.goto("/me/points/")
    expect(page.locator("#points-balance")).to_have_text("120")
    page.goto("/rewards/")
    expect(page.locator("#rewards-balance")).to_have_text("120")
    card = page.locator(f"#item-{item.pk}")
    expect(card.locator(".item-stock")).to_have_text("3")
    card.get_by_role("button", name="用 50 积分兑换").click()
    expect(page.locator(".alert-success")).to_contain_text("已提交兑换“理发”")
    expect(page.locator("#rewards-balance")).to_have_text("70")
    expect(page.locator("#my-redemptions .redemption-status").first).to_have_text("待审核")
    page.goto("/me/points/")
    expect(page.locator("#points-balance")).to_have_text("70")
    member_cookies = page.context.cookies()

    page.context.clear_cookies()
    login_in_browser(page, "secretary_a", DEFAULT_PASSWORD)
    page.goto("/admin/incentives/redemption/")
    redemption = Redemption.objects.get(member=member_a)
    page.locator(f"input[name=_selected_action][value='{redemption.pk}']").check()
    page.select_option("select[name=action]", "approve_selected")
    page.locator("button[name=index]").click()
    expect(page.locator(".messagelist")).to_contain_text("已批准 1 条兑换")
    redemption.refresh_from_db()
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{8}", redemption.pickup_code)

    page.context.clear_cookies()
    page.context.add_cookies(member_cookies)  # the member's same session: no new sign-in drops their pages
    page.goto("/me/points/")
    expect(page.locator("#points-balance")).to_have_text("70")
    expect(page.locator("#open-redemptions .pickup-code")).to_have_text(redemption.pickup_code)
    page.goto("/rewards/")
    expect(page.locator(f"#redemption-{redemption.pk} .pickup-code")).to_have_text(redemption.pickup_code)
    expect(page.locator(f"#redemption-{redemption.pk} .redemption-status")).to_have_text("待领取")
    page.goto("/me/inbox/")
    expect(page.locator("#inbox")).to_contain_text(redemption.pickup_code)

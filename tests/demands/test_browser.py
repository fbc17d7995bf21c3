"""Browser journey on a phone: a resident submits a wish, the secretary verifies and publishes it, a member claims
and fulfils it, the resident rates it, the secretary confirms the service; the member's record and points appear."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from demands.models import MicroWish
from members.models import Grid
from tests.conftest import login_in_browser
from tests.demands.factories import feedback_token, wish_category, wish_in_state
from tests.factories import DEFAULT_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_out(page):
    page.context.clear_cookies()


def test_a_wish_from_submission_to_points(phone_page, org_tree, secretary_a, member_a):
    page = phone_page
    wish_category("助老")

    # A resident submits a wish from the phone.
    page.goto("/")
    page.locator("#home-wishes").get_by_role("link", name="提交微心愿").click()
    page.get_by_label("心愿类别").select_option(label="助老")
    page.get_by_label("心愿标题").fill("帮忙修理漏水的水龙头")
    page.get_by_label("具体内容").fill("厨房水龙头一直滴水，老人自己修不了。")
    page.get_by_label("所在社区（村）").select_option(label="东风村")
    page.get_by_role("textbox", name="联系人").fill("张桂英")
    page.get_by_role("textbox", name="手机号").fill("139 0000 1234")
    page.get_by_label("我同意为办理本心愿处理我的姓名和手机号").check()
    page.get_by_role("button", name="提交心愿").click()
    code = page.locator("#tracking-code").inner_text().strip()
    assert len(code) >= 10
    page.get_by_role("link", name="查看进度").click()
    expect(page.locator("#wish-state")).to_have_text("待核实")

    # The secretary of branch A verifies and publishes it.
    sign_out(page)
    login_in_browser(page, "secretary_a", DEFAULT_PASSWORD)
    page.goto("/wishes/review/")
    page.get_by_role("link", name="帮忙修理漏水的水龙头").click()
    expect(page.locator("#contact-phone")).to_contain_text("13900001234")
    page.get_by_label("公开标题").fill("修理漏水的水龙头")
    page.get_by_label("公开内容").fill("厨房水龙头漏水，需要会修理的志愿者上门。")
    page.get_by_role("button", name="核实并发布").click()
    expect(page.get_by_role("alert")).to_contain_text("已核实并发布到心愿墙。")
    expect(page.locator("#wish-state")).to_have_text("已发布")

    # A member finds it on the wall, claims it and reports it fulfilled.
    sign_out(page)
    login_in_browser(page, member_a.user.username, DEFAULT_PASSWORD)
    page.goto("/wishes/")
    card = page.locator(".wish-card", has_text="修理漏水的水龙头")
    expect(card).to_contain_text("张**")
    card.get_by_role("link").click()
    page.get_by_role("button", name="认领这个心愿").click()
    expect(page.get_by_role("alert")).to_contain_text("认领成功")
    expect(page.locator("#contact-phone")).to_have_text("13900001234")
    expect(page.locator("#claimer-name")).to_have_text("李明")  # himself, not the public 李**
    page.get_by_role("link", name="登记实现情况").click()
    yesterday = timezone.localdate() - timedelta(days=1)
    page.get_by_label("实现情况").fill("已上门更换了水龙头阀芯。")
    page.get_by_label("服务开始时间").fill(f"{yesterday:%Y-%m-%d}T09:00")
    page.get_by_label("服务结束时间").fill(f"{yesterday:%Y-%m-%d}T10:30")
    page.get_by_role("button", name="提交，请居民确认").click()
    expect(page.get_by_role("alert")).to_contain_text("已登记实现情况")
    expect(page.locator("#wish-state")).to_have_text("已实现")

    # The resident rates it through the link in the SMS.
    sign_out(page)
    wish = MicroWish.objects.get(tracking_code=code)
    page.goto(f"/wishes/feedback/{feedback_token(wish)}/")
    page.get_by_label("★★★★★", exact=True).check()
    page.get_by_role("button", name="确认已实现并提交评价").click()
    expect(page.locator("#feedback-done")).to_have_text("感谢您的评价！")

    # The secretary confirms the service.
    login_in_browser(page, "secretary_a", DEFAULT_PASSWORD)
    page.goto("/wishes/review/?tab=confirm")
    page.get_by_role("link", name="修理漏水的水龙头").click()
    page.get_by_role("button", name="确认服务并办结").click()
    expect(page.get_by_role("alert")).to_contain_text("已确认服务")

    # The member's record and points appear.
    sign_out(page)
    login_in_browser(page, member_a.user.username, DEFAULT_PASSWORD)
    page.goto("/me/records/")
    expect(page.locator("#records")).to_contain_text("实现微心愿：修理漏水的水龙头")
    expect(page.locator("#total-hours")).to_have_text("1.50")
    page.goto("/me/points/")
    expect(page.locator("#points-balance")).to_have_text("60")  # 1.5 h × 10, the wish 20, five stars × 5
    expect(page.locator("#entries")).to_contain_text("居民评价 5 星：心愿《修理漏水的水龙头》")


def test_a_visitor_narrows_the_wall_to_a_community_and_then_a_grid(phone_page, org_tree, secretary_a):
    """The wall offers grids only once a community is chosen (a district has hundreds of them)."""
    second = Grid.objects.create(name="二网格", community=org_tree.community_a)
    wish_in_state("published", org_tree.community_a, secretary_a, grid=org_tree.grid_a)
    wish_in_state("published", org_tree.community_a, secretary_a, grid=second)
    wish_in_state("published", org_tree.community_b, secretary_a, grid=org_tree.grid_b)
    page = phone_page

    page.goto("/wishes/")
    expect(page.locator(".wish-card")).to_have_count(3)
    expect(page.locator("#id_grid")).to_be_disabled()
    expect(page.locator("#grid-hint")).to_have_text("选择社区并筛选后可按网格筛选。")

    page.get_by_label("社区（村）").select_option(label="东风村")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator(".wish-card")).to_have_count(2)
    grid = page.get_by_label("网格")
    expect(grid).to_be_enabled()
    expect(grid.locator("option")).to_have_text(["全部网格", "东风村 · 一网格", "东风村 · 二网格"])

    grid.select_option(label="东风村 · 二网格")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator(".wish-card")).to_have_count(1)
    expect(page.locator(".wish-card")).to_contain_text("东风村 · 二网格")

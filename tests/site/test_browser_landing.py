"""Browser journeys of the landings: a member signs in on a phone and lands on 我的 with their next actions and a
menu grouped by what they do (no 管理); a secretary signs in at a desk, lands on the 工作台 and follows a count of
需要您处理 to its queue, which shows that many rows."""

import re

import pytest
from playwright.sync_api import expect

from projects import services as project_services
from tests.conftest import login_in_browser
from tests.demands.factories import submit_wish, wish_in_state
from tests.factories import DEFAULT_PASSWORD
from tests.projects.factories import ActivityFactory, ProjectFactory, days_ahead_at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_lands_on_their_next_actions_and_a_grouped_menu_on_a_phone(
    phone_page, org_tree, secretary_a, member_a
):
    activity = ActivityFactory(
        project=ProjectFactory(organization=org_tree.branch_a), title="周六陪伴老人", starts_at=days_ahead_at(2)
    )
    project_services.signup_create(activity=activity, member=member_a)
    wish = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a, title="帮老人买菜")
    page = phone_page

    login_in_browser(page, member_a.user.username, DEFAULT_PASSWORD)
    expect(page).to_have_url(re.compile(r"/me/$"))
    next_actions = page.locator("#next-actions")
    expect(next_actions.get_by_role("link", name="周六陪伴老人")).to_be_visible()
    expect(next_actions.get_by_role("link", name="帮老人买菜")).to_be_visible()
    expect(page.locator("#next-unread")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"/me/ is {width} px wide on a 390 px screen"

    page.locator(".navbar-toggler").tap()
    expect(page.locator("#site-nav")).to_have_class(re.compile(r"\bshow\b"))
    for section in ("#nav-wishes", "#nav-service", "#nav-mine"):
        expect(page.locator(section)).to_be_visible()
    expect(page.locator("#nav-manage")).to_have_count(0)  # a member who is no secretary
    page.locator("#nav-mine").tap()
    mine = page.locator('[aria-labelledby="nav-mine"]')
    expect(mine.get_by_role("link")).to_have_text(["我的主页", "服务记录", "我的积分", "积分兑换", "我的消息"])
    page.locator("#nav-service").tap()
    page.locator('[aria-labelledby="nav-service"]').get_by_role("link", name="我的活动").tap()
    expect(page).to_have_url(re.compile(r"/me/activities/$"))

    page.go_back()
    page.locator("#next-wishes").get_by_role("link", name="帮老人买菜").tap()
    expect(page).to_have_url(re.compile(rf"/wishes/{wish.pk}/$"))


def test_a_secretary_lands_on_the_workbench_and_follows_a_count_to_its_queue(page, org_tree, secretary_a):
    for _i in range(3):
        submit_wish(org_tree.community_a)
    submit_wish(org_tree.community_b)  # another branch's: not counted

    login_in_browser(page, secretary_a.username, DEFAULT_PASSWORD)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    count = page.locator("#waiting-wishes-to-verify [data-count]")
    expect(count).to_have_text("3")
    page.locator("#waiting-wishes-to-verify").click()
    expect(page).to_have_url(re.compile(r"/wishes/review/\?tab=submitted$"))
    expect(page.locator("#review-queue tbody tr")).to_have_count(3)

"""Browser journey at phone size (390×844): a visitor finds the newest public 活动风采 on the home page with its photo
and opens it; a member finds their branch's notice on 我的主页; a secretary sends a message after seeing the count."""

import pytest
from playwright.sync_api import expect

from notifications.models import Notification
from tests.conftest import login_in_browser
from tests.factories import DEFAULT_PASSWORD
from tests.news.conftest import picture, published

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_visitor_reads_the_news_on_the_home_page_on_a_phone(
    phone_page, org_tree, secretary_a, co_admin_a, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    story = published(
        secretary_a,
        co_admin_a,
        org_tree.branch_a,
        kind="story",
        audience="public",
        title="重阳节走访慰问",
        photo=picture(),
    )
    published(secretary_a, co_admin_a, org_tree.branch_a, title="支部内部通知")

    phone_page.goto("/")
    news = phone_page.locator("#news-latest")
    expect(news).to_contain_text("重阳节走访慰问")
    expect(news).not_to_contain_text("支部内部通知")
    thumb = news.locator("img.news-thumb")
    expect(thumb).to_be_visible()
    # The photo view answered with a picture: decode() waits for the image to load (visible comes first: a
    # reading at once gave 0 once in CI) and fails if it is not a picture.
    assert thumb.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    box = news.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390  # no sideways scrolling

    news.get_by_role("link", name="重阳节走访慰问").click()
    expect(phone_page.locator("#news-detail h1")).to_have_text("重阳节走访慰问")
    expect(phone_page.locator("#news-detail figure img")).to_be_visible()
    assert phone_page.url.endswith(f"/news/{story.pk}/")


def test_a_member_sees_the_branch_notice_on_their_page(phone_page, org_tree, secretary_a, co_admin_a, member_a):
    published(secretary_a, co_admin_a, org_tree.branch_a, title="本周六主题党日活动安排")

    login_in_browser(phone_page, "member_a", DEFAULT_PASSWORD)
    phone_page.goto("/me/")
    expect(phone_page.locator("#news-latest")).to_contain_text("本周六主题党日活动安排")
    phone_page.locator("#news-latest").get_by_role("link", name="查看全部").click()
    expect(phone_page.locator("#news-list")).to_contain_text("本周六主题党日活动安排")


def test_a_secretary_sees_the_count_then_sends(page, org_tree, secretary_a, member_a):
    login_in_browser(page, "secretary_a", DEFAULT_PASSWORD)
    page.goto("/dashboard/messages/new/")
    page.select_option("select[name=organization]", str(org_tree.branch_a.pk))
    page.fill("input[name=subject]", "周六集中清扫")
    page.fill("textarea[name=body]", "请于周六上午九点到党群服务中心集合。")
    page.get_by_role("button", name="下一步：确认收件人数").click()
    expect(page.locator("#broadcast-count")).to_have_text("将发送给 2 名党员")
    page.get_by_role("button", name="确认发送").click()
    expect(page.locator(".alert-success")).to_contain_text("2 名党员")
    assert Notification.objects.filter(template="news_broadcast", channel="inapp").count() == 2


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def test_the_news_pages_have_no_serious_accessibility_finding(
    _playwright_browser, live_server, org_tree, secretary_a, co_admin_a, member_a, settings, tmp_path
):
    from tests.conftest import _new_page
    from tests.site.test_accessibility import axe_findings, describe

    settings.MEDIA_ROOT = tmp_path
    story = published(
        secretary_a, co_admin_a, org_tree.branch_a, kind="story", audience="public", title="重阳节走访", photo=picture()
    )
    published(secretary_a, co_admin_a, org_tree.branch_a, title="支部通知")
    context, page = _new_page(_playwright_browser, live_server, bypass_csp=True, **PHONE)
    try:
        checked = []
        for url in ("/", "/news/", f"/news/{story.pk}/"):
            page.goto(url)
            checked.append((url, axe_findings(page)))
        login_in_browser(page, "member_a", DEFAULT_PASSWORD)
        page.goto("/me/")
        expect(page.locator("#news-latest")).to_contain_text("支部通知")
        checked.append(("/me/", axe_findings(page)))
        page.context.clear_cookies()
        login_in_browser(page, "secretary_a", DEFAULT_PASSWORD)
        page.goto("/dashboard/messages/new/")
        checked.append(("broadcast form", axe_findings(page)))
        page.select_option("select[name=organization]", str(org_tree.branch_a.pk))
        page.fill("input[name=subject]", "通知")
        page.fill("textarea[name=body]", "内容")
        page.get_by_role("button", name="下一步：确认收件人数").click()
        checked.append(("broadcast confirm", axe_findings(page)))
    finally:
        context.close()
    failing = {url: describe(findings) for url, findings in checked if findings}
    assert not failing, "\n".join(f"{url}:\n{text}" for url, text in failing.items())

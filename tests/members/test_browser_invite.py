"""Browser journey: a secretary invites a new member from the admin roster, the member accepts on their phone,
and the secretary then sees the member, with the name they filled in, in the roster."""

import re

import pytest
from playwright.sync_api import expect

from members import services
from members.models import Member, Tag
from tests.factories import DEFAULT_PASSWORD
from tests.members.factories import TagFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "Qiuzhi-2025-xingfu"


def test_secretary_invites_member_accepts_and_appears_in_the_roster(
    page, phone_page, live_server, org_tree, secretary_a, sms_outbox
):
    TagFactory(kind=Tag.Kind.SKILL, name="理发")
    newcomer = services.member_create(name="刘阳", phone="13912345678", organization=org_tree.branch_a, actor=None)

    # The secretary signs into the admin and sends the invitation from the roster.
    page.goto("/admin/")
    page.fill("#id_username", "secretary_a")
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.locator("#login-form [type=submit]").click()
    page.goto("/admin/members/member/")
    page.locator("#result_list tr", has_text="刘阳").locator("input.action-select").check()
    page.select_option("select[name=action]", "invite_selected")
    page.locator("button[name=index]").click()
    expect(page.locator(".messagelist")).to_contain_text("已向 1 名党员发送邀请短信")
    message = page.locator(".messagelist li", has=page.locator("a.invitation-link"))
    expect(message).to_contain_text(f"刘阳（{newcomer.volunteer_number}）")
    url = message.locator("a.invitation-link").get_attribute("href")
    assert re.match(rf"{live_server.url}/accounts/invite/[^/]+/[^/]+/$", url), url
    assert any(url in sms.text and sms.phone == "13912345678" for sms in sms_outbox)

    # The member opens the link on their phone, sets a password and completes the profile.
    phone_page.goto(url)
    expect(phone_page).to_have_url(re.compile(r"/accounts/invite/[^/]+/set-password/$"))
    expect(phone_page.locator("h1")).to_have_text("开通账号")
    phone_page.fill("#id_new_password1", NEW_PASSWORD)
    phone_page.fill("#id_new_password2", NEW_PASSWORD)
    phone_page.fill("#id_name", "刘洋")
    phone_page.select_option("#id_gender", "female")
    phone_page.fill("#id_birth_year", "1990")
    phone_page.get_by_label("理发").check()
    phone_page.get_by_label("周六上午").check()
    phone_page.get_by_label("周三晚上").check()
    phone_page.get_by_label("同意在公开页面显示我的全名").check()
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the form is {width} px wide on a 390 px screen"
    phone_page.get_by_role("button", name="完成并登录").click()

    expect(phone_page).to_have_url(f"{live_server.url}/me/")
    expect(phone_page.locator("#profile-name")).to_have_text("刘洋")
    expect(phone_page.locator("#profile-number")).to_have_text(newcomer.volunteer_number)
    expect(phone_page.locator("#profile")).to_contain_text("理发")
    expect(phone_page.locator("#profile")).to_contain_text("139****5678")

    # The link was used once: opening it again shows the clear page.
    phone_page.goto(url)
    expect(phone_page.locator("h1")).to_have_text("邀请链接已失效")

    # The secretary sees the member in the roster with the name they filled in.
    page.goto("/admin/members/member/")
    row = page.locator("#result_list tr", has_text=newcomer.volunteer_number)
    expect(row).to_contain_text("刘洋")
    member = Member.objects.get(pk=newcomer.pk)
    assert member.user.check_password(NEW_PASSWORD)
    assert member.show_full_name_publicly

"""On a phone: a member who forgot their password sets a new one with a code texted to them, and next time signs in
with a code alone; a member signs in with a code (read from the test SMS backend) and claims a wish."""

import re

import pytest
from playwright.sync_api import expect

from tests.demands.factories import wish_in_state
from tests.members.factories import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "13912340000"


def _last_code(sms_outbox) -> str:
    assert sms_outbox and sms_outbox[-1].phone == PHONE
    return re.search(r"\d{6}", sms_outbox[-1].text).group()


def test_forgotten_password_then_sign_in_by_code_on_a_phone(phone_page, sms_outbox, settings):
    settings.SIGN_IN_CODE_RESEND_LIMIT = (2, 60)  # one number gets two codes within the minute here
    page = phone_page
    MemberFactory(phone=PHONE, name="周红", user__username="zhouhong")

    page.goto("/accounts/login/")
    page.get_by_role("link", name="忘记密码？").click()
    expect(page.get_by_role("heading", name="重设密码")).to_be_visible()
    page.get_by_label("手机号").fill("139 1234 0000")
    page.get_by_role("button", name="获取验证码").click()
    expect(page.locator("#code-sent-note")).to_contain_text("139****0000")
    page.get_by_label("短信验证码").fill(_last_code(sms_outbox))
    page.locator("#id_new_password1").fill("Zhiyuan-2026-xin")
    page.get_by_label("再次输入新密码").fill("Zhiyuan-2026-xin")
    page.get_by_role("button", name="设置新密码并登录").click()
    expect(page).to_have_url(re.compile(r"/me/$"))
    expect(page.locator(".alert-success")).to_contain_text("密码已重设")

    page.locator("#site-nav").evaluate("nav => nav.classList.add('show')")  # the collapsed menu, opened
    page.locator("#logout-form button").click()
    page.goto("/accounts/login/")
    page.get_by_role("link", name="用短信验证码登录").click()
    page.get_by_label("手机号").fill(PHONE)
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_label("短信验证码").fill("000000" if _last_code(sms_outbox) != "000000" else "111111")
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#code-form")).to_contain_text("验证码不正确或已失效")
    page.get_by_label("短信验证码").fill(_last_code(sms_outbox))
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/me/$"))
    expect(page.locator("#nav-user")).to_be_attached()


def test_a_member_signs_in_with_a_code_and_claims_a_wish(phone_page, sms_outbox, org_tree, secretary_a, member_a):
    page = phone_page
    wish = wish_in_state("published", org_tree.community_a, secretary_a, phone="13900001234", grid=org_tree.grid_a)

    page.goto(f"/accounts/login/code/?next=/wishes/{wish.pk}/")
    page.get_by_label("手机号").fill(member_a.phone)
    page.get_by_role("button", name="获取验证码").click()
    code = re.search(r"\d{6}", [m for m in sms_outbox if m.phone == member_a.phone][-1].text).group()
    page.get_by_label("短信验证码").fill(code)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(rf"/wishes/{wish.pk}/$"))
    page.get_by_role("button", name="认领这个心愿").click()
    expect(page.get_by_role("alert")).to_contain_text("认领成功")
    expect(page.locator("#claimer-name")).to_have_text("李明")

"""In a browser: a platform admin's first sign-in sets up the second factor with the key the page shows, keeps the
recovery codes, and reaches the admin; the next sign-in asks for the app's code."""

import base64
import re

import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

from tests.conftest import login_in_browser
from tests.factories import DEFAULT_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _code_for(shown_key: str) -> str:
    return f"{totp(base64.b32decode(shown_key.replace(' ', ''))):06d}"


def test_a_platform_admin_sets_up_the_second_factor_and_is_asked_for_it_next_time(page, platform_admin, settings):
    settings.SECOND_FACTOR_FOR_ADMINS = True
    login_in_browser(page, platform_admin.username, DEFAULT_PASSWORD)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/setup/"))
    expect(page.locator("#second-factor-required")).to_be_visible()
    expect(page.locator("#second-factor-qr svg")).to_be_visible()
    key = page.locator("#second-factor-key").inner_text()
    page.get_by_label("验证码").fill(_code_for(key))
    page.get_by_role("button", name="开启两步验证").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    codes = page.locator("#recovery-codes li").all_inner_texts()
    page.locator("#second-factor-continue").click()
    page.goto("/admin/")
    expect(page.locator("#site-name")).to_be_visible()

    page.context.clear_cookies()
    login_in_browser(page, platform_admin.username, DEFAULT_PASSWORD)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/"))
    page.get_by_label("验证码").fill("000000" if _code_for(key) != "000000" else "111111")
    page.get_by_role("button", name="验证").click()
    expect(page.locator("#second-factor-form")).to_contain_text("验证码不正确")
    page.get_by_label("验证码").fill(codes[0])  # the phone is elsewhere: a recovery code
    page.get_by_role("button", name="验证").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$|/$"))
    page.goto("/admin/")
    expect(page.locator("#site-name")).to_be_visible()

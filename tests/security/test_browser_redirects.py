"""Browser journey: where a member is sent back to. From an activity, "登录后报名" signs them in and returns them to
the activity; the language switch keeps them on the page they were reading; a sign-in link whose `next` is a bare
word or another site lands where a sign-in without `next` lands (a member's own page); an over-long username is
refused on the form."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import DEFAULT_PASSWORD
from tests.projects.factories import ActivityFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, username: str, password: str = DEFAULT_PASSWORD) -> None:
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form#login-form [type=submit]")
    page.wait_for_load_state()


def _open_menu(page) -> None:
    """Unfold the phone's menu and wait until it has finished opening: a click on a language while Bootstrap was
    still animating the menu (class "collapsing") submitted nothing once in make test (10 s without navigation)."""
    page.locator(".navbar-toggler").click()
    expect(page.locator("#site-nav")).to_have_class(re.compile(r"\bshow\b"))


def test_a_member_comes_back_where_they_were(phone_page, member_a, org_tree):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    detail = f"/activities/{activity.pk}/"

    phone_page.goto(detail)
    phone_page.get_by_role("link", name="登录后报名").click()
    expect(phone_page).to_have_url(f"/accounts/login/?next={detail}")
    _sign_in(phone_page, "member_a")
    expect(phone_page).to_have_url(detail)
    phone_page.locator("#signup-form button[type=submit]").click()
    expect(phone_page).to_have_url(detail)
    expect(phone_page.locator("#signup-status")).to_contain_text("已报名")

    # The language switch returns to the page, now in English, and back.
    phone_page.goto("/projects/?seats=on")
    _open_menu(phone_page)  # the menu is folded on a phone
    with phone_page.expect_navigation():  # the page is already at this address: wait for the switch's answer
        phone_page.locator("#language-form button[lang=en]").click()
    expect(phone_page).to_have_url("/projects/?seats=on")
    expect(phone_page.locator("html")).to_have_attribute("lang", "en")
    _open_menu(phone_page)
    with phone_page.expect_navigation():
        phone_page.locator("#language-form button[lang=zh-hans]").click()
    expect(phone_page).to_have_url("/projects/?seats=on")
    expect(phone_page.locator("html")).to_have_attribute("lang", "zh-hans")


@pytest.mark.parametrize("next_url", ["undefined", "//evil.example/", "https://evil.example/"])
def test_a_sign_in_link_to_elsewhere_lands_on_the_members_own_page(page, member_a, next_url):
    page.goto(f"/accounts/login/?next={next_url}")
    _sign_in(page, "member_a")
    expect(page).to_have_url("/me/")


def test_an_over_long_username_is_refused_on_the_form(page, db):
    page.goto("/accounts/login/")
    # The input stops at 150 characters as a person types; a script (or a pasted value through the DOM) does not.
    script = "el => { el.removeAttribute('maxlength'); el.value = 'x'.repeat(300); }"
    page.eval_on_selector("input[name=username]", script)
    page.fill("input[name=password]", "whatever")
    page.click("form#login-form [type=submit]")
    expect(page.locator("form#login-form")).to_contain_text("150")
    expect(page.locator("form#login-form")).to_contain_text("300")

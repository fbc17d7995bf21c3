"""Browser journeys on the site's own pages (Playwright on the system Chromium)."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import login_in_browser
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_visitor_switches_to_english_and_signs_in(page, live_server):
    UserFactory(username="zhangwei", first_name="Wei", last_name="Zhang")

    page.goto("/")
    expect(page.locator("h1")).to_have_text("党员志愿服务平台")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    page.get_by_role("button", name="English").click()
    expect(page.locator("h1")).to_have_text("Party Member Volunteer Service Platform")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")

    login_in_browser(page, "zhangwei", DEFAULT_PASSWORD)

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("#nav-user")).to_have_text("Wei Zhang")
    expect(page.locator("h1")).to_have_text("Party Member Volunteer Service Platform")  # the language stays

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#nav-login")).to_be_visible()
    expect(page.locator("#nav-user")).to_have_count(0)


def test_phone_menu_opens_with_the_toggler(phone_page):
    phone_page.goto("/")
    menu = phone_page.locator("#site-nav")
    expect(menu).to_be_hidden()
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px screen"

    phone_page.locator(".navbar-toggler").tap()

    expect(menu).to_have_class(re.compile(r"\bshow\b"))  # the collapse transition has finished
    expect(menu).to_be_visible()
    expect(phone_page.locator(".navbar-toggler")).to_have_attribute("aria-expanded", "true")
    expect(phone_page.locator("#nav-login")).to_be_visible()
    phone_page.locator("#nav-wishes").tap()
    expect(phone_page.locator('[aria-labelledby="nav-wishes"]').get_by_role("link", name="心愿墙")).to_be_visible()

    phone_page.get_by_role("button", name="English").tap()
    expect(phone_page.locator("h1")).to_have_text("Party Member Volunteer Service Platform")

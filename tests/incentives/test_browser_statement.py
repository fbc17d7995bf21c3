"""On a phone: the member's points history reads as what happened — 居民评价 5 星：心愿《…》 — not as the rule list."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import login_in_browser
from tests.demands.factories import wish_category, wish_in_state
from tests.factories import DEFAULT_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_points_history_on_a_phone_says_what_happened(phone_page, org_tree, secretary_a, member_a):
    wish_in_state("closed", org_tree.community_a, secretary_a, member_a, category=wish_category("助老"))

    login_in_browser(phone_page, member_a.user.username, DEFAULT_PASSWORD)
    phone_page.goto("/me/points/")

    entries = phone_page.locator("#entries .entry-text")
    expect(entries.filter(has_text="居民评价 5 星")).to_have_text("居民评价 5 星：心愿《修理水龙头》")
    expect(entries.filter(has_text=re.compile("^实现微心愿"))).to_have_text("实现微心愿《修理水龙头》")
    expect(phone_page.locator("#entries")).not_to_contain_text("（每星）")

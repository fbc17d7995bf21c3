"""The roster import page's instructions: the bullets of the list sit inside the help text's column, not in the
margin to its left (the admin's page on a desktop)."""

import pytest

from tests.conftest import login_in_browser
from tests.factories import DEFAULT_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_import_instructions_bullets_stay_inside_the_text(page, platform_admin):
    login_in_browser(page, platform_admin.username, DEFAULT_PASSWORD)
    page.goto("/admin/members/member/import/")
    help_box = page.locator(".roster-import-help")
    items = help_box.locator("li")
    assert items.count() == 5
    text_left = help_box.locator("p").first.bounding_box()["x"]
    marker = items.first.evaluate(
        "li => { const s = getComputedStyle(li); return [s.listStylePosition, s.listStyleType]; }"
    )
    item_left = items.first.bounding_box()["x"]
    # An outside marker is drawn about 1em left of its item: the item must be indented past the text by that much.
    assert marker[1] != "none"
    assert marker[0] == "inside" or item_left - text_left >= 12, (marker, item_left, text_left)

"""At phone width (390 px) the layout holds, measured in the browser: the site title leaves the menu button beside
it (also in English, whose title is long), table headings and dates are not broken across lines, and check boxes
and radios are touch targets of at least 24 × 24 px."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import login_in_browser
from tests.factories import DEFAULT_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MIN_TARGET = 24  # px, WCAG 2.2 success criterion 2.5.8 (target size, minimum)

# The lines a piece of text takes: the distinct tops of its line boxes (rects closer than 4 px are one line).
_LINES_JS = """
function linesOf(range) {
  const tops = [...range.getClientRects()].filter((r) => r.width > 0).map((r) => r.top).sort((a, b) => a - b);
  return tops.filter((top, i) => i === 0 || top - tops[i - 1] > 4).length;
}
function textNodes(root) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) if (walker.currentNode.textContent.trim()) nodes.push(walker.currentNode);
  return nodes;
}
"""

BROKEN_HEADINGS_JS = (
    "() => {"
    + _LINES_JS
    + """
  return [...document.querySelectorAll("main table thead th")].filter((th) => th.offsetParent !== null)
    .flatMap((th) => textNodes(th).map((node) => {
      const range = document.createRange();
      range.selectNodeContents(node);
      return [node.textContent.trim(), linesOf(range)];
    }))
    .filter(([, lines]) => lines > 1);
}"""
)

BROKEN_DATES_JS = (
    "() => {"
    + _LINES_JS
    + """
  const found = [];
  for (const node of textNodes(document.querySelector("main"))) {
    if (node.parentElement.closest(".visually-hidden")) continue;
    for (const match of node.textContent.matchAll(/\\d{4}-\\d{1,2}-\\d{1,2}/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = linesOf(range);
      if (lines > 1) found.push([match[0], lines]);
    }
  }
  return found;
}"""
)

# The visible check boxes and radios of the page (the honeypot's are out of sight) with their size.
TARGETS_JS = """() =>
  [...document.querySelectorAll("main input[type=checkbox], main input[type=radio]")]
    .filter((input) => input.offsetParent !== null && !input.closest(".hp-field"))
    .map((input) => [input.name || input.id, input.getBoundingClientRect()])
    .map(([name, box]) => [name, Math.round(box.width), Math.round(box.height)])
"""


def small_targets(page) -> list:
    return [target for target in page.evaluate(TARGETS_JS) if min(target[1:]) < MIN_TARGET]


def assert_title_beside_menu_button(page):
    brand = page.locator(".site-navbar .navbar-brand").bounding_box()
    toggler = page.locator(".site-navbar .navbar-toggler").bounding_box()
    assert toggler["y"] < brand["y"] + brand["height"], f"the menu button {toggler} is below the title {brand}"
    assert toggler["x"] >= brand["x"] + brand["width"], f"the menu button {toggler} overlaps the title {brand}"
    assert toggler["x"] + toggler["width"] <= 390


def test_the_title_leaves_the_menu_button_beside_it_in_both_languages(phone_page):
    phone_page.goto("/")
    assert_title_beside_menu_button(phone_page)

    phone_page.locator(".navbar-toggler").tap()
    expect(phone_page.locator("#site-nav")).to_have_class(re.compile(r"\bshow\b"))  # the menu has opened
    phone_page.get_by_role("button", name="English").tap()
    expect(phone_page.locator("html")).to_have_attribute("lang", "en")
    expect(phone_page.locator(".navbar-brand")).to_have_text("Party Member Volunteer Service Platform")
    assert_title_beside_menu_button(phone_page)


@pytest.mark.parametrize("path", ["/me/points/", "/training/", "/me/records/", "/me/", "/rewards/"])
def test_table_headings_and_dates_keep_to_one_line(phone_page, world, path):
    login_in_browser(phone_page, "member_a", DEFAULT_PASSWORD)
    phone_page.goto(path)
    expect(phone_page.locator("main")).to_be_visible()

    assert phone_page.evaluate(BROKEN_HEADINGS_JS) == []
    assert phone_page.evaluate(BROKEN_DATES_JS) == []
    # A table too wide for the phone scrolls inside its wrapper; the page itself never scrolls sideways.
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px screen"


def test_the_measures_see_a_broken_heading_and_date(phone_page, db):
    """The measures can fail: a heading and a date squeezed into a narrow column are reported."""
    phone_page.set_content(
        "<main><table style='width:1px'><thead><tr><th>剩余名额</th></tr></thead>"
        "<tbody><tr><td>2026-12-09</td></tr></tbody></table>"
        "<input type=checkbox name=small></main>"
    )
    assert phone_page.evaluate(BROKEN_HEADINGS_JS) == [["剩余名额", 2]]
    assert phone_page.evaluate(BROKEN_DATES_JS)[0][0] == "2026-12-09"
    assert small_targets(phone_page) == [["small", 13, 13]]


def test_check_boxes_and_radios_are_touch_targets(phone_page, world):
    for path in ("/wishes/new/", f"/wishes/feedback/{world.feedback_token}/", "/projects/"):
        phone_page.goto(path)
        assert phone_page.evaluate(TARGETS_JS), f"{path} has no check box or radio"
        assert small_targets(phone_page) == [], path

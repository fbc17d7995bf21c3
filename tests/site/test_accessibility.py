"""Accessibility: axe-core runs on every main page, with real content on it, and any critical or serious finding
fails the test with the findings printed (rule, impact, the elements and axe's summary of why).

axe-core comes from the npm registry (tests/static/axe/README.md) and lives under tests/: it is injected into the
page by Playwright and never served to users. The page's Content-Security-Policy (script-src 'self') would refuse
an injected script, so these pages are opened in a browser context that bypasses CSP; the pages are unchanged.
Residents' and members' pages are checked at phone size, the secretaries' at desktop size, as they are used.
"""

from pathlib import Path

import pytest

from tests.conftest import _new_page, login_in_browser
from tests.factories import DEFAULT_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parent.parent / "static" / "axe" / "axe.min.js"
FAILING_IMPACTS = ("critical", "serious")
# Also failing whatever their impact: a repeated id (axe ships these rules off, since WCAG 2.2 dropped 4.1.1 — but a
# label then names the wrong field) and a table heading without text (read out as nothing).
ALSO_FAILING = ("duplicate-id", "duplicate-id-active", "duplicate-id-aria", "empty-table-header")
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def track_the_wish(page, world):
    """The resident's status page, reached through the tracking form."""
    page.goto("/wishes/track/")
    page.fill("input[name=code]", world.submitted.tracking_code)
    page.fill("input[name=last4]", "9876")
    page.locator("main form [type=submit]").click()
    page.wait_for_url("**/wishes/track/status/")


def ask_for_a_reset_code(page, world):
    """The code and new-password page of a forgotten password, reached through its number form."""
    page.goto("/accounts/password/reset/")
    page.fill("input[name=phone]", "13900000000")  # any number: an unknown one gets the same page
    page.locator("main form [type=submit]").click()
    page.wait_for_url("**/accounts/password/reset/confirm/")


# (id, who signs in, size, path or a function of (page, world) that opens the page)
PAGES = [
    ("home", None, PHONE, "/"),
    ("wall", None, PHONE, "/wishes/"),
    ("wish", None, PHONE, lambda page, w: page.goto(f"/wishes/{w.published.pk}/")),
    ("wish-form", None, PHONE, "/wishes/new/"),
    ("track", None, PHONE, "/wishes/track/"),
    ("track-status", None, PHONE, track_the_wish),
    ("feedback", None, PHONE, lambda page, w: page.goto(f"/wishes/feedback/{w.feedback_token}/")),
    ("projects", None, PHONE, "/projects/"),
    ("sign-in", None, PHONE, "/accounts/login/"),
    ("password-reset-code", None, PHONE, ask_for_a_reset_code),
    ("project", None, PHONE, "/projects/silver/"),
    ("activity", "member_a", PHONE, lambda page, w: page.goto(f"/activities/{w.activity.pk}/")),
    ("me", "member_a", PHONE, "/me/"),
    ("points", "member_a", PHONE, "/me/points/"),
    ("leaderboard", "member_a", PHONE, "/me/points/leaderboard/"),
    ("records", "member_a", PHONE, "/me/records/"),
    ("rewards", "member_a", PHONE, "/rewards/"),
    ("training", "member_a", PHONE, "/training/"),
    ("claimed-wish", "member_a", PHONE, lambda page, w: page.goto(f"/wishes/{w.claimed.pk}/")),
    ("dashboard", "secretary_a", DESKTOP, "/dashboard/"),
    ("review-queue", "secretary_a", DESKTOP, "/wishes/review/"),
    ("review-wish", "secretary_a", DESKTOP, lambda page, w: page.goto(f"/wishes/review/{w.submitted.pk}/")),
]


def axe_findings(page) -> list[dict]:
    """The critical and serious violations axe-core finds on the page as it stands, and those of ALSO_FAILING."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate(
        """async (extra) => await axe.run(document, {
            resultTypes: ['violations'],
            rules: Object.fromEntries(extra.map((id) => [id, {enabled: true}])),
        })""",
        list(ALSO_FAILING),
    )
    return [v for v in results["violations"] if v["impact"] in FAILING_IMPACTS or v["id"] in ALSO_FAILING]


def describe(findings: list[dict]) -> str:
    lines = []
    for finding in findings:
        lines.append(f"[{finding['impact']}] {finding['id']}: {finding['help']} ({finding['helpUrl']})")
        for node in finding["nodes"][:10]:
            lines.append(f"    {' '.join(node['target'])}")
            lines.extend(f"        {line}" for line in node["failureSummary"].splitlines())
            lines.append(f"        {node['html'][:200]}")
    return "\n".join(lines)


@pytest.mark.parametrize("who", ["anonymous", "member_a", "secretary_a"])
def test_no_critical_or_serious_finding(_playwright_browser, live_server, world, who):
    """Each person's pages in one browser context, signed in once; every page is checked before the test fails, and
    the failure names each page with its findings."""
    pages = [(name, size, where) for name, signer, size, where in PAGES if (signer or "anonymous") == who]
    context, page = _new_page(_playwright_browser, live_server, bypass_csp=True, **pages[0][1])
    failures = []
    try:
        if who != "anonymous":
            login_in_browser(page, who, DEFAULT_PASSWORD)
        for name, _size, where in pages:
            opened = page.goto(where) if isinstance(where, str) else where(page, world)
            if opened is not None and opened.status != 200:
                failures.append(f"{name}: {page.url} answered {opened.status}")
                continue
            page.wait_for_load_state("networkidle")
            findings = axe_findings(page)
            if findings:
                failures.append(f"{name}: axe-core on {page.url}:\n{describe(findings)}")
    finally:
        context.close()
    assert not failures, "\n\n".join(failures)


def test_each_person_sees_their_pages_at_one_size():
    """The grouping above opens one context per person: their pages must share a size."""
    sizes = {}
    for _name, signer, size, _where in PAGES:
        assert sizes.setdefault(signer, size) == size, signer


def test_axe_reports_a_serious_finding(_playwright_browser, live_server, db):
    """The check can fail: a page with grey text on grey is reported as a serious colour-contrast finding."""
    context, page = _new_page(_playwright_browser, live_server, bypass_csp=True, **DESKTOP)
    try:
        page.set_content(
            '<html lang="en"><head><title>t</title></head><body><main>'
            '<p style="color:#999;background:#aaa">hard to read</p></main></body></html>'
        )
        findings = axe_findings(page)
        assert [f["id"] for f in findings] == ["color-contrast"]
    finally:
        context.close()

"""Browser journey: the east committee's secretary opens the dashboard, drills down to branch A, exports the Excel
file, and the file opens (openpyxl) with the figures the page showed."""

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.conftest import login_in_browser
from tests.factories import DEFAULT_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_secretary_drills_down_and_exports(page, street, tmp_path):
    login_in_browser(page, street.east_secretary.username, DEFAULT_PASSWORD)
    page.goto("/")
    page.locator("#nav-manage").click()
    page.locator("#nav-dashboard").click()
    expect(page.locator("#dashboard-title")).to_contain_text("东社区党委")

    # Last year's figures through the period form, then down to the branch from the league table.
    page.fill("#period-from", "2025-01-01")
    page.fill("#period-to", "2025-12-31")
    page.locator("#period-form button[type=submit]").click()
    page.locator("#league").get_by_role("link", name="东一支部").click()
    expect(page.locator("#dashboard-title")).to_contain_text("东一支部")
    expect(page.locator("#fig-hours")).to_have_text("6.00")
    shown = {
        "members": page.locator("#fig-members").inner_text(),
        "participation": page.locator("#fig-participation").inner_text(),
        "hours": page.locator("#fig-hours").inner_text(),
        "wishes": page.locator("#fig-wishes").inner_text(),
    }

    with page.expect_download() as download_info:
        page.locator("#export-figures").click()
    path = tmp_path / "figures.xlsx"
    download_info.value.save_as(path)
    # Not read_only, which drops a trailing empty cell (a mean of nobody).
    values = dict(list(load_workbook(path).active.iter_rows(values_only=True))[1:])

    assert values["党组织"] == "东一支部"
    assert shown["members"] == f"{values['活跃党员（近90天有服务）']} / {values['在册党员']}" == "1 / 4"
    assert shown["participation"] == f"{values['参与率（%）']:.1f}%" == "25.0%"
    assert shown["hours"] == f"{values['服务时长（小时）']:.2f}"
    assert shown["wishes"] == " / ".join(
        str(values[k]) for k in ("辖区收到微心愿", "辖区核实微心愿", "辖区实现微心愿", "辖区居民确认微心愿")
    )

"""Browser journey: a member enrolls, the secretary takes attendance, the member sees the hours and the bar move."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.conftest import login_in_browser
from tests.factories import DEFAULT_PASSWORD
from tests.training.conftest import move_to_past
from tests.training.factories import CourseFactory, SessionFactory
from training import services
from training.models import Course

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_enroll_attend_and_see_progress(clock, page, org_tree, member_a, secretary_a, this_year):
    services.requirement_set(
        organization=org_tree.street, year=this_year, total_hours=Decimal(6), theory_hours=Decimal(2), actor=None
    )
    course = CourseFactory(type=Course.Type.THEORY, title="《志愿服务条例》解读", hours=Decimal(2))
    session = SessionFactory(course=course, organizer=org_tree.branch_a, capacity=10)

    # The member enrolls.
    login_in_browser(page, member_a.user.username, DEFAULT_PASSWORD)
    page.goto("/training/")
    total = page.locator("#progress-total [role=progressbar]")
    expect(total).to_have_attribute("aria-valuenow", "0")
    expect(total).to_have_attribute("aria-valuetext", "0 / 6 学时")
    row = page.locator(f"#session-{session.pk}")
    expect(row.locator(".seats-left")).to_have_text("10 / 10")
    row.get_by_role("button", name="报名参训").click()
    expect(page.get_by_role("alert")).to_contain_text("报名成功")
    expect(row.locator(".seats-left")).to_have_text("9 / 10")
    expect(page.locator("#my-sessions")).to_contain_text("《志愿服务条例》解读")
    page.get_by_role("button", name="退出登录").click()

    # The session takes place; the secretary of branch A ticks the member on the attendance sheet.
    move_to_past(clock, session)
    login_in_browser(page, "secretary_a", DEFAULT_PASSWORD)
    page.goto(f"/training/sessions/{session.pk}/attendance/")
    page.get_by_label(member_a.name).check()
    page.get_by_role("button", name="保存考勤").click()
    expect(page.get_by_role("alert")).to_contain_text("考勤已保存：到场 1 人，缺席 0 人。")
    page.get_by_role("button", name="退出登录").click()

    # The member sees the hours and the bar has moved.
    login_in_browser(page, member_a.user.username, DEFAULT_PASSWORD)
    page.goto("/training/")
    expect(page.locator("#records")).to_contain_text("《志愿服务条例》解读")
    expect(page.locator("#records .record-hours")).to_have_text("2")
    expect(total).to_have_attribute("aria-valuenow", "2")
    expect(total).to_have_attribute("aria-valuetext", "2 / 6 学时")
    bar = page.locator("#progress-total .progress-bar")
    expect(bar).to_have_class(re.compile(r"\bw-pct-33\b"))  # a class, not a style attribute (CSP style-src 'self')
    width = bar.evaluate("el => el.getBoundingClientRect().width / el.parentElement.getBoundingClientRect().width")
    assert width == pytest.approx(0.33, abs=0.01)  # the stylesheet's rule is applied
    theory = page.locator("#progress-theory [role=progressbar]")
    expect(theory).to_have_attribute("aria-valuenow", "2")
    expect(page.locator("#progress-theory")).to_contain_text("已完成")

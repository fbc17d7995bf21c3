"""Browser, at phone size: the organizer shows the check-in QR code (the 6-digit code behind a button), and a member
checks in by the scanned link, with the phone's position inside the activity's radius or without one."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from projects import services
from projects.models import SignUp
from tests.conftest import login_in_browser, wait_until
from tests.factories import DEFAULT_PASSWORD
from tests.projects.conftest import started_ago
from tests.projects.factories import ActivityFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PLACE = (Decimal("39.908722"), Decimal("116.397499"))
NEAR = {"latitude": 39.9093, "longitude": 116.397499}  # ~64 m away


def running_activity(clock, org_tree, member, **fields):
    activity = ActivityFactory(project__organization=org_tree.branch_a, title="陪老人读报", **fields)
    services.signup_create(activity=activity, member=member)
    return started_ago(clock, activity, timedelta(minutes=5))


def test_the_organizer_shows_the_qr_code_and_reveals_the_code_on_a_phone(
    clock, phone_page, org_tree, member_a, secretary_a
):
    page = phone_page
    activity = running_activity(clock, org_tree, member_a)
    login_in_browser(page, "secretary_a", DEFAULT_PASSWORD)
    page.goto(f"/activities/{activity.pk}/")
    page.get_by_role("link", name="出示签到二维码").click()

    qr = page.get_by_role("img", name="签到二维码")
    expect(qr).to_be_visible()
    wait_until(lambda: page.evaluate("document.getElementById('checkin-qr').naturalWidth") > 0, timeout=10)  # loaded
    box = qr.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390  # whole on the phone's screen
    expect(page.locator("#checkin-counts")).to_contain_text("已签到 0 / 1 人")

    # The code is not on the screen members look at until the organizer asks for it.
    expect(page.locator("#checkin-code")).to_be_hidden()
    page.get_by_role("button", name="显示签到码").click()
    expect(page.locator("#checkin-code")).to_have_text(activity.checkin_code)
    page.get_by_role("button", name="隐藏签到码").click()
    expect(page.locator("#checkin-code")).to_be_hidden()

    # The script reloads the image (here when the screen wakes up; also every 30 s).
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(qr).to_have_attribute("src", re.compile(rf"/activities/{activity.pk}/checkin-qr\.svg\?r=\d+$"))

    # A new code: the page shows the new one behind the same button.
    page.get_by_role("button", name="更换签到码").click()
    expect(page.get_by_role("alert").first).to_contain_text("已更换签到码")
    activity.refresh_from_db()
    page.get_by_role("button", name="显示签到码").click()
    expect(page.locator("#checkin-code")).to_have_text(activity.checkin_code)


def test_a_member_checks_in_by_the_scanned_link_inside_the_radius(clock, phone_page, org_tree, member_a):
    page = phone_page
    activity = running_activity(clock, org_tree, member_a, latitude=PLACE[0], longitude=PLACE[1], checkin_radius_m=200)
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation(NEAR)
    login_in_browser(page, member_a.user.username, DEFAULT_PASSWORD)

    # The camera opens the link the QR code carries.
    page.goto(f"/activities/{activity.pk}/checkin/?t={services.checkin_token(activity, timezone.now())}")
    expect(page.locator("#scanned-note")).to_be_visible()
    expect(page.locator("#checkin-place-note")).to_contain_text("200 米范围内")
    expect(page.get_by_label("签到码")).to_have_count(0)  # nothing to type
    page.get_by_role("button", name="确认签到").click()

    expect(page.get_by_role("alert").first).to_contain_text("签到成功")
    expect(page.locator("#checked-in")).to_be_visible()
    signup = SignUp.objects.get(activity=activity, member=member_a)
    assert signup.checkin_position == SignUp.Position.INSIDE and 60 <= signup.checkin_distance_m <= 70


def test_a_member_who_does_not_allow_location_checks_in_marked(clock, phone_page, org_tree, member_a):
    page = phone_page
    activity = running_activity(clock, org_tree, member_a, latitude=PLACE[0], longitude=PLACE[1], checkin_radius_m=200)
    page.context.clear_permissions()
    login_in_browser(page, member_a.user.username, DEFAULT_PASSWORD)

    page.goto(f"/activities/{activity.pk}/checkin/?t={services.checkin_token(activity, timezone.now())}")
    page.get_by_role("button", name="确认签到").click()

    expect(page.get_by_role("alert").filter(has_text="签到成功")).to_be_visible(timeout=15_000)
    expect(page.get_by_role("alert").filter(has_text="未提供位置")).to_be_visible()
    assert SignUp.objects.get(activity=activity, member=member_a).checkin_position == SignUp.Position.UNKNOWN

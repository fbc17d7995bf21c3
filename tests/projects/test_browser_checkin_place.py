"""Browser, at phone size: the organizer makes where they stand the activity's check-in place; a member typing the
code on the activity page sends their position too."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from projects import services
from projects.models import SignUp
from tests.conftest import login_in_browser
from tests.factories import DEFAULT_PASSWORD
from tests.projects.factories import ActivityFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HERE = {"latitude": 39.908722, "longitude": 116.397499}


def test_the_organizer_sets_the_check_in_place_where_they_stand(phone_page, org_tree, secretary_a):
    page = phone_page
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation(HERE)
    login_in_browser(page, "secretary_a", DEFAULT_PASSWORD)
    page.goto(f"/activities/{activity.pk}/checkin-screen/")
    expect(page.locator("#checkin-place-state")).to_contain_text("未设置")

    page.get_by_label("范围（米）").fill("150")
    page.get_by_role("button", name="以我现在的位置为签到点").click()
    expect(page.get_by_role("alert").first).to_contain_text("150 米以外的手机不能签到")
    expect(page.locator("#checkin-place-state")).to_contain_text("已设置")
    activity.refresh_from_db()
    assert (activity.latitude, activity.longitude, activity.checkin_radius_m) == (
        Decimal("39.908722"),
        Decimal("116.397499"),
        150,
    )

    page.get_by_role("button", name="取消签到范围").click()
    expect(page.get_by_role("alert").first).to_contain_text("已取消签到范围")
    activity.refresh_from_db()
    assert activity.checkin_radius_m is None


def test_without_the_phones_position_the_page_says_so_and_sets_nothing(phone_page, org_tree, secretary_a):
    page = phone_page
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    page.context.clear_permissions()
    login_in_browser(page, "secretary_a", DEFAULT_PASSWORD)
    page.goto(f"/activities/{activity.pk}/checkin-screen/")
    page.get_by_role("button", name="以我现在的位置为签到点").click()
    expect(page.locator("#checkin-place-error")).to_contain_text("没有取得您手机的位置", timeout=20_000)
    activity.refresh_from_db()
    assert activity.checkin_radius_m is None


def test_the_typed_code_on_the_activity_page_sends_the_position_too(phone_page, org_tree, member_a):
    page = phone_page
    starts_at = (timezone.now() + timedelta(minutes=30)).replace(microsecond=0)  # check-in is open
    activity = ActivityFactory(
        project__organization=org_tree.branch_a,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        latitude=Decimal("39.908722"),
        longitude=Decimal("116.397499"),
        checkin_radius_m=200,
    )
    services.signup_create(activity=activity, member=member_a)
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 39.9093, "longitude": 116.397499})  # ~64 m away
    login_in_browser(page, member_a.user.username, DEFAULT_PASSWORD)

    page.goto(f"/activities/{activity.pk}/")
    page.get_by_label("签到码").fill(activity.checkin_code)
    page.get_by_role("button", name="签到", exact=True).click()

    expect(page.get_by_role("alert").first).to_contain_text("签到成功")
    signup = SignUp.objects.get(activity=activity, member=member_a)
    assert signup.checkin_position == SignUp.Position.INSIDE and 60 <= signup.checkin_distance_m <= 70

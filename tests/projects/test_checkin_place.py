"""The organizer sets the activity's check-in place from where they stand (their phone's position), or clears it."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from projects import services
from tests.projects.factories import ActivityFactory

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_service_sets_and_clears_the_place_and_refuses_half_of_one(org_tree):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    services.activity_checkin_place_set(
        activity=activity, latitude=Decimal("39.908722"), longitude=Decimal("116.397499"), checkin_radius_m=150
    )
    activity.refresh_from_db()
    assert (activity.latitude, activity.longitude, activity.checkin_radius_m) == (
        Decimal("39.908722"),
        Decimal("116.397499"),
        150,
    )
    with pytest.raises(ValidationError):
        services.activity_checkin_place_set(
            activity=activity, latitude=Decimal("39.9"), longitude=None, checkin_radius_m=150
        )
    services.activity_checkin_place_set(activity=activity, latitude=None, longitude=None, checkin_radius_m=None)
    activity.refresh_from_db()
    assert not activity.has_checkin_place


def test_the_organizer_sets_the_place_from_the_check_in_page(client, org_tree, secretary_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    client.force_login(secretary_a)
    screen = reverse("projects:activity_checkin_screen", args=[activity.pk])
    assert "未设置：党员在任何位置都可以签到" in client.get(screen).content.decode()
    url = reverse("projects:activity_checkin_place", args=[activity.pk])

    response = client.post(url, {"latitude": "39.9087224", "longitude": "116.397499", "checkin_radius_m": "300"})
    assert response.status_code == 302 and response["Location"] == screen
    assert any("300 米以外" in m for m in messages_of(response))
    activity.refresh_from_db()
    assert (activity.latitude, activity.checkin_radius_m) == (Decimal("39.908722"), 300)
    assert 'id="checkin-place-state">已设置' in client.get(screen).content.decode()

    # No position from the phone (location not allowed): nothing changes, and the page says why.
    refused = client.post(url, {"latitude": "", "longitude": "", "checkin_radius_m": "300"})
    assert any("没有取得您手机的位置" in m for m in messages_of(refused)), messages_of(refused)
    too_small = client.post(url, {"latitude": "39.9", "longitude": "116.3", "checkin_radius_m": "5"})
    assert any("签到范围应在 50 到 5000 米之间" in m for m in messages_of(too_small))
    activity.refresh_from_db()
    assert activity.checkin_radius_m == 300

    response = client.post(url, {"clear": "1", "checkin_radius_m": "300"})
    assert any("已取消签到范围" in m for m in messages_of(response))
    activity.refresh_from_db()
    assert not activity.has_checkin_place


def test_members_and_other_branches_cannot_set_the_place(client, org_tree, member_a, secretary_b):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    url = reverse("projects:activity_checkin_place", args=[activity.pk])
    for user in (member_a.user, secretary_b):
        client.force_login(user)
        response = client.post(url, {"latitude": "39.9", "longitude": "116.3", "checkin_radius_m": "300"})
        assert response.status_code == 404
    activity.refresh_from_db()
    assert not activity.has_checkin_place

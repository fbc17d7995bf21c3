"""Notification preferences through the API: the current choices (defaults until chosen), saving with the page's
form (a field not sent is an unticked box), and a value that is not a choice."""

import pytest

from notifications.models import NotificationPreference
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


def test_a_member_reads_and_saves_their_preferences(api, member_a):
    bearer(api, member_a.user)
    current = api.get("/api/v1/me/preferences/").json()["kinds"]
    reminder = next(k for k in current if k["kind"] == "activity_reminder")
    assert (reminder["label"], reminder["email"], reminder["sms"]) == ("活动提醒", True, True)

    saved = api.post("/api/v1/me/preferences/save/", {"activity_reminder-email": True}, format="json")
    assert saved.status_code == 200 and saved.json()["detail"] == "通知设置已保存。"
    reminder = next(k for k in saved.json()["kinds"] if k["kind"] == "activity_reminder")
    assert (reminder["email"], reminder["sms"]) == (True, False)
    row = NotificationPreference.objects.get(user=member_a.user, kind="activity_reminder")
    assert (row.email, row.sms) == (True, False)


def test_a_visitor_is_not_signed_in(api):
    assert api.get("/api/v1/me/preferences/").status_code == 401
    assert api.post("/api/v1/me/preferences/save/", {}, format="json").status_code == 401
    assert not NotificationPreference.objects.exists()

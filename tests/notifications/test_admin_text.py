"""The outbox in the admin reads like the messages themselves: each row says what it is about (the subject it was
sent with, or the SMS template's title), and a row shows the text the person got, not a template key and JSON."""

import json
import re

import pytest
from django.urls import reverse

from notifications.services import notify
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:notifications_notification_changelist")


@pytest.fixture
def admin_client_(client, platform_admin):
    client.force_login(platform_admin)
    return client


@pytest.fixture
def sms():
    context = {"title": "修理漏水的水龙头", "days": 14, "link": "https://example.org/wishes/feedback/abc/"}
    return notify(template="demands_fulfilled", channel="sms", dedupe_key="sms-1", phone="13812345678", context=context)


@pytest.fixture
def inapp():
    return notify(
        template="demands_invite",
        channel="inapp",
        dedupe_key="inapp-1",
        user=UserFactory(),
        context={"title": "陪老人去医院复查", "wish_url": "/wishes/1/"},
    )


def test_the_list_says_what_each_message_is_about(admin_client_, sms, inapp):
    html = admin_client_.get(CHANGELIST).content.decode()
    titles = re.findall(r'<td class="field-title_display">(.*?)</td>', html)
    assert sorted(titles) == ["微心愿已实现，请居民确认并评价", "邀请您认领微心愿：陪老人去医院复查"]
    cells = " ".join(re.findall(r"<td[^>]*>(.*?)</td>", html, re.S))
    assert "demands_fulfilled" not in cells and "demands_invite" not in cells


def test_a_row_shows_the_sms_as_sent_not_its_data(admin_client_, sms):
    html = admin_client_.get(reverse("admin:notifications_notification_change", args=[sms.pk])).content.decode()
    assert "【党员志愿服务平台】党员已登记您的微心愿“修理漏水的水龙头”已实现。请在14天内点击链接确认并评价" in html
    assert json.dumps(sms.context)[:20] not in html and '"days": 14' not in html

"""Signing a device in to the API: SMS code → token, rotation, revocation (by the device, from /me/, with every
session of the account), and the one error format."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from audit import services as audit_services
from audit.models import ApiToken, AuditEvent
from tests.api.conftest import bearer
from tests.members.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the SMS task is published after the commit

PHONE = "13912345678"


@pytest.fixture
def member():
    return MemberFactory(phone=PHONE, name="周红", user__username="zhouhong")


def _code(sms_outbox) -> str:
    return re.search(r"\d{6}", [m.text for m in sms_outbox if m.phone == PHONE][-1]).group()


def test_a_code_gives_a_token_that_signs_the_device_in(api, member, sms_outbox):
    answer = api.post("/api/v1/auth/sms-code/", {"phone": PHONE}, format="json")
    assert answer.status_code == 202 and answer.json()["expires_in"] == 300

    answer = api.post(
        "/api/v1/auth/token/", {"phone": PHONE, "code": _code(sms_outbox), "device": "iPhone 小程序"}, format="json"
    )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    row = ApiToken.objects.get(pk=body["token_id"])
    assert row.user == member.user and row.device == "iPhone 小程序"
    assert body["token"] not in row.token_hash and len(row.token_hash) == 64  # only the hash is kept
    assert body["expires_at"].endswith("+08:00")  # local time, as every time a person sees
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN, user=member.user, detail__via="api").exists()

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    me = api.get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["volunteer_number"] == member.volunteer_number


def test_an_unknown_number_gets_the_same_answer_and_no_code(api, member, sms_outbox):
    known = api.post("/api/v1/auth/sms-code/", {"phone": PHONE}, format="json")
    unknown = api.post("/api/v1/auth/sms-code/", {"phone": "13700000001"}, format="json")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert [m.phone for m in sms_outbox] == [PHONE]


def test_a_wrong_code_is_refused_field_by_field_in_chinese(api, member, sms_outbox):
    api.post("/api/v1/auth/sms-code/", {"phone": PHONE}, format="json")
    wrong = "000000" if _code(sms_outbox) != "000000" else "111111"
    answer = api.post("/api/v1/auth/token/", {"phone": PHONE, "code": wrong}, format="json")
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "invalid" and set(body) == {"detail", "code", "errors"}
    assert "验证码" in body["detail"] and list(body["errors"]) == ["code"]
    assert not ApiToken.objects.exists()

    missing = api.post("/api/v1/auth/token/", {}, format="json").json()
    assert set(missing["errors"]) == {"phone", "code"}
    assert missing["errors"]["phone"] == ["这个字段是必填项。"]  # Django's own message, as on the page


def test_the_code_limits_of_the_page_hold(api, member, sms_outbox, settings):
    settings.SIGN_IN_CODE_IP_LIMIT = (2, 3600)
    for _i in range(2):
        api.post("/api/v1/auth/sms-code/", {"phone": f"1370000000{_i}"}, format="json")
    refused = api.post("/api/v1/auth/sms-code/", {"phone": PHONE}, format="json")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert refused.json()["code"] == "throttled" and "分钟后再试" in refused.json()["detail"]
    assert sms_outbox == []


def test_no_token_wrong_token_expired_token(api, member, clock):
    assert api.get("/api/v1/me/").status_code == 401
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    answer = api.get("/api/v1/me/")
    assert answer.status_code == 401 and answer.json()["code"] == "authentication_failed"
    assert answer["WWW-Authenticate"] == "Bearer"

    bearer(api, member.user)
    assert api.get("/api/v1/me/").status_code == 200
    clock.advance(timedelta(days=30, seconds=1))
    assert api.get("/api/v1/me/").status_code == 401


def test_rotation_replaces_the_token(api, member):
    old = bearer(api, member.user)
    answer = api.post("/api/v1/auth/token/rotate/")
    assert answer.status_code == 201
    new = answer.json()["token"]
    assert api.get("/api/v1/me/").status_code == 401  # the client still sends the old one
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {new}")
    assert api.get("/api/v1/me/").status_code == 200
    assert new != old and ApiToken.objects.filter(user=member.user, revoked_at__isnull=True).count() == 1


def test_a_device_signs_out_and_another_is_ended_from_me(api, member, client):
    bearer(api, member.user, device="旧手机")
    phone = api.__class__()
    bearer(phone, member.user, device="新手机")
    listed = phone.get("/api/v1/me/devices/").json()
    assert [(d["device"], d["current"]) for d in listed] == [("新手机", True), ("旧手机", False)]

    assert api.post("/api/v1/auth/token/revoke/").status_code == 200
    assert api.get("/api/v1/me/").status_code == 401
    assert phone.get("/api/v1/me/").status_code == 200

    # From the web page /me/: the list of signed-in devices and its button.
    client.force_login(member.user)
    assert 'href="/me/devices/"' in client.get("/me/").content.decode()
    page = client.get("/me/devices/").content.decode()
    assert "新手机" in page and "旧手机" not in page
    row = ApiToken.objects.get(device="新手机")
    assert client.post(f"/me/devices/{row.pk}/revoke/").status_code == 302
    assert phone.get("/api/v1/me/").status_code == 401
    assert client.post(f"/me/devices/{row.pk}/revoke/").status_code == 404  # once


def test_ending_every_session_of_an_account_revokes_its_tokens(api, member):
    bearer(api, member.user)
    audit_services.user_sessions_end(user=member.user, reason="停用")
    assert api.get("/api/v1/me/").status_code == 401


def test_a_token_of_an_inactive_account_stops_working(api, member):
    bearer(api, member.user)
    member.user.is_active = False
    member.user.save()
    assert api.get("/api/v1/me/").status_code == 401


def test_last_use_is_written_at_most_hourly(api, member, clock, django_assert_num_queries):
    bearer(api, member.user)
    api.get("/api/v1/me/devices/")
    first = ApiToken.objects.get().last_used_at
    clock.advance(timedelta(minutes=5))
    api.get("/api/v1/me/devices/")
    assert ApiToken.objects.get().last_used_at == first
    clock.advance(timedelta(hours=1))
    api.get("/api/v1/me/devices/")
    assert ApiToken.objects.get().last_used_at > first
    assert ApiToken.objects.get().expires_at > timezone.now()


def test_me_is_kept_per_person_like_the_page_and_follows_the_records(api, member, settings, client):
    from notifications import services as notification_services

    settings.PAGE_CACHES = True
    bearer(api, member.user)
    assert api.get("/api/v1/me/")["X-Page-Cache"] == "miss"
    kept = api.get("/api/v1/me/")
    assert kept["X-Page-Cache"] == "hit" and kept.json()["unread"] == 0
    notification_services.notify(
        template="demands_rated",
        channel="inapp",
        user=member.user,
        dedupe_key="kept-me",
        context={"title": "修理水龙头", "code": "X", "rating": 5, "link": "/wishes/"},
    )
    after = api.get("/api/v1/me/")
    assert after["X-Page-Cache"] == "miss" and after.json()["unread"] == 1
    other = MemberFactory(phone="13912349999", user__username="other")
    bearer(api, other.user)
    assert api.get("/api/v1/me/").json()["volunteer_number"] == other.volunteer_number  # never another's copy
    api.credentials(HTTP_AUTHORIZATION="Bearer wrong")
    assert api.get("/api/v1/me/").status_code == 401

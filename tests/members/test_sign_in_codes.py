"""Signing in and setting a new password with a code texted to the member's phone (members.services.sign_in_codes,
the pages of volunteer_platform/auth_views.py)."""

import re
import threading
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client

from audit.models import AuditEvent
from members import services
from members.models import SignInCode, SignInCodeOutcome, SignInCodePurpose
from tests.members.factories import MemberFactory

# Transactions commit, as in production: the SMS task is published after the commit.
pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "13912345678"
UNKNOWN = "13700000001"
NEW_PASSWORD = "Zhiyuan-2026-xin"


@pytest.fixture
def member():
    member = MemberFactory(phone=PHONE, name="周红", user__username="zhouhong")
    member.user.set_password("old-password-1234")
    member.user.save()
    return member


def _code_of(sms_outbox, phone=PHONE) -> str:
    texts = [m.text for m in sms_outbox if m.phone == phone]
    assert texts, "no SMS to the number"
    return re.search(r"\d{6}", texts[-1]).group()


def _ask(client, phone=PHONE, url="/accounts/login/code/", **extra):
    return client.post(url, {"phone": phone, **extra})


# --- The service ------------------------------------------------------------------------------------------------


def test_a_code_is_texted_and_only_its_hash_is_stored(member, sms_outbox):
    row = services.sign_in_code_send(phone="139 1234 5678", purpose=SignInCodePurpose.SIGN_IN)
    code = _code_of(sms_outbox)
    assert "5分钟内有效" in sms_outbox[-1].text
    assert row.user == member.user and row.outcome == SignInCodeOutcome.OPEN
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert (row.expires_at - row.created_at) == timedelta(minutes=5)
    assert services.sign_in_code_check(phone=PHONE, code=code) == member.user
    row.refresh_from_db()
    assert row.outcome == SignInCodeOutcome.USED and row.closed_at is not None
    with pytest.raises(ValidationError):  # used up
        services.sign_in_code_check(phone=PHONE, code=code)


def test_an_unknown_or_inactive_number_gets_no_code_and_no_row(member, sms_outbox):
    assert services.sign_in_code_send(phone=UNKNOWN, purpose=SignInCodePurpose.SIGN_IN) is None
    member.user.is_active = False
    member.user.save()
    assert services.sign_in_code_send(phone=PHONE, purpose=SignInCodePurpose.SIGN_IN) is None
    assert sms_outbox == [] and not SignInCode.objects.exists()


def test_five_wrong_entries_end_the_code(member, sms_outbox):
    services.sign_in_code_send(phone=PHONE, purpose=SignInCodePurpose.SIGN_IN)
    code = _code_of(sms_outbox)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(SignInCode.MAX_ATTEMPTS):
        with pytest.raises(ValidationError) as caught:
            services.sign_in_code_check(phone=PHONE, code=wrong)
        assert caught.value.code == "wrong_code"
    row = SignInCode.objects.get()
    assert row.attempts == 5 and row.outcome == SignInCodeOutcome.EXHAUSTED
    with pytest.raises(ValidationError):  # the right code no longer works either
        services.sign_in_code_check(phone=PHONE, code=code)


def test_a_code_expires_after_five_minutes(member, sms_outbox, clock):
    services.sign_in_code_send(phone=PHONE, purpose=SignInCodePurpose.SIGN_IN)
    code = _code_of(sms_outbox)
    clock.advance(301)
    with pytest.raises(ValidationError):
        services.sign_in_code_check(phone=PHONE, code=code)
    assert SignInCode.objects.get().attempts == 0  # an expired code counts no attempt


def test_a_new_code_replaces_the_last_and_the_purposes_stay_apart(member, sms_outbox):
    services.sign_in_code_send(phone=PHONE, purpose=SignInCodePurpose.SIGN_IN)
    first = _code_of(sms_outbox)
    services.sign_in_code_send(phone=PHONE, purpose=SignInCodePurpose.SIGN_IN)
    second = _code_of(sms_outbox)
    services.sign_in_code_send(phone=PHONE, purpose=SignInCodePurpose.PASSWORD_RESET)
    reset = _code_of(sms_outbox)
    assert "重设登录密码" in sms_outbox[-1].text
    outcomes = sorted(SignInCode.objects.values_list("purpose", "outcome"))
    assert outcomes == [("password_reset", ""), ("sign_in", ""), ("sign_in", "replaced")]
    if first != second:
        with pytest.raises(ValidationError):
            services.sign_in_code_check(phone=PHONE, code=first)
    if reset != second:
        with pytest.raises(ValidationError):  # a reset code does not sign in
            services.sign_in_code_check(phone=PHONE, code=reset)
    assert services.sign_in_code_check(phone=PHONE, code=second) == member.user


def test_a_password_reset_sets_the_password_and_keeps_the_code_when_the_password_is_refused(member, sms_outbox):
    services.sign_in_code_send(phone=PHONE, purpose=SignInCodePurpose.PASSWORD_RESET)
    code = _code_of(sms_outbox)
    with pytest.raises(ValidationError) as caught:
        services.password_reset_with_code(phone=PHONE, code=code, password="123")
    assert "new_password1" in caught.value.error_dict
    assert SignInCode.objects.get().outcome == SignInCodeOutcome.OPEN  # not used up by a refused password
    services.password_reset_with_code(phone=PHONE, code=code, password=NEW_PASSWORD)
    member.user.refresh_from_db()
    assert member.user.check_password(NEW_PASSWORD)
    assert SignInCode.objects.get().outcome == SignInCodeOutcome.USED


def test_a_sealed_code_that_is_not_the_rows_is_not_sent(member, sms_outbox):
    row = services.sign_in_code_send(phone=PHONE, purpose=SignInCodePurpose.SIGN_IN)
    code = _code_of(sms_outbox)
    sms_outbox.clear()
    other = f"{(int(code) + 1) % 10**6:06d}"
    assert services.sign_in_code_deliver(code_id=row.pk, code=other) is False
    assert services.sign_in_code_deliver(code_id=row.pk, code=code) is True
    assert len(sms_outbox) == 1


@pytest.mark.postgres
def test_two_entries_of_one_code_at_once_sign_in_once(sms_outbox):
    member = MemberFactory(phone=PHONE)
    services.sign_in_code_send(phone=PHONE, purpose=SignInCodePurpose.SIGN_IN)
    code = _code_of(sms_outbox)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def enter():
        try:
            barrier.wait()
            services.sign_in_code_check(phone=PHONE, code=code)
            outcomes.append("in")
        except ValidationError:
            outcomes.append("refused")
        except Exception as exc:  # noqa: BLE001 - any other failure is a finding, reported by name
            outcomes.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()  # each thread opened its own connection

    threads = [threading.Thread(target=enter) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["in", "refused", "refused", "refused"]
    assert SignInCode.objects.get(user=member.user).outcome == SignInCodeOutcome.USED


# --- The pages --------------------------------------------------------------------------------------------------


def test_signing_in_with_a_code_lands_on_the_members_page(client, member, sms_outbox):
    assert client.get("/accounts/login/").content.decode().count("/accounts/login/code/") == 1
    response = _ask(client, phone="+86 139-1234-5678")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/code/confirm/"
    page = client.get("/accounts/login/code/confirm/").content.decode()
    assert "139****5678" in page and PHONE not in page
    response = client.post("/accounts/login/code/confirm/", {"code": _code_of(sms_outbox)})
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert client.session[SESSION_KEY] == str(member.user.pk)
    assert AuditEvent.objects.filter(action="login", user=member.user).exists()


def test_a_next_on_this_site_is_followed_and_any_other_dropped(client, member, settings, sms_outbox):
    settings.SIGN_IN_CODE_RESEND_LIMIT = (2, 60)
    _ask(client, next="/projects/")
    response = client.post("/accounts/login/code/confirm/", {"code": _code_of(sms_outbox)})
    assert response["Location"] == "/projects/"
    other = Client()
    _ask(other, next="https://evil.example/")
    response = other.post("/accounts/login/code/confirm/", {"code": _code_of(sms_outbox)})
    assert response["Location"] == "/me/"


def test_an_unknown_number_gets_the_same_answers_as_a_known_one(client, member, sms_outbox):
    known, unknown = Client(), Client()
    answers = []
    for visitor, phone in ((known, PHONE), (unknown, UNKNOWN)):
        response = _ask(visitor, phone=phone)
        page = visitor.get(response["Location"])
        wrong = visitor.post("/accounts/login/code/confirm/", {"code": "000000"})
        answers.append(
            (
                response.status_code,
                response["Location"],
                page.status_code,
                wrong.status_code,
                wrong.context["form"].errors,
            )
        )
    assert answers[0] == answers[1]
    assert [m.phone for m in sms_outbox] == [PHONE]


def test_a_badly_typed_code_or_number_is_told_on_the_form(client, member, sms_outbox):
    response = _ask(client, phone="12345")
    assert response.status_code == 200 and "11位中国大陆手机号码" in response.content.decode()
    _ask(client)
    response = client.post("/accounts/login/code/confirm/", {"code": "12ab56"})
    assert response.status_code == 200 and "6位数字验证码" in response.content.decode()
    assert SignInCode.objects.get().attempts == 0  # a malformed code is not an attempt


def test_the_code_page_without_a_number_goes_back_to_the_number(client):
    assert client.get("/accounts/login/code/confirm/")["Location"] == "/accounts/login/code/"
    assert client.get("/accounts/password/reset/confirm/")["Location"] == "/accounts/password/reset/"


def test_one_code_a_minute_per_number_known_or_not(client, member, sms_outbox):
    for phone in (PHONE, UNKNOWN):
        assert _ask(client, phone=phone).status_code == 302
        again = _ask(client, phone=phone)
        assert again.status_code == 429 and "操作过于频繁" in again.content.decode()
    assert len(sms_outbox) == 1


def test_codes_asked_from_one_address_are_limited(client, member, settings, sms_outbox):
    settings.SIGN_IN_CODE_IP_LIMIT = (3, 3600)
    statuses = [_ask(client, phone=f"1370000000{i}").status_code for i in range(5)]
    assert statuses == [302, 302, 302, 429, 429]


def test_code_entries_from_one_address_are_limited(client, member, settings, sms_outbox):
    settings.SIGN_IN_CODE_CHECK_IP_LIMIT = (2, 900)
    _ask(client)
    code = _code_of(sms_outbox)
    statuses = [client.post("/accounts/login/code/confirm/", {"code": "000000"}).status_code for _ in range(2)]
    statuses.append(client.post("/accounts/login/code/confirm/", {"code": code}).status_code)
    assert statuses == [200, 200, 429]
    assert SESSION_KEY not in client.session


def test_resetting_the_password_signs_in_and_ends_the_other_sessions(client, member, sms_outbox):
    elsewhere = Client()
    elsewhere.force_login(member.user)
    assert elsewhere.get("/me/").status_code == 200
    assert client.get("/accounts/login/").content.decode().count("/accounts/password/reset/") == 1
    response = _ask(client, url="/accounts/password/reset/")
    assert response["Location"] == "/accounts/password/reset/confirm/"
    code = _code_of(sms_outbox)
    refused = client.post(
        "/accounts/password/reset/confirm/", {"code": code, "new_password1": "abc", "new_password2": "abd"}
    )
    assert refused.status_code == 200 and "两次输入的密码不一致" in refused.content.decode()
    weak = client.post(
        "/accounts/password/reset/confirm/", {"code": code, "new_password1": "12345678", "new_password2": "12345678"}
    )
    assert weak.status_code == 200 and weak.context["form"].errors["new_password1"]
    done = client.post(
        "/accounts/password/reset/confirm/",
        {"code": code, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302 and done["Location"] == "/me/"
    member.user.refresh_from_db()
    assert member.user.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="password_reset", user=member.user).count() == 1
    assert elsewhere.get("/me/").status_code == 302  # signed out by the new password
    fresh = Client()
    assert fresh.post("/accounts/login/", {"username": PHONE, "password": NEW_PASSWORD}).status_code == 302


def test_a_sign_in_code_does_not_reset_a_password(client, member, sms_outbox):
    _ask(client)  # a sign-in code
    code = _code_of(sms_outbox)
    client.get("/accounts/password/reset/")
    response = client.post(
        "/accounts/password/reset/confirm/",
        {"code": code, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response["Location"] == "/accounts/password/reset/"  # no reset under way in this session
    member.user.refresh_from_db()
    assert not member.user.check_password(NEW_PASSWORD)


def test_the_page_does_the_same_work_for_a_known_and_an_unknown_number(client, member, monkeypatch, settings):
    """The lookup happens in the task, not in the request: same queries, one task each, the number sealed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from core.crypto import decrypt
    from members import tasks

    settings.SIGN_IN_CODE_IP_LIMIT = (100, 3600)
    published = []
    monkeypatch.setattr(tasks.create_sign_in_code, "delay", lambda *args: published.append(args))
    work = []
    for phone in (PHONE, UNKNOWN):
        with CaptureQueriesContext(connection) as queries:
            assert Client().post("/accounts/login/code/", {"phone": phone}).status_code == 302
        work.append([q["sql"].split(" WHERE")[0].split(" VALUES")[0] for q in queries.captured_queries])
    assert work[0] == work[1]
    assert [decrypt(sealed) for sealed, _purpose in published] == [PHONE, UNKNOWN]
    assert PHONE not in published[0][0]
    assert not SignInCode.objects.exists()  # nothing made in the request

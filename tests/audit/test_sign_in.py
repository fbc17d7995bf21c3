"""Sign-in (docs/security.md, item 2): django-axes lockout per username + IP behind the phone-or-username backend,
a friendly lockout page, session rotation, cookie flags, password rules, sessions ended on deactivation."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY, password_validation
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent, UserSession
from members import services as members_services
from members.models import Member
from tests.factories import DEFAULT_PASSWORD

LOGIN = "/accounts/login/"


def sign_in(client, username, password=DEFAULT_PASSWORD, ip="203.0.113.5"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_the_defaults_are_five_failures_and_thirty_minutes():
    assert settings.AXES_ENABLED is True
    assert settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=30) == settings.AXES_COOLOFF_TIME
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"


def test_five_wrong_passwords_lock_that_username_from_that_address(client, member_a):
    username = member_a.user.username
    for attempt in range(1, 5):
        response = sign_in(client, username, "wrong-password")
        assert response.status_code == 200, attempt
        # The form says what is wrong and what happens next.
        assert "密码不正确" in response.content.decode()
        assert "连续输错 5 次后" in response.content.decode()
    response = sign_in(client, username, "wrong-password")
    assert response.status_code == 429
    assert "registration/locked_out.html" in [t.name for t in response.templates]
    page = response.content.decode()
    assert "暂时不能登录" in page and "请 30 分钟后再试" in page and "5 次" in page
    # Even the right password is refused now, from this address …
    response = sign_in(client, username)
    assert response.status_code == 429
    assert SESSION_KEY not in client.session
    # … but not from another address, nor for another account from this one.
    other = Client()
    assert sign_in(other, username, ip="198.51.100.7").status_code == 302
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOCKOUT, username=username).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED, username=username).count() == 6


def test_the_lockout_ends_after_the_cool_off(client, member_a):
    username = member_a.user.username
    for _ in range(5):
        sign_in(client, username, "wrong-password")
    assert sign_in(client, username).status_code == 429
    attempt = AccessAttempt.objects.get()  # under the keyed hash of the username (test_sign_in_privacy.py)
    attempt.attempt_time -= timedelta(minutes=31)
    attempt.save()
    assert sign_in(client, username).status_code == 302
    assert client.session[SESSION_KEY] == str(member_a.user.pk)


def test_a_success_resets_the_count(client, member_a):
    username = member_a.user.username
    for _ in range(4):
        sign_in(client, username, "wrong-password")
    assert sign_in(client, username).status_code == 302
    client.post(reverse("logout"))
    for _ in range(4):
        assert sign_in(client, username, "wrong-password").status_code == 200
    assert sign_in(client, username).status_code == 302


def test_spellings_of_one_phone_number_share_one_count(client, member_a):
    """The backend accepts any spelling of the mobile number; the lockout must not be dodged by respelling it."""
    phone = member_a.phone
    spellings = [phone, f"{phone[:3]} {phone[3:7]} {phone[7:]}", f"+86{phone}", f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"]
    for spelling in [*spellings, phone]:
        sign_in(client, spelling, "wrong-password")
    assert sign_in(client, phone).status_code == 429
    assert sign_in(Client(), member_a.user.username, ip="198.51.100.7").status_code == 302


def test_phone_sign_in_still_works_behind_axes(client, member_a):
    response = sign_in(client, member_a.phone)
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(member_a.user.pk)


def test_the_admin_login_is_locked_out_too(client, platform_admin):
    for _ in range(5):
        client.post("/admin/login/", {"username": "admin", "password": "nope"}, REMOTE_ADDR="203.0.113.9")
    response = client.post(
        "/admin/login/", {"username": "admin", "password": DEFAULT_PASSWORD}, REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 429
    assert "暂时不能登录" in response.content.decode()


def test_signing_in_rotates_the_session_key(client, member_a):
    session = client.session
    session["before_sign_in"] = "kept"
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    before = session.session_key

    assert sign_in(client, member_a.user.username).status_code == 302

    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()  # a planted key is worth nothing after sign-in
    assert client.session[SESSION_KEY] == str(member_a.user.pk)
    assert UserSession.objects.filter(user=member_a.user, session_key=after).exists()


def test_the_session_cookie_is_http_only_lax_secure_and_lives_a_working_day(client, member_a):
    response = sign_in(client, member_a.user.username)
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["secure"] is True  # the test settings are the production ones (DEBUG off)
    assert int(cookie["max-age"]) == 12 * 3600


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("Qiuzhi2025", "password_too_short"),  # 10 characters: ASVS asks for 12
        ("password1234", "password_too_common"),
        ("1234567890123", "password_entirely_numeric"),
    ],
)
def test_weak_passwords_are_refused(db, password, code):
    with pytest.raises(ValidationError) as caught:
        password_validation.validate_password(password)
    assert code in {error.code for error in caught.value.error_list}


def test_a_good_password_passes(db):
    password_validation.validate_password("Qiuzhi-2025-xingfu")


def test_deactivating_a_member_ends_their_sessions(member_a, secretary_a, member_b):
    phone, laptop, other = Client(), Client(), Client()
    assert sign_in(phone, member_a.user.username).status_code == 302
    assert sign_in(laptop, member_a.user.username, ip="198.51.100.7").status_code == 302
    assert sign_in(other, member_b.user.username).status_code == 302
    assert phone.get("/me/").status_code == 200

    members_services.member_deactivate(member=member_a, actor=secretary_a, reason="长期联系不上")

    for client in (phone, laptop):
        response = client.get("/me/")
        assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert other.get("/me/").status_code == 200  # another member keeps theirs
    assert not UserSession.objects.filter(user=member_a.user).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.SESSIONS_ENDED)
    assert event.user == secretary_a
    assert event.object_id == str(member_a.user.pk)
    assert event.detail["sessions"] == 2


def test_deactivation_ends_sessions_only_when_it_succeeds(client, member_a, secretary_a):
    assert sign_in(client, member_a.user.username).status_code == 302
    members_services.member_deactivate(member=member_a, actor=secretary_a)
    member_a.refresh_from_db()
    assert member_a.status == Member.Status.INACTIVE
    assert sign_in(client, member_a.user.username).status_code == 302  # signing in again still works
    with pytest.raises(ValidationError):
        members_services.member_deactivate(member=member_a, actor=secretary_a)  # already inactive: rolled back
    assert client.get("/me/").status_code == 200


def test_sign_in_and_out_are_in_the_trail_with_the_address(client, member_a):
    sign_in(client, member_a.user.username, ip="203.0.113.77")
    client.post(reverse("logout"), REMOTE_ADDR="203.0.113.77")
    sign_in(client, "nobody-like-this", "x", ip="203.0.113.78")
    rows = list(AuditEvent.objects.order_by("pk").values_list("action", "username", "ip"))
    assert rows == [
        ("login", member_a.user.username, "203.0.113.77"),
        ("logout", member_a.user.username, "203.0.113.77"),
        ("login_failed", "n**", "203.0.113.78"),  # not an account's name: masked (test_sign_in_privacy.py)
    ]

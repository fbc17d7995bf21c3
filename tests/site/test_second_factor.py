"""The second factor (TOTP with recovery codes, django-otp): required of platform admins when
SECOND_FACTOR_FOR_ADMINS is on, offered to secretaries, given at every sign-in by whoever has one
(volunteer_platform/middleware.py, services.py, auth_views.py)."""

import re

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

SETUP = "/accounts/2fa/setup/"
VERIFY = "/accounts/2fa/"


@pytest.fixture
def required(settings):
    settings.SECOND_FACTOR_FOR_ADMINS = True


def _sign_in(client, user) -> object:
    return client.post("/accounts/login/", {"username": user.username, "password": DEFAULT_PASSWORD})


def _code(client) -> str:
    """The app's current code for the key the setup page shows."""
    key = client.session["_second_factor_key"]
    return f"{totp(bytes.fromhex(key)):06d}"


def _set_up(client) -> list[str]:
    client.get(SETUP)
    response = client.post(SETUP, {"token": _code(client)})
    assert response.status_code == 200, response.status_code
    return re.findall(r'<li class="col">([a-z2-7]{8})</li>', response.content.decode())


def _device_code(user) -> str:
    return f"{totp(TOTPDevice.objects.get(user=user).bin_key):06d}"


def test_a_platform_admin_must_set_it_up_before_anything_else(client, platform_admin, required, clock):
    response = _sign_in(client, platform_admin)
    assert response.status_code == 302
    for path in ("/admin/", "/dashboard/", "/me/inbox/", "/"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer["Location"].startswith(SETUP + "?next="), path
    page = client.get(SETUP).content.decode()
    assert "<svg" in page and 'id="second-factor-key"' in page and "平台管理员必须开启两步验证" in page
    assert not TOTPDevice.objects.exists()  # a GET stores nothing
    wrong = client.post(SETUP, {"token": "000000" if _code(client) != "000000" else "111111"})
    assert wrong.status_code == 200 and "验证码不正确" in wrong.content.decode()
    assert not TOTPDevice.objects.exists()
    codes = _set_up(client)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert StaticToken.objects.filter(device__user=platform_admin).count() == 10
    assert client.get("/admin/").status_code == 200
    on = client.get(SETUP).content.decode()
    assert "两步验证已开启" in on and "second-factor-off-form" not in on  # an admin cannot turn it off


def test_every_sign_in_then_asks_for_it_and_a_code_works_once(client, platform_admin, required, clock):
    _sign_in(client, platform_admin)
    codes = _set_up(client)
    clock.advance(30)
    again = Client()
    _sign_in(again, platform_admin)
    answer = again.get("/admin/")
    assert answer.status_code == 302 and answer["Location"].startswith(VERIFY + "?next=")
    assert (
        again.post(VERIFY, {"token": "123456" if _device_code(platform_admin) != "123456" else "654321"}).status_code
        == 200
    )
    clock.advance(10)  # django-otp makes the next try after a wrong one wait a second
    response = again.post(VERIFY, {"token": _device_code(platform_admin), "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert again.get("/admin/").status_code == 200
    third = Client()
    _sign_in(third, platform_admin)
    replay = third.post(VERIFY, {"token": _device_code(platform_admin)})  # the same 30 s step: used already
    assert replay.status_code == 200 and "验证码不正确" in replay.content.decode()
    clock.advance(10)
    assert third.post(VERIFY, {"token": codes[0].upper()}).status_code == 302  # a recovery code, any case
    fourth = Client()
    _sign_in(fourth, platform_admin)
    clock.advance(10)
    assert fourth.post(VERIFY, {"token": codes[0]}).status_code == 200  # used up
    assert StaticToken.objects.filter(device__user=platform_admin).count() == 9


def test_a_secretary_may_turn_it_on_and_off(client, secretary_a, clock):
    _sign_in(client, secretary_a)
    assert client.get("/dashboard/").status_code == 200  # not required
    assert 'id="nav-second-factor"' in client.get("/dashboard/").content.decode()
    _set_up(client)
    clock.advance(30)
    other = Client()
    _sign_in(other, secretary_a)
    assert other.get("/dashboard/")["Location"].startswith(VERIFY)
    clock.advance(30)
    assert other.post(VERIFY, {"token": _device_code(secretary_a)}).status_code == 302
    clock.advance(30)
    refused = other.post("/accounts/2fa/off/", {"token": "12"})
    assert refused.status_code == 200 and TOTPDevice.objects.filter(user=secretary_a).exists()
    clock.advance(30)
    off = other.post("/accounts/2fa/off/", {"token": _device_code(secretary_a)})
    assert off.status_code == 302 and not TOTPDevice.objects.filter(user=secretary_a).exists()
    third = Client()
    _sign_in(third, secretary_a)
    assert third.get("/dashboard/").status_code == 200


def test_a_member_is_not_asked_and_the_pages_need_a_sign_in(client, member_a, required):
    assert client.get(VERIFY)["Location"].startswith("/accounts/login/")
    assert client.get(SETUP)["Location"].startswith("/accounts/login/")
    _sign_in(client, member_a.user)
    assert client.get("/me/").status_code == 200
    assert client.get(VERIFY)["Location"] == "/me/"  # nothing owed


def test_the_reset_command_removes_it_and_ends_the_sessions(client, platform_admin, required, clock):
    _sign_in(client, platform_admin)
    _set_up(client)
    assert client.get("/admin/").status_code == 200
    call_command("second_factor_reset", platform_admin.username)
    assert not TOTPDevice.objects.filter(user=platform_admin).exists()
    assert client.get("/admin/")["Location"].startswith("/admin/login/")  # signed out
    _sign_in(client, platform_admin)
    assert client.get("/admin/")["Location"].startswith(SETUP)  # and sets it up again


def test_off_by_default_in_development(platform_admin, client, settings):
    settings.SECOND_FACTOR_FOR_ADMINS = False
    _sign_in(client, platform_admin)
    assert client.get("/admin/").status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_setups_of_one_account_at_once_leave_one_device(secretary_a):
    """Two tabs (or two people with the password) confirm a setup at the same moment, each with its own key: the
    account row's lock lets one in; the other is told a second factor is already on, and one set of recovery codes
    is left."""
    import threading

    from django.core.exceptions import ValidationError
    from django.db import connection
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.util import random_hex

    from volunteer_platform import services

    keys = [random_hex(20), random_hex(20)]
    barrier = threading.Barrier(2)
    outcomes = []

    def confirm(key):
        try:
            barrier.wait()
            services.second_factor_confirm(user=secretary_a, key=key, token=f"{totp(bytes.fromhex(key)):06d}")
            outcomes.append("ok")
        except ValidationError as exc:
            outcomes.append(exc.message_dict["token"][0])
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["ok", "已经开启两步验证。"]
    assert TOTPDevice.objects.filter(user=secretary_a).count() == 1
    assert StaticDevice.objects.filter(user=secretary_a).count() == 1

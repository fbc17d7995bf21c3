"""The sign-in forms (/accounts/login/ and the admin's) refuse an over-long username or control characters on the
form, before authenticate(): django-axes, the audit trail and the log never see the value (a 256-character username
overflowed axes' 255-character column: a 500)."""

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib import admin
from django.test import Client

from audit.models import AuditEvent
from core.crypto import blind_index
from tests.factories import DEFAULT_PASSWORD
from volunteer_platform.forms import AdminSignInForm

pytestmark = pytest.mark.django_db

PAGES = ["/accounts/login/", "/admin/login/"]


def _nothing_recorded() -> bool:
    return not (AccessAttempt.objects.exists() or AccessFailureLog.objects.exists() or AuditEvent.objects.exists())


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("length", [151, 256, 10_000])
def test_an_over_long_username_is_refused_by_the_form_with_the_limit(page, length):
    response = Client().post(page, {"username": "x" * length, "password": "whatever"})
    assert response.status_code == 200
    (error,) = response.context["form"].errors.as_data()["username"]
    assert error.code == "max_length"
    assert (error.params["limit_value"], error.params["show_value"]) == (150, length)
    assert f"不超过 150 字符 (目前字符数 {length})" in response.content.decode()  # Django's message names the limit
    assert _nothing_recorded()


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("username", ["ad\x00min", "admin\x1b", "a\tb", "x\x7f"])
def test_control_characters_in_a_username_are_refused_by_the_form(page, username):
    response = Client().post(page, {"username": username, "password": "whatever"})
    assert response.status_code == 200
    assert response.context["form"].errors["username"]
    assert _nothing_recorded()


@pytest.mark.parametrize("page", PAGES)
def test_a_username_of_150_characters_is_still_checked_and_counted(page):
    response = Client().post(page, {"username": "x" * 150, "password": "whatever"})
    assert response.status_code == 200
    assert "username" not in response.context["form"].errors
    assert AccessAttempt.objects.filter(username=blind_index("x" * 150)).exists()  # axes counts the keyed hash


def test_the_admin_uses_the_bounded_form():
    assert admin.site.login_form is AdminSignInForm


def test_a_member_still_signs_in(member_a):
    assert Client().post("/accounts/login/", {"username": "member_a", "password": DEFAULT_PASSWORD}).status_code == 302

"""Invitations (a secretary sends a link, the member sets a password and completes the profile) and sign-in with a
phone number or a username."""

from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from members import services
from members.models import Member, Tag
from members.tokens import invitation_token_generator
from notifications.models import Notification
from tests.factories import DEFAULT_PASSWORD
from tests.members.factories import TagFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Qiuzhi-2025-xingfu"
BACKEND = "members.backends.PhoneOrUsernameBackend"


@pytest.fixture
def newcomer(org_tree):
    """A member the secretary has just registered: an account with no usable password."""
    return services.member_create(name="刘阳", phone="13912345678", organization=org_tree.branch_a, actor=None)


def _invite(newcomer, secretary, callbacks, site_url="https://vp.example.org/"):
    with callbacks(execute=True):
        return services.member_invite(member=newcomer, actor=secretary, site_url=site_url)


def _accept_data(**overrides):
    data = {
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
        "name": "刘洋",
        "gender": "female",
        "birth_year": "1990",
        "availability": ["sat-am", "sun-pm"],
    }
    data.update(overrides)
    return data


def _open(client, path):
    """Follow the emailed link: it moves the token into the session and answers with the form's address."""
    response = client.get(path)
    assert response.status_code == 302, response.status_code
    return response.url


# --- Sending ----------------------------------------------------------------------------------------------------


def test_invitation_is_texted_to_the_members_phone(
    newcomer, secretary_a, django_capture_on_commit_callbacks, sms_outbox
):
    path = _invite(newcomer, secretary_a, django_capture_on_commit_callbacks)

    assert path.startswith("/accounts/invite/")
    notification = Notification.objects.get(template="members_invitation")
    assert notification.channel == Notification.Channel.SMS
    assert notification.recipient_user == newcomer.user
    assert notification.context["invited_by"] == secretary_a.pk
    [sms] = sms_outbox
    assert sms.phone == "13912345678"
    assert "刘阳" in sms.text and "东一支部" in sms.text and "14天" in sms.text
    assert f"https://vp.example.org{path}" in sms.text


@pytest.mark.parametrize("reason", ["has_password", "inactive_member", "inactive_account"])
def test_only_members_without_a_password_are_invited(reason, newcomer, member_a, secretary_a):
    member = newcomer
    if reason == "has_password":
        member = member_a  # signs in already: a link must not replace a password they chose
    elif reason == "inactive_member":
        services.member_deactivate(member=newcomer, actor=None)
    else:
        newcomer.user.is_active = False
        newcomer.user.save()

    with pytest.raises(ValidationError):
        services.member_invite(member=member, actor=secretary_a)
    assert not Notification.objects.exists()


def test_admin_action_sends_and_shows_the_links(newcomer, secretary_a, client, django_capture_on_commit_callbacks):
    client.force_login(secretary_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:members_member_changelist"),
            {"action": "invite_selected", "_selected_action": [newcomer.pk]},
            follow=True,
        )

    texts = [str(m) for m in response.context["messages"]]
    assert any("已向 1 名党员发送邀请短信" in text for text in texts), texts
    [link] = [text for text in texts if "/accounts/invite/" in text]
    assert "刘阳" in link and "http://testserver/accounts/invite/" in link
    assert Notification.objects.filter(template="members_invitation", recipient_user=newcomer.user).count() == 1


def test_admin_action_is_all_or_nothing(newcomer, member_a, secretary_a, client):
    client.force_login(secretary_a)
    response = client.post(
        reverse("admin:members_member_changelist"),
        {"action": "invite_selected", "_selected_action": [newcomer.pk, member_a.pk]},
        follow=True,
    )

    texts = [str(m) for m in response.context["messages"]]
    assert any("没有做任何更改" in text and "李明 已经设置了密码" in text for text in texts), texts
    assert not any("/accounts/invite/" in text for text in texts)
    assert not Notification.objects.exists()


# --- Accepting --------------------------------------------------------------------------------------------------


def test_member_accepts_sets_a_password_completes_the_profile_and_is_signed_in(newcomer, secretary_a, client, settings):
    settings.AUTHENTICATION_BACKENDS = [BACKEND]
    skill = TagFactory(kind=Tag.Kind.SKILL, name="理发")
    path = services.member_invite(member=newcomer, actor=secretary_a)

    form_url = _open(client, path)
    assert "set-password" in form_url
    page = client.get(form_url)
    assert page.status_code == 200
    assert page.context["form"].initial["name"] == "刘阳"
    response = client.post(form_url, _accept_data(skills=[skill.pk], show_full_name_publicly="on"))

    assert response.status_code == 302
    assert response.url == reverse("members:me")
    member = Member.objects.select_related("user").get(pk=newcomer.pk)
    assert member.user.check_password(NEW_PASSWORD)
    assert (member.name, member.gender, member.birth_year) == ("刘洋", "female", 1990)
    assert list(member.skills.all()) == [skill]
    assert member.show_full_name_publicly and member.full_name_consent_at
    assert int(client.session[SESSION_KEY]) == member.user.pk
    assert client.get(reverse("members:me")).status_code == 200


def test_a_link_works_once(newcomer, secretary_a, client):
    path = services.member_invite(member=newcomer, actor=secretary_a)
    form_url = _open(client, path)
    assert client.post(form_url, _accept_data()).status_code == 302
    client.logout()

    response = client.get(path)

    assert response.status_code == 200
    assert "邀请链接已失效" in response.content.decode()


def test_a_second_submission_in_the_same_session_is_refused(newcomer, secretary_a, client):
    path = services.member_invite(member=newcomer, actor=secretary_a)
    form_url = _open(client, path)
    # The same browser session posts twice (double click, back button): the second finds the token used.
    session = client.session
    token = session["_members_invitation_token"]
    assert client.post(form_url, _accept_data()).status_code == 302
    session = client.session
    session["_members_invitation_token"] = token
    session.save()

    response = client.post(form_url, _accept_data(name="冒名"))

    assert "邀请链接已失效" in response.content.decode()
    newcomer.refresh_from_db()
    assert newcomer.name == "刘洋"


def test_the_service_checks_the_token_again(newcomer, secretary_a):
    token = invitation_token_generator.make_token(newcomer.user)
    services.member_invitation_accept(member=newcomer, token=token, password=NEW_PASSWORD, name="刘洋")

    with pytest.raises(ValidationError) as exc:
        services.member_invitation_accept(member=newcomer, token=token, password="Another-pass-2025", name="冒名")
    assert exc.value.code == "invalid_invitation"


def test_an_expired_link_is_refused(clock, newcomer, secretary_a, client):
    path = services.member_invite(member=newcomer, actor=secretary_a)
    clock.now += timedelta(days=14, minutes=1)

    response = client.get(path)

    assert response.status_code == 200
    assert "邀请链接已失效" in response.content.decode()


def test_a_link_is_valid_for_fourteen_days_not_three(clock, newcomer):
    token = invitation_token_generator.make_token(newcomer.user)
    clock.now += timedelta(days=13, hours=23)
    assert invitation_token_generator.check_token(newcomer.user, token)


def test_a_password_reset_token_is_not_an_invitation(newcomer, client):
    from django.contrib.auth.tokens import default_token_generator

    uid = urlsafe_base64_encode(force_bytes(newcomer.user.pk))
    token = default_token_generator.make_token(newcomer.user)
    response = client.get(reverse("members:invite_accept", args=[uid, token]))
    assert "邀请链接已失效" in response.content.decode()


@pytest.mark.parametrize(
    ("uid", "token"),
    [
        ("!!!", "abc-def"),
        ("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA", "abc-def"),  # a pk far beyond any integer column
        ("YWJj", "abc-def"),  # "abc"
        ("{uid}", "zzzzzzzzzzzzzzzzz-0"),  # timestamp overflow
        ("{uid}", "nodash"),
        ("{uid}", "set-password"),  # no token in the session
    ],
)
def test_malformed_links_get_the_clear_page(newcomer, client, uid, token):
    uid = uid.replace("{uid}", urlsafe_base64_encode(force_bytes(newcomer.user.pk)))
    for method in (client.get, client.post):
        response = method(reverse("members:invite_accept", args=[uid, token]))
        assert response.status_code == 200
        assert "邀请链接已失效" in response.content.decode()


@pytest.mark.parametrize(
    ("overrides", "form", "field"),
    [
        ({"new_password1": "123", "new_password2": "123"}, "password_form", "new_password2"),
        ({"new_password2": "Different-pass-2025"}, "password_form", "new_password2"),
        ({"new_password1": "liuyang", "new_password2": "liuyang"}, "password_form", "new_password2"),
        ({"name": ""}, "form", "name"),
        ({"birth_year": "1700"}, "form", "birth_year"),
        ({"availability": ["fri-midnight"]}, "form", "availability"),
    ],
)
def test_bad_input_saves_nothing_and_keeps_the_link_usable(newcomer, secretary_a, client, overrides, form, field):
    path = services.member_invite(member=newcomer, actor=secretary_a)
    form_url = _open(client, path)

    response = client.post(form_url, _accept_data(**overrides))

    assert response.status_code == 200
    assert response.context[form].errors[field]
    newcomer.refresh_from_db()
    newcomer.user.refresh_from_db()
    assert newcomer.name == "刘阳"
    assert not newcomer.user.has_usable_password()
    assert SESSION_KEY not in client.session
    assert client.post(form_url, _accept_data()).status_code == 302  # the link still works


# --- Sign-in by phone or username -------------------------------------------------------------------------------


@pytest.fixture
def phone_sign_in(settings):
    settings.AUTHENTICATION_BACKENDS = [BACKEND]


@pytest.mark.parametrize("spelling", ["{phone}", "+86 {phone}", "{a}-{b}-{c}"])
def test_member_signs_in_with_their_phone_in_any_spelling(phone_sign_in, member_a, client, spelling):
    phone = member_a.phone
    identifier = spelling.format(phone=phone, a=phone[:3], b=phone[3:7], c=phone[7:])

    response = client.post(reverse("login"), {"username": identifier, "password": DEFAULT_PASSWORD})

    assert response.status_code == 302
    assert int(client.session[SESSION_KEY]) == member_a.user.pk


def test_username_still_works_and_wins_over_a_phone(phone_sign_in, member_a, member_b, client):
    # An account whose username looks like member B's phone: typing it means that account.
    from tests.factories import UserFactory

    lookalike = UserFactory(username=member_b.phone)
    assert client.login(username="member_a", password=DEFAULT_PASSWORD)
    assert int(client.session[SESSION_KEY]) == member_a.user.pk
    assert client.login(username=member_b.phone, password=DEFAULT_PASSWORD)
    assert int(client.session[SESSION_KEY]) == lookalike.pk


@pytest.mark.parametrize(
    "case", ["wrong_password", "unknown_phone", "inactive_account", "no_password_yet", "not_a_phone"]
)
def test_failed_phone_sign_ins(phone_sign_in, member_a, newcomer, client, case):
    identifier, password = member_a.phone, DEFAULT_PASSWORD
    if case == "wrong_password":
        password = "wrong"
    elif case == "unknown_phone":
        identifier = "13700000000"
    elif case == "inactive_account":
        member_a.user.is_active = False
        member_a.user.save()
    elif case == "no_password_yet":
        identifier, password = newcomer.phone, "anything-at-all"
    else:
        identifier = "李明"

    response = client.post(reverse("login"), {"username": identifier, "password": password})

    assert response.status_code == 200
    assert SESSION_KEY not in client.session

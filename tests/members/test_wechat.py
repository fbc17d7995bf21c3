"""Signing in with WeChat (volunteer_platform/wechat_views.py, members/services/wechat.py, members/wechat.py), end to
end against a fake of WeChat's OAuth endpoints on 127.0.0.1 (tests/members/wechat_fake.py): the browser goes to
the fake's authorize page, which sends it back to our callback with a code, which the site trades with the fake."""

import re
import threading
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client

from audit.models import AuditEvent
from members import services
from members.models import SignInCode, SignInCodePurpose, WeChatApp, WeChatBinding
from members.wechat import Identity
from tests.members.factories import MemberFactory
from tests.members.wechat_fake import FakeWeChat, Person

# Transactions commit, as in production: the SMS task is published after the commit.
pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "13912345678"
OTHER_PHONE = "13912340000"
UNKNOWN = "13700000001"
IN_WECHAT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 MicroMessenger/8.0.47 NetType/WIFI"
MP_ID, OPEN_ID = "wx-test-official-account", "wx-test-website"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def fake(settings):
    server = FakeWeChat({MP_ID: "test-mp-secret", OPEN_ID: "test-open-secret"})
    settings.WECHAT_OAUTH_URL = server.url
    settings.WECHAT_API_URL = server.url
    yield server
    server.close()


@pytest.fixture
def member():
    return MemberFactory(phone=PHONE, name="周红", user__username="zhouhong")


def _code_of(sms_outbox, phone=PHONE) -> str:
    texts = [m.text for m in sms_outbox if m.phone == phone]
    assert texts, "no SMS to the number"
    return re.search(r"\d{6}", texts[-1]).group()


def _to_wechat_and_back(client, start="/accounts/wechat/") -> str:
    """Press the WeChat button: our start page sends the browser to WeChat (the fake), which sends it back to our
    callback; the callback's path and query."""
    response = client.get(start)
    assert response.status_code == 302
    authorize = response["Location"]
    assert authorize.endswith("#wechat_redirect")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(authorize.split("#")[0], timeout=5)
    except urllib.error.HTTPError as exc:
        assert exc.code == 302
        back = exc.headers["Location"]
    else:
        raise AssertionError("the fake did not redirect")
    parts = urlsplit(back)
    assert parts.netloc == "testserver" and parts.path == "/accounts/wechat/callback/"
    return f"{parts.path}?{parts.query}"


def _sign_in_with_wechat(client):
    return client.get(_to_wechat_and_back(client))


def _bind(client, sms_outbox, phone=PHONE):
    response = client.post("/accounts/wechat/bind/", {"phone": phone})
    assert response.status_code == 302 and response["Location"] == "/accounts/wechat/bind/confirm/"
    return client.post("/accounts/wechat/bind/confirm/", {"code": _code_of(sms_outbox, phone)})


def _signed_in(client):
    return client.session.get(SESSION_KEY)


# --- First binding, second sign-in ------------------------------------------------------------------------------


def test_the_first_time_the_member_binds_by_sms_code_then_signs_in_straight_away(fake, member, sms_outbox):
    client = Client()
    page = client.get("/accounts/login/").content.decode()
    assert 'id="wechat-sign-in"' in page and "微信扫码登录" in page  # a PC browser: the website app's QR code
    response = _sign_in_with_wechat(client)
    assert response.status_code == 302 and response["Location"] == "/accounts/wechat/bind/"
    assert _signed_in(client) is None
    assert [path for path, _query in fake.requests] == [
        "/connect/qrconnect",
        "/sns/oauth2/access_token",
        "/sns/userinfo",
    ]
    assert fake.requests[0][1]["scope"] == "snsapi_login" and fake.requests[0][1]["appid"] == OPEN_ID
    assert "绑定微信" in client.get("/accounts/wechat/bind/").content.decode()

    response = _bind(client, sms_outbox)
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert _signed_in(client) == str(member.user.pk)
    assert AuditEvent.objects.filter(action="login", user=member.user).exists()
    binding = WeChatBinding.objects.get()
    assert (binding.user, binding.app, binding.nickname) == (member.user, WeChatApp.WEBSITE, "小周")
    assert binding.openid == fake.person.openid(OPEN_ID) and binding.unionid == fake.person.unionid
    assert SignInCode.objects.get().purpose == SignInCodePurpose.WECHAT_BIND
    me = client.get("/me/").content.decode()
    assert "微信已绑定" in me and "小周" in me and "解除绑定" in me

    again = Client()
    response = _sign_in_with_wechat(again)  # the second time: no phone, no code
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert _signed_in(again) == str(member.user.pk)
    assert len(sms_outbox) == 1 and WeChatBinding.objects.count() == 1

    # Inside WeChat the official account signs in: the same person (unionid) is the same member, bound at once.
    in_wechat = Client(HTTP_USER_AGENT=IN_WECHAT)
    assert "微信登录" in in_wechat.get("/accounts/login/").content.decode()
    response = _sign_in_with_wechat(in_wechat)
    assert response["Location"] == "/me/" and _signed_in(in_wechat) == str(member.user.pk)
    assert fake.requests[-2][1]["scope"] == "snsapi_base"  # silent: the openid only, no userinfo call
    assert fake.requests[-1][0] == "/sns/oauth2/access_token"
    assert sorted(WeChatBinding.objects.values_list("app", flat=True)) == ["mp", "open"]


def test_a_next_given_at_the_start_is_followed_after_binding(fake, member, sms_outbox):
    client = Client()
    client.get(_to_wechat_and_back(client, start="/accounts/wechat/?next=/projects/"))
    assert _bind(client, sms_outbox)["Location"] == "/projects/"
    other = Client()
    response = other.get(_to_wechat_and_back(other, start="/accounts/wechat/?next=https://evil.example/"))
    assert response["Location"] == "/me/"


# --- Codes and states -------------------------------------------------------------------------------------------


def test_a_code_used_twice_is_refused_by_wechat_and_signs_in_nobody(fake, member, sms_outbox):
    client = Client()
    callback = _to_wechat_and_back(client)
    client.get(callback)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    attacker = Client()
    start = attacker.get("/accounts/wechat/")  # a fresh state of the attacker's own, then the old code
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    response = attacker.get("/accounts/wechat/callback/", {"code": code, "state": state})
    assert response.status_code == 400 and "已经用过" in response.content.decode()
    assert _signed_in(attacker) is None and "_wechat_identity" not in attacker.session
    assert fake.requests[-1][0] == "/sns/oauth2/access_token"


def test_an_expired_code_is_refused(fake, member):
    client = Client()
    callback = _to_wechat_and_back(client)
    fake.expire(parse_qs(urlsplit(callback).query)["code"][0])
    response = client.get(callback)
    assert response.status_code == 400 and "已过期" in response.content.decode()
    assert _signed_in(client) is None


def test_a_state_that_does_not_match_is_refused_before_wechat_is_asked(fake, member):
    WeChatBinding.objects.create(user=member.user, app="open", openid=fake.person.openid(OPEN_ID))
    client = Client()
    callback = _to_wechat_and_back(client)
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    response = client.get(forged)
    assert response.status_code == 400 and "已失效" in response.content.decode()
    assert _signed_in(client) is None
    assert [path for path, _query in fake.requests] == ["/connect/qrconnect"]
    # The state was used up by the failed try: the genuine callback no longer works either.
    assert client.get(callback).status_code == 400
    # No state in the session at all (a callback forged from scratch).
    assert Client().get(callback).status_code == 400


def test_a_declined_authorization_signs_in_nobody(fake, member):
    fake.decline = True
    client = Client()
    response = _sign_in_with_wechat(client)
    assert response.status_code == 400 and "没有同意" in response.content.decode()


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ({"errcode": -1, "errmsg": "system error"}, 502),
        ({"errcode": 40125, "errmsg": "invalid appsecret"}, 502),
        ({"errcode": 40029, "errmsg": "invalid code"}, 400),
        ("unreachable", 502),
    ],
    ids=["system-error", "bad-secret", "invalid-code", "unreachable"],
)
def test_an_error_answer_of_wechat_is_a_page_not_a_500(fake, member, answer, status, caplog):
    WeChatBinding.objects.create(user=member.user, app="open", openid=fake.person.openid(OPEN_ID))
    if answer == "unreachable":
        fake.unreachable = True
    else:
        fake.error = answer
    client = Client()
    callback = _to_wechat_and_back(client)
    response = client.get(callback)
    assert response.status_code == status and 'id="wechat-failure"' in response.content.decode()
    assert _signed_in(client) is None
    code = parse_qs(urlsplit(callback).query)["code"][0]
    assert code not in caplog.text and "test-open-secret" not in caplog.text


# --- No enumeration, no stray account ---------------------------------------------------------------------------


def test_an_unknown_number_answers_like_a_known_one_and_makes_nothing(fake, member, sms_outbox):
    users = get_user_model().objects.count()
    answers = []
    for phone in (PHONE, UNKNOWN):
        client = Client()
        fake.person = Person(f"p{phone}")
        _sign_in_with_wechat(client)
        asked = client.post("/accounts/wechat/bind/", {"phone": phone})
        page = client.get(asked["Location"])
        wrong = client.post("/accounts/wechat/bind/confirm/", {"code": "000000"})
        answers.append((asked.status_code, asked["Location"], page.status_code, wrong.status_code))
        answers.append(wrong.context["form"].errors)
        assert _signed_in(client) is None
    assert answers[0:2] == answers[2:4]
    assert [m.phone for m in sms_outbox] == [PHONE]
    assert not WeChatBinding.objects.exists() and get_user_model().objects.count() == users


def test_a_wechat_bound_to_another_member_is_not_bound_twice(fake, member, sms_outbox):
    other = MemberFactory(phone=OTHER_PHONE)
    WeChatBinding.objects.create(user=other.user, app="open", openid="o-someone", unionid=fake.person.unionid)
    client = Client()
    _sign_in_with_wechat(client)  # the unionid is the other member's, through this same app: not signed in
    assert _signed_in(client) is None
    response = _bind(client, sms_outbox)
    assert response.status_code == 200 and "已绑定平台上的另一个账号" in response.content.decode()
    assert _signed_in(client) is None and WeChatBinding.objects.count() == 1


def test_the_bind_pages_need_a_wechat_sign_in_first(fake, member):
    client = Client()
    assert client.get("/accounts/wechat/bind/")["Location"] == "/accounts/login/"
    assert client.get("/accounts/wechat/bind/confirm/")["Location"] == "/accounts/wechat/bind/"


def test_a_deactivated_members_wechat_signs_in_nobody(fake, member):
    WeChatBinding.objects.create(user=member.user, app="open", openid=fake.person.openid(OPEN_ID))
    member.user.is_active = False
    member.user.save()
    client = Client()
    assert _sign_in_with_wechat(client)["Location"] == "/accounts/wechat/bind/"
    assert _signed_in(client) is None


# --- Unbinding --------------------------------------------------------------------------------------------------


def test_unbinding_from_the_members_page(fake, member, sms_outbox):
    client = Client()
    _sign_in_with_wechat(client)
    _bind(client, sms_outbox)
    binding = WeChatBinding.objects.get()
    other = MemberFactory(phone=OTHER_PHONE)
    theirs = WeChatBinding.objects.create(user=other.user, app="open", openid="o-theirs")
    assert client.post("/me/wechat/unbind/", {"binding": theirs.pk}).status_code == 404
    assert client.post("/me/wechat/unbind/", {"binding": "１"}).status_code == 404
    response = client.post("/me/wechat/unbind/", {"binding": binding.pk})
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert list(WeChatBinding.objects.all()) == [theirs]
    me = client.get("/me/").content.decode()
    assert "已解除微信绑定" in me and "解除绑定" not in me.replace("已解除微信绑定", "")
    assert _sign_in_with_wechat(Client())["Location"] == "/accounts/wechat/bind/"  # asks for the phone again


# --- Off without credentials ------------------------------------------------------------------------------------


def test_without_credentials_there_is_no_button_and_the_pages_answer_404(settings, member):
    settings.WECHAT_MP_APP_ID = settings.WECHAT_OPEN_APP_ID = ""
    client = Client()
    assert "wechat-sign-in" not in client.get("/accounts/login/").content.decode()
    for path in ("/accounts/wechat/", "/accounts/wechat/callback/", "/accounts/wechat/bind/"):
        assert client.get(path).status_code == 404, path
    # Only the website app: inside WeChat there is no button, and the start page says why.
    settings.WECHAT_OPEN_APP_ID = "wx-test-website"
    in_wechat = Client(HTTP_USER_AGENT=IN_WECHAT)
    assert "wechat-sign-in" not in in_wechat.get("/accounts/login/").content.decode()
    assert in_wechat.get("/accounts/wechat/").status_code == 400


# --- A race -----------------------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_two_members_binding_one_wechat_at_once_leave_one_binding(sms_outbox):
    members = [MemberFactory(phone=PHONE), MemberFactory(phone=OTHER_PHONE)]
    codes = {}
    for m in members:
        services.sign_in_code_send(phone=m.phone, purpose=SignInCodePurpose.WECHAT_BIND)
        codes[m.phone] = _code_of(sms_outbox, m.phone)
    identity = Identity(app="mp", openid="o-shared", unionid="u-shared")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def bind(phone):
        try:
            barrier.wait()
            services.wechat_bind_with_code(identity=identity, phone=phone, code=codes[phone])
            outcomes.append("bound")
        except ValidationError as exc:
            outcomes.append(exc.code)
        except Exception as exc:  # noqa: BLE001 - any other failure is a finding, reported by name
            outcomes.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()  # each thread opened its own connection

    threads = [threading.Thread(target=bind, args=(m.phone,)) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["bound", "wechat_taken"]
    assert WeChatBinding.objects.filter(openid="o-shared").count() == 1


# --- Personal data ----------------------------------------------------------------------------------------------


def test_the_binding_is_in_the_members_data_and_goes_with_the_deletion(member, platform_admin):
    WeChatBinding.objects.create(user=member.user, app="open", openid="o-own", unionid="u-own", nickname="小周")
    client = Client()
    client.force_login(member.user)
    data = client.get("/me/data.json").json()
    assert [(b["openid"], b["unionid"], b["nickname"]) for b in data["wechat_bindings"]] == [("o-own", "u-own", "小周")]
    services.member_anonymise(member=member, actor=platform_admin)
    assert not WeChatBinding.objects.exists()


# --- The admin --------------------------------------------------------------------------------------------------


def test_a_secretary_sees_and_removes_the_bindings_of_their_branch_only(member_a, secretary_a, secretary_b):
    binding = WeChatBinding.objects.create(user=member_a.user, app="mp", openid="o-admin", nickname="小李")
    outsider = Client()
    outsider.force_login(secretary_b)
    assert outsider.get(f"/admin/members/wechatbinding/{binding.pk}/delete/").status_code == 404
    assert "小李" not in outsider.get("/admin/members/wechatbinding/").content.decode()
    client = Client()
    client.force_login(secretary_a)
    assert "小李" in client.get("/admin/members/wechatbinding/").content.decode()
    assert client.get("/admin/members/wechatbinding/add/").status_code == 403
    response = client.post(f"/admin/members/wechatbinding/{binding.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not WeChatBinding.objects.exists()

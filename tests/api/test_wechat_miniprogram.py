"""The mini-program's WeChat sign-in through the API (volunteer_platform/api_wechat.py, members/wechat.py
`fetch_mini_identity`), end to end against the fake of WeChat on 127.0.0.1 (tests/members/wechat_fake.py): the
fake plays wx.login() (`mini_login`) and answers /sns/jscode2session."""

import logging
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core import signing
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import ApiToken, AuditEvent
from members.models import SignInCode, SignInCodePurpose, WeChatApp, WeChatBinding
from tests.members.factories import MemberFactory
from tests.members.wechat_fake import FakeWeChat
from volunteer_platform.api_wechat import TICKET_SALT

pytestmark = pytest.mark.django_db(transaction=True)  # the SMS task is published after the commit

PHONE = "13912345678"
UNKNOWN = "13700000001"
MINI_ID, MINI_SECRET = "wx-test-mini-program", "test-mini-secret"
OPEN_ID = "wx-test-website"
LOGIN, BIND, SMS = "/api/v1/auth/wechat/", "/api/v1/auth/wechat/bind/", "/api/v1/auth/sms-code/"


@pytest.fixture
def fake(settings):
    server = FakeWeChat({MINI_ID: MINI_SECRET, OPEN_ID: "test-open-secret"})
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


def _login(api, fake, device="iPhone 小程序"):
    return api.post(LOGIN, {"code": fake.mini_login(MINI_ID), "device": device}, format="json")


def _bind_with_sms(api, sms_outbox, ticket, phone=PHONE):
    answer = api.post(SMS, {"phone": phone, "purpose": "wechat_bind"}, format="json")
    assert answer.status_code == 202
    code = _code_of(sms_outbox, phone)
    return api.post(
        BIND, {"bind_ticket": ticket, "phone": phone, "code": code, "device": "iPhone 小程序"}, format="json"
    )


def _bound(member, fake) -> WeChatBinding:
    return WeChatBinding.objects.create(
        user=member.user, app=WeChatApp.MINI_PROGRAM, openid=fake.person.openid(MINI_ID)
    )


# --- First binding, second sign-in ------------------------------------------------------------------------------


def test_the_first_time_the_member_binds_by_sms_code_and_the_token_works(api, fake, member, sms_outbox):
    users = get_user_model().objects.count()
    answer = _login(api, fake)
    assert answer.status_code == 409
    body = answer.json()
    assert body["code"] == "bind_required" and "绑定" in body["detail"] and body["errors"] == {}
    assert body["expires_in"] == 600 and body["bind_ticket"]
    assert not WeChatBinding.objects.exists() and not ApiToken.objects.exists()
    assert get_user_model().objects.count() == users  # no account is made
    path, query = fake.requests[-1]
    assert path == "/sns/jscode2session" and query["appid"] == MINI_ID
    assert query["grant_type"] == "authorization_code" and query["js_code"]

    answer = _bind_with_sms(api, sms_outbox, body["bind_ticket"])
    assert answer.status_code == 201, answer.json()
    token = answer.json()
    assert set(token) == {"token", "token_id", "expires_at"}
    row = ApiToken.objects.get(pk=token["token_id"])
    assert (row.user, row.device) == (member.user, "iPhone 小程序")
    binding = WeChatBinding.objects.get()
    assert (binding.user, binding.app) == (member.user, WeChatApp.MINI_PROGRAM)
    assert (binding.openid, binding.unionid) == (fake.person.openid(MINI_ID), fake.person.unionid)
    assert SignInCode.objects.get().purpose == SignInCodePurpose.WECHAT_BIND
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.LOGIN, user=member.user, detail__via="api-wechat", detail__token=row.pk
    ).exists()

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token['token']}")
    me = api.get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["volunteer_number"] == member.volunteer_number
    assert get_user_model().objects.count() == users


def test_the_second_time_the_bound_wechat_gets_a_token_straight_away(api, fake, member):
    _bound(member, fake)
    answer = _login(api, fake, device="Android 小程序")
    assert answer.status_code == 201, answer.json()
    row = ApiToken.objects.get(pk=answer.json()["token_id"])
    assert (row.user, row.device) == (member.user, "Android 小程序")
    assert WeChatBinding.objects.get().last_sign_in_at is not None
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN, detail__via="api-wechat").count() == 1
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {answer.json()['token']}")
    assert api.get("/api/v1/me/").status_code == 200


def test_a_wechat_bound_through_the_website_signs_in_to_the_mini_program_by_its_unionid(api, fake, member):
    WeChatBinding.objects.create(
        user=member.user, app=WeChatApp.WEBSITE, openid=fake.person.openid(OPEN_ID), unionid=fake.person.unionid
    )
    answer = _login(api, fake)
    assert answer.status_code == 201, answer.json()
    assert WeChatBinding.objects.filter(user=member.user, app=WeChatApp.MINI_PROGRAM).exists()


def test_an_account_that_owes_a_second_factor_signs_in_on_the_site(api, fake, member):
    _bound(member, fake)
    TOTPDevice.objects.create(user=member.user, name="手机", confirmed=True)
    answer = _login(api, fake)
    assert answer.status_code == 403 and answer.json()["code"] == "permission_denied"
    assert "两步验证" in answer.json()["detail"]
    assert not ApiToken.objects.exists()


def test_an_inactive_account_is_not_signed_in(api, fake, member):
    _bound(member, fake)
    member.user.is_active = False
    member.user.save(update_fields=["is_active"])
    answer = _login(api, fake)
    assert answer.status_code == 409 and not ApiToken.objects.exists()


# --- WeChat's refusals ------------------------------------------------------------------------------------------


def test_a_code_used_twice_is_refused_by_wechat_and_said_so(api, fake, member, caplog):
    _bound(member, fake)
    code = fake.mini_login(MINI_ID)
    assert api.post(LOGIN, {"code": code}, format="json").status_code == 201
    with caplog.at_level(logging.WARNING):
        again = api.post(LOGIN, {"code": code}, format="json")
    assert again.status_code == 400
    body = again.json()
    assert body["code"] == "invalid" and list(body["errors"]) == ["code"] and "重新登录" in body["detail"]
    assert "errcode 40163" in caplog.text and code not in caplog.text
    assert ApiToken.objects.count() == 1


def test_an_invalid_code_is_refused(api, fake, member):
    answer = api.post(LOGIN, {"code": "not-a-code-of-wechat"}, format="json")
    assert answer.status_code == 400 and list(answer.json()["errors"]) == ["code"]
    assert fake.requests[-1][0] == "/sns/jscode2session"


def test_a_code_of_another_app_is_refused(api, fake, member):
    answer = api.post(LOGIN, {"code": fake.mini_login(OPEN_ID)}, format="json")
    assert answer.status_code == 400


def test_a_missing_code_is_refused_before_asking_wechat(api, fake):
    answer = api.post(LOGIN, {}, format="json")
    assert answer.status_code == 400 and answer.json()["errors"]["code"] == ["这个字段是必填项。"]
    assert fake.requests == []


@pytest.mark.parametrize(
    "trouble",
    [{"errcode": -1, "errmsg": "system error"}, {"errcode": 40125, "errmsg": "invalid appsecret"}, "unreachable"],
)
def test_wechat_busy_or_unreachable_is_a_clear_502(api, fake, member, trouble):
    if trouble == "unreachable":
        fake.unreachable = True
    else:
        fake.error = trouble
    answer = _login(api, fake)
    assert answer.status_code == 502
    assert answer.json() == {
        "detail": "暂时无法连接微信，请稍后再试，或用短信验证码登录。",
        "code": "wechat_unavailable",
        "errors": {},
    }


def test_wechat_closed_altogether_is_a_clear_502(api, settings, member):
    settings.WECHAT_API_URL = "http://127.0.0.1:9"  # nothing listens
    answer = api.post(LOGIN, {"code": "0a1b2c"}, format="json")
    assert answer.status_code == 502 and answer.json()["code"] == "wechat_unavailable"


def test_wechats_own_rate_limit_asks_to_wait_a_minute(api, fake, member):
    fake.error = {"errcode": 45011, "errmsg": "api minute-quota reach limit"}
    answer = _login(api, fake)
    assert answer.status_code == 429 and answer["Retry-After"] == "60"
    assert answer.json()["code"] == "throttled"


def test_sign_ins_that_ask_wechat_are_limited_per_address(api, fake, member, settings):
    settings.WECHAT_CALLBACK_IP_LIMIT = (2, 900)
    _bound(member, fake)
    assert [_login(api, fake).status_code for _i in range(2)] == [201, 201]
    refused = _login(api, fake)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert [path for path, _q in fake.requests].count("/sns/jscode2session") == 2


# --- The bind ticket --------------------------------------------------------------------------------------------


def test_a_tampered_ticket_is_refused_with_its_own_message(api, fake, member, sms_outbox):
    ticket = _login(api, fake).json()["bind_ticket"]
    payload, _sep, signature = ticket.rpartition(":")
    forged = signing.dumps(
        {"app": WeChatApp.MINI_PROGRAM, "openid": "o-someone-else", "unionid": ""}, salt="another.salt"
    )
    api.post(SMS, {"phone": PHONE, "purpose": "wechat_bind"}, format="json")
    code = _code_of(sms_outbox)
    for bad in (f"{payload}:{signature[:-2]}xx", forged, "garbage"):
        answer = api.post(BIND, {"bind_ticket": bad, "phone": PHONE, "code": code}, format="json")
        assert answer.status_code == 400
        body = answer.json()
        assert list(body["errors"]) == ["bind_ticket"] and "绑定凭证" in body["detail"]
    assert not WeChatBinding.objects.exists() and not ApiToken.objects.exists()
    # The code was not spent on them: with the true ticket it binds.
    answer = api.post(BIND, {"bind_ticket": ticket, "phone": PHONE, "code": code}, format="json")
    assert answer.status_code == 201 and WeChatBinding.objects.get().user == member.user


def test_a_ticket_of_another_app_is_refused(api, fake, member, sms_outbox):
    ticket = signing.dumps({"app": WeChatApp.WEBSITE, "openid": "o-x", "unionid": ""}, salt=TICKET_SALT)
    answer = _bind_with_sms(api, sms_outbox, ticket)
    assert answer.status_code == 400 and list(answer.json()["errors"]) == ["bind_ticket"]


def test_an_expired_ticket_is_refused(api, fake, member, sms_outbox, clock):
    ticket = _login(api, fake).json()["bind_ticket"]
    clock.advance(timedelta(minutes=10, seconds=1))
    answer = _bind_with_sms(api, sms_outbox, ticket)
    assert answer.status_code == 400 and list(answer.json()["errors"]) == ["bind_ticket"]
    assert not WeChatBinding.objects.exists()


def test_a_ticket_holds_the_identity_and_nothing_else(api, fake, member):
    ticket = _login(api, fake).json()["bind_ticket"]
    data = signing.loads(ticket, salt=TICKET_SALT)
    assert data == {"app": "mini", "openid": fake.person.openid(MINI_ID), "unionid": fake.person.unionid}


# --- No enumeration, nothing made -------------------------------------------------------------------------------


def test_an_unknown_phone_answers_like_a_known_one_and_makes_nothing(api, fake, member, sms_outbox):
    users = get_user_model().objects.count()
    ticket = _login(api, fake).json()["bind_ticket"]
    known = api.post(SMS, {"phone": PHONE, "purpose": "wechat_bind"}, format="json")
    unknown = api.post(SMS, {"phone": UNKNOWN, "purpose": "wechat_bind"}, format="json")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert [m.phone for m in sms_outbox] == [PHONE]

    right = _code_of(sms_outbox)
    wrong = "000000" if right != "000000" else "111111"
    for_known = api.post(BIND, {"bind_ticket": ticket, "phone": PHONE, "code": wrong}, format="json")
    for_unknown = api.post(BIND, {"bind_ticket": ticket, "phone": UNKNOWN, "code": right}, format="json")
    assert for_known.status_code == for_unknown.status_code == 400
    assert for_known.json() == for_unknown.json()
    assert "验证码" in for_known.json()["detail"]
    assert get_user_model().objects.count() == users
    assert not WeChatBinding.objects.exists() and not ApiToken.objects.exists()


def test_a_wechat_bound_meanwhile_to_another_account_is_not_bound_again(api, fake, member, sms_outbox):
    ticket = _login(api, fake).json()["bind_ticket"]
    other = MemberFactory(phone="13912340000")
    WeChatBinding.objects.create(user=other.user, app=WeChatApp.MINI_PROGRAM, openid=fake.person.openid(MINI_ID))
    answer = _bind_with_sms(api, sms_outbox, ticket)
    assert answer.status_code == 400 and "另一个账号" in answer.json()["detail"]
    assert not WeChatBinding.objects.filter(user=member.user).exists() and not ApiToken.objects.exists()


def test_the_sign_in_code_purpose_stays_the_default(api, member, sms_outbox):
    assert api.post(SMS, {"phone": PHONE}, format="json").status_code == 202
    assert SignInCode.objects.get().purpose == SignInCodePurpose.SIGN_IN
    refused = api.post(SMS, {"phone": PHONE, "purpose": "password_reset"}, format="json")
    assert refused.status_code == 400 and list(refused.json()["errors"]) == ["purpose"]


# --- Not set up; secrets ----------------------------------------------------------------------------------------


def test_without_the_mini_program_set_up_the_endpoints_answer_404(api, settings, member, sms_outbox):
    settings.WECHAT_MINI_APP_ID = ""
    not_found = {"detail": "找不到。", "code": "not_found", "errors": {}}
    for path, data in (
        (LOGIN, {"code": "abc"}),
        (BIND, {"bind_ticket": "x", "phone": PHONE, "code": "123456"}),
        (SMS, {"phone": PHONE, "purpose": "wechat_bind"}),
    ):
        answer = api.post(path, data, format="json")
        assert (answer.status_code, answer.json()) == (404, not_found), path
    assert sms_outbox == [] and not SignInCode.objects.exists()
    assert api.post(SMS, {"phone": PHONE}, format="json").status_code == 202  # the SMS sign-in stays


def test_the_session_key_and_the_secret_are_never_kept_or_logged(api, fake, member, sms_outbox, caplog):
    with caplog.at_level(logging.DEBUG):
        first = _login(api, fake)
        bound = _bind_with_sms(api, sms_outbox, first.json()["bind_ticket"])
        second = _login(api, fake)
        fake.error = {"errcode": -1, "errmsg": "system error"}
        _login(api, fake)
    assert (first.status_code, bound.status_code, second.status_code) == (409, 201, 201)
    assert len(fake.session_keys) == 2
    secrets_ = [*fake.session_keys, MINI_SECRET]
    said = caplog.text + "".join(r.content.decode() for r in (first, bound, second))
    assert not [s for s in secrets_ if s in said]
    for model in apps.get_models():
        for row in model.objects.values():
            text = str(row)
            assert not [s for s in secrets_ if s in text], model

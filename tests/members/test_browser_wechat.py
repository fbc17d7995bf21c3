"""On a phone, inside WeChat's browser: a member signs in with WeChat for the first time, binds it with an SMS
code (read from the test SMS backend), lands on 我的 and unbinds it there. WeChat is the fake of
tests/members/wechat_fake.py, to which the browser really goes and from which it is really sent back."""

import re

import pytest
from playwright.sync_api import expect

from members.models import WeChatBinding
from tests.conftest import _new_page
from tests.members.factories import MemberFactory
from tests.members.wechat_fake import FakeWeChat

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "13912340000"
IN_WECHAT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
    " MicroMessenger/8.0.47.2560(0x28002F35) WeChat/arm64 NetType/WIFI Language/zh_CN"
)


@pytest.fixture
def fake(settings):
    server = FakeWeChat({settings.WECHAT_MP_APP_ID: settings.WECHAT_MP_APP_SECRET})
    settings.WECHAT_OAUTH_URL = server.url
    settings.WECHAT_API_URL = server.url
    yield server
    server.close()


@pytest.fixture
def wechat_page(_playwright_browser, live_server):
    context, page = _new_page(
        _playwright_browser,
        live_server,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        user_agent=IN_WECHAT,
    )
    yield page
    context.close()


def test_first_wechat_sign_in_binds_by_sms_code_then_unbinds_on_me(wechat_page, fake, sms_outbox):
    page = wechat_page
    member = MemberFactory(phone=PHONE, name="周红", user__username="zhouhong")

    page.goto("/accounts/login/")
    page.get_by_role("link", name="微信登录").click()
    expect(page.get_by_role("heading", name="绑定微信")).to_be_visible()
    page.get_by_label("手机号").fill("139 1234 0000")
    page.get_by_role("button", name="获取验证码").click()
    expect(page.locator("#code-sent-note")).to_contain_text("139****0000")
    code = re.search(r"\d{6}", [m for m in sms_outbox if m.phone == PHONE][-1].text).group()
    page.get_by_label("短信验证码").fill(code)
    page.get_by_role("button", name="绑定并登录").click()
    expect(page).to_have_url(re.compile(r"/me/$"))
    expect(page.locator(".alert-success")).to_contain_text("微信已绑定")
    expect(page.locator("#wechat-bindings")).to_contain_text("已绑定（微信内登录）")
    assert WeChatBinding.objects.get().user == member.user

    page.locator("#wechat-bindings").get_by_role("button", name="解除绑定").click()
    expect(page.locator(".alert-success")).to_contain_text("已解除微信绑定")
    expect(page.locator("#wechat-bindings")).to_contain_text("绑定微信")
    assert not WeChatBinding.objects.exists()

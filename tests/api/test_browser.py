"""In a browser: the API's docs render from our static files under the site's Content-Security-Policy, and a
member who signed in on a phone app ends that device's sign-in from /me/devices/."""

import re

import pytest
from playwright.sync_api import expect
from rest_framework.test import APIClient

from tests.api.conftest import bearer
from tests.conftest import login_in_browser
from tests.members.factories import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_api_docs_render_without_a_cdn_and_without_csp_violations(page, live_server):
    refused = []
    page.on(
        "console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None
    )
    outside = []
    page.on(
        "request", lambda request: outside.append(request.url) if not request.url.startswith(live_server.url) else None
    )
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("党员志愿服务平台 API")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    expect(page.get_by_text("/api/v1/wishes/submit/").first).to_be_visible()
    assert refused == [] and outside == []


def test_a_member_signs_a_lost_phone_out_on_the_devices_page(phone_page, live_server):
    page = phone_page
    member = MemberFactory(user__username="zhouhong", name="周红")
    member.user.set_password("Zhiyuan-2026-mima")
    member.user.save()
    lost = APIClient()
    bearer(lost, member.user, device="丢失的手机")
    assert lost.get("/api/v1/me/").status_code == 200

    login_in_browser(page, "zhouhong", "Zhiyuan-2026-mima")
    expect(page).to_have_url(re.compile(r"/me/$"))
    page.locator("#me-devices").click()
    expect(page.locator("#devices")).to_contain_text("丢失的手机")
    page.get_by_role("button", name="退出登录").first.click()
    expect(page.locator(".alert-success")).to_contain_text("已让该设备退出登录")
    expect(page.locator("#devices-empty")).to_be_visible()
    assert lost.get("/api/v1/me/").status_code == 401

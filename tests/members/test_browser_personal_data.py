"""Browser journey: a member downloads their data and asks for its deletion on their phone; their branch's secretary
approves in the admin, and the member is anonymised while the service record stays."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from members import services
from members.models import DeletionRequest, Member, ServiceRecord
from tests.conftest import login_in_browser
from tests.factories import DEFAULT_PASSWORD
from tests.members.factories import ServiceRecordFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_member_downloads_asks_for_deletion_and_the_secretary_approves(page, phone_page, member_a, secretary_a):
    record = ServiceRecordFactory(member=member_a)
    services.service_record_verify(record=record, verifier=secretary_a)

    # The member, on a phone: the download, then the request with its confirmation box.
    login_in_browser(phone_page, "member_a", DEFAULT_PASSWORD)
    phone_page.goto("/me/data/")
    with phone_page.expect_download() as download_info:
        phone_page.locator("#data-download").click()
    data = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    assert data["profile"]["name"] == "李明" and len(data["service_records"]) == 1
    phone_page.locator("#deletion-form button[type=submit]").click()
    expect(phone_page.locator("#deletion-form")).to_contain_text("请勾选确认后再提交。")
    phone_page.check("input[name=confirm]")
    phone_page.locator("#deletion-form button[type=submit]").click()
    expect(phone_page.locator("#deletion-pending")).to_contain_text("正在等待所在支部审批")

    # The branch's secretary approves in the admin.
    page.goto("/admin/")
    page.fill("#id_username", "secretary_a")
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.locator("#login-form [type=submit]").click()
    page.goto("/admin/members/deletionrequest/")
    page.locator("#result_list tr", has_text=member_a.volunteer_number).locator("input.action-select").check()
    page.select_option("select[name=action]", "approve_selected")
    page.locator("button[name=index]").click()
    expect(page.locator(".messagelist")).to_contain_text("已批准 1 份申请")

    assert DeletionRequest.objects.get().status == "approved"
    assert Member.objects.get(pk=member_a.pk).name == "已注销党员"
    assert ServiceRecord.objects.get().member_id == member_a.pk
    phone_page.goto("/me/")
    expect(phone_page).to_have_url("/accounts/login/?next=/me/", timeout=5000)

"""A member's rights over their personal information (PIPL arts. 45 and 47): the download of everything held about
them, and deletion on request — decided by their branch, carried out by anonymising, statistics kept."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from incentives import services as incentive_services
from members import services
from members.models import DeletionRequest, Member, ResidenceRegistration, ServiceRecord
from notifications.models import Notification
from notifications.services import notify
from tests.factories import DEFAULT_PASSWORD
from tests.members.factories import ServiceRecordFactory

User = get_user_model()


@pytest.fixture
def li_ming(member_a, secretary_a, org_tree, platform_admin):
    """李明 of branch A: a verified two-hour record, a message in his inbox, 10 points, 双报到 at 西岭村."""
    record = ServiceRecordFactory(member=member_a)
    services.service_record_verify(record=record, verifier=secretary_a)
    notify(template="welcome", channel="inapp", user=member_a.user, dedupe_key="welcome-li-ming")
    incentive_services.adjust(member=member_a, points=10, actor=platform_admin, reason="测试")
    services.residence_register(member=member_a, community=org_tree.community_b, actor=None)
    member_a.refresh_from_db()
    return member_a


def sign_in(client, member):
    assert client.login(username=member.user.username, password=DEFAULT_PASSWORD)


# --- Download ---------------------------------------------------------------------------------------------------


def test_the_member_downloads_everything_held_about_them(client, li_ming):
    sign_in(client, li_ming)
    page = client.get("/me/data/")
    assert page.status_code == 200
    assert 'href="/privacy/"' in page.content.decode()

    response = client.get("/me/data.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["profile"]["name"] == "李明"
    assert data["profile"]["phone"] == li_ming.phone  # the full value: it is his own
    assert data["profile"]["volunteer_number"] == li_ming.volunteer_number
    assert [(r["hours"], r["status"]) for r in data["service_records"]] == [("2.00", "已确认")]
    assert [r["community"] for r in data["residence_registrations"]] == ["西岭村"]
    # A section from the apps above members: the verified 2-hour record's points and the adjustment.
    assert sorted(e["points"] for e in data["points_ledger"]) == [10, 20]
    assert {"wishes_claimed", "activity_signups", "training_records", "commendations"} <= data.keys()
    event = AuditEvent.objects.get(action="export")
    assert (event.user_id, event.object_id) == (li_ming.user_id, str(li_ming.pk))
    assert event.detail == {"kind": "personal_data"}


def test_someone_without_a_member_record_gets_404(client, platform_admin):
    client.force_login(platform_admin)
    assert client.get("/me/data.json").status_code == 404
    assert client.get("/me/data/").status_code == 404


# --- Request ----------------------------------------------------------------------------------------------------


def test_a_request_needs_the_confirmation_and_is_made_once(client, li_ming):
    sign_in(client, li_ming)
    response = client.post("/me/data/", {"reason": "搬家了"})
    assert response.status_code == 200
    assert "请勾选确认后再提交。" in response.content.decode()
    assert not DeletionRequest.objects.exists()

    response = client.post("/me/data/", {"reason": "搬家了", "confirm": "on"})
    assert response.status_code == 302
    request = DeletionRequest.objects.get()
    assert (request.member, request.status, request.reason) == (li_ming, "pending", "搬家了")
    assert "正在等待所在支部审批" in client.get("/me/data/").content.decode()

    with pytest.raises(ValidationError, match="正在等待审批"):
        services.deletion_request_create(member=li_ming)
    assert DeletionRequest.objects.count() == 1


def test_a_secretary_hands_over_the_post_before_asking(secretary_a):
    with pytest.raises(ValidationError, match="请先由上级党组织更换书记"):
        services.deletion_request_create(member=secretary_a.member)
    assert not DeletionRequest.objects.exists()


# --- Decision ---------------------------------------------------------------------------------------------------


def _approve_in_admin(client, secretary, request):
    client.force_login(secretary)
    return client.post(
        "/admin/members/deletionrequest/",
        {"action": "approve_selected", "_selected_action": [request.pk]},
        follow=True,
    )


def test_approval_anonymises_the_member_and_keeps_the_statistics(client, li_ming, secretary_a):
    member_client = client.__class__()
    sign_in(member_client, li_ming)
    phone = li_ming.phone
    services.member_update_profile(member=li_ming, actor=None, name="李明", birth_year=1970)  # one more history row
    request = services.deletion_request_create(member=li_ming, reason="不再参加")

    response = _approve_in_admin(client, secretary_a, request)
    assert "已批准 1 份申请" in response.content.decode()

    member = Member.objects.get(pk=li_ming.pk)
    assert (member.name, member.phone, member.phone_hash, member.id_number, member.birth_year) == (
        "已注销党员",
        "",
        "",
        "",
        None,
    )
    assert member.status == Member.Status.INACTIVE
    assert member.volunteer_number == li_ming.volunteer_number
    # No earlier row of the change history keeps the old name or phone.
    history = member.history.all()
    assert history.count() >= 3
    assert set(history.values_list("name", flat=True)) == {"已注销党员"}
    assert not any(row.phone == phone for row in history)
    # The account is closed and its sessions ended; the messages are gone.
    user = User.objects.get(pk=li_ming.user_id)
    assert not user.is_active and not user.has_usable_password() and user.username.startswith("deleted-")
    assert not Session.objects.exists() or member_client.get("/me/").status_code == 302
    assert not Notification.objects.filter(recipient_user=user).exists()
    assert not client.login(username="member_a", password=DEFAULT_PASSWORD)
    # 双报到 ended; the service record and its hours stay for the branch's figures.
    assert set(ResidenceRegistration.objects.filter(member=member).values_list("status", flat=True)) == {"ended"}
    record = ServiceRecord.objects.get(member=member)
    assert (record.status, record.hours) == ("verified", Decimal("2.00"))
    request.refresh_from_db()
    assert (request.status, request.reason, request.decided_by) == ("approved", "", secretary_a)


def test_another_branchs_secretary_cannot_see_or_decide(client, li_ming, secretary_b):
    request = services.deletion_request_create(member=li_ming)
    client.force_login(secretary_b)
    assert client.get(f"/admin/members/deletionrequest/{request.pk}/change/").status_code == 404
    client.post("/admin/members/deletionrequest/", {"action": "approve_selected", "_selected_action": [request.pk]})
    request.refresh_from_db()
    assert request.status == "pending"
    assert Member.objects.get(pk=li_ming.pk).name == "李明"


def test_a_refusal_says_why_and_leaves_the_member_as_they_were(li_ming, secretary_a):
    request = services.deletion_request_create(member=li_ming)
    with pytest.raises(ValidationError):
        services.deletion_request_reject(request=request, actor=secretary_a, note=" ")
    services.deletion_request_reject(request=request, actor=secretary_a, note="服务记录争议处理中")
    request.refresh_from_db()
    assert (request.status, request.decision_note) == ("rejected", "服务记录争议处理中")
    assert request.decided_at is not None
    with pytest.raises(ValidationError, match="已经审批过了"):
        services.deletion_request_approve(request=request, actor=secretary_a)
    assert Member.objects.get(pk=li_ming.pk).name == "李明"
    # A new request may follow a refusal.
    assert services.deletion_request_create(member=li_ming).status == "pending"


def test_the_database_holds_one_pending_request_per_member(li_ming):
    from django.db import IntegrityError, transaction

    DeletionRequest.objects.create(member=li_ming)
    with pytest.raises(IntegrityError), transaction.atomic():
        DeletionRequest.objects.create(member=li_ming)
    with pytest.raises(IntegrityError), transaction.atomic():
        DeletionRequest.objects.create(member=li_ming, status="approved")  # decided without a time
    assert DeletionRequest.objects.filter(decided_at__lte=timezone.now() + timedelta(days=1)).count() == 0


@pytest.mark.parametrize("url", ["/me/profile/", "/me/residence/", "/wishes/new/", "/accounts/login/"])
def test_every_form_that_collects_data_links_the_privacy_notice(client, li_ming, url):
    if url.startswith("/me/"):
        sign_in(client, li_ming)
    page = client.get(url).content.decode()
    assert '<a class="link-secondary" id="footer-privacy" href="/privacy/">隐私说明</a>' in page


def test_refusing_in_the_admin_asks_for_the_reason_first(client, li_ming, secretary_a):
    request = services.deletion_request_create(member=li_ming)
    client.force_login(secretary_a)
    url = "/admin/members/deletionrequest/"
    asked = client.post(url, {"action": "reject_selected", "_selected_action": [request.pk]})
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()
    request.refresh_from_db()
    assert request.status == "pending"
    selected = {"action": "reject_selected", "_selected_action": [request.pk], "apply": "1"}
    assert client.post(url, {**selected, "reason": ""}).status_code == 200  # the page again: a reason is required
    done = client.post(
        url,
        {"action": "reject_selected", "_selected_action": [request.pk], "apply": "1", "reason": "记录争议处理中"},
        follow=True,
    )
    assert "已驳回 1 份申请" in done.content.decode()
    request.refresh_from_db()
    assert (request.status, request.decision_note) == ("rejected", "记录争议处理中")

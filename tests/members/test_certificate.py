"""志愿服务记录证明: a valid PDF whose text (Chinese included) can be read back, with what 条例 §19 asks for."""

import re
from datetime import datetime, timedelta
from decimal import Decimal
from io import BytesIO
from urllib.parse import unquote

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from members import services
from members.certificate import certificate_for, format_hours
from members.models import Organization
from tests.members.factories import ServiceRecordFactory

pytestmark = pytest.mark.django_db

OWN = reverse("members:me_certificate")


def _record(member, verifier, *, day, hours, content, place="东风村活动中心"):
    start = datetime(2025, 1, 1, 9, tzinfo=timezone.get_current_timezone()) + timedelta(days=day)
    record = ServiceRecordFactory(
        member=member, start=start, end=start + timedelta(hours=4), hours=Decimal(hours), content=content, place=place
    )
    if verifier is not None:
        record = services.service_record_verify(record=record, verifier=verifier)
    return record


@pytest.fixture
def history(member_a, secretary_a, org_tree):
    """Two verified services (5.5 h), one pending and one void: only the verified ones are certified."""
    branch = Organization.objects.get(pk=org_tree.branch_a.pk)
    services.organization_update(
        organization=branch,
        actor=None,
        name=branch.name,
        type=branch.type,
        secretary=branch.secretary,
        contact_name="张干事",
        contact_phone="0571-88886666",
    )
    _record(member_a, secretary_a, day=3, hours="2.00", content="为空巢老人打扫卫生")
    _record(member_a, secretary_a, day=40, hours="3.50", content="社区义诊志愿服务", place="东风村卫生室")
    _record(member_a, None, day=50, hours="1.00", content="尚未确认的服务")
    void = _record(member_a, secretary_a, day=60, hours="2.00", content="录错的服务")
    services.service_record_void(record=void, actor=secretary_a, reason="重复")
    return member_a


def _pdf_text(response) -> str:
    """The text of every page, with the line breaks of wrapped paragraphs and table cells removed."""
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    reader = PdfReader(BytesIO(response.content))
    return "".join(page.extract_text() for page in reader.pages).replace("\n", "")


def test_member_downloads_their_certificate(history, client):
    client.force_login(history.user)

    response = client.get(OWN)

    assert response.status_code == 200
    text = _pdf_text(response)
    for expected in (
        "志愿服务记录证明",
        "李明",
        history.volunteer_number,
        "共 2 次，累计服务时长 5.5 小时",
        "为空巢老人打扫卫生",
        "社区义诊志愿服务",
        "东风村卫生室",
        "2025-01-04",
        "出具组织：东一支部",
        "负责人：王书记",
        "经办人：东一支部 王书记",  # their own copy: issued by their organization, not by themselves
        "0571-88886666",
        "（盖章）",
        "不收取任何费用",
    ):
        assert expected in text, expected
    assert "尚未确认的服务" not in text
    assert "录错的服务" not in text
    assert "经办人：李明" not in text
    assert re.search(rf"ZYFW-\d{{4}}-{history.volunteer_number}-[0-9A-F]{{8}}", text)


def test_own_copy_of_a_branch_without_secretary_names_the_branch_as_handler(member_a, client):
    client.force_login(member_a.user)  # branch A has no secretary here (no secretary_a persona)
    text = _pdf_text(client.get(OWN))
    assert "经办人：东一支部" in text and "经办人：李明" not in text


def test_download_is_an_attachment_with_ascii_and_utf8_names(history, client):
    client.force_login(history.user)

    disposition = client.get(OWN)["Content-Disposition"]

    assert disposition.startswith("attachment; ")
    assert f'filename="service-certificate-{history.volunteer_number}.pdf"' in disposition
    utf8 = re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1)
    assert utf8.isascii()
    assert unquote(utf8) == f"志愿服务记录证明-李明-{history.volunteer_number}.pdf"


def test_certificate_is_not_cached(history, client):
    client.force_login(history.user)
    assert "no-store" in client.get(OWN)["Cache-Control"]


def test_secretary_issues_one_for_a_member_in_scope(history, east_secretary, client):
    client.force_login(east_secretary)

    response = client.get(reverse("members:member_certificate", args=[history.volunteer_number]))

    assert response.status_code == 200
    text = _pdf_text(response)
    assert "李明" in text and "经办人：钱书记" in text and "累计服务时长 5.5 小时" in text


def test_platform_admin_without_a_member_record_is_named_by_account(history, platform_admin, client):
    platform_admin.first_name = "管理员"
    platform_admin.save()
    client.force_login(platform_admin)
    text = _pdf_text(client.get(reverse("members:member_certificate", args=[history.volunteer_number])))
    assert "经办人：管理员" in text


def test_unknown_volunteer_number_is_404(secretary_a, client):
    client.force_login(secretary_a)
    assert client.get(reverse("members:member_certificate", args=["V0000000000"])).status_code == 404


def test_a_member_without_verified_service_gets_a_truthful_certificate(member_a, client):
    client.force_login(member_a.user)
    text = _pdf_text(client.get(OWN))
    assert "尚无经记录组织确认的志愿服务记录" in text
    assert "累计服务时长 0 小时" in text


def test_number_changes_with_the_content_and_not_otherwise(history, secretary_a):
    first = certificate_for(history, handler=secretary_a)
    assert certificate_for(history, handler=secretary_a).number == first.number
    _record(history, secretary_a, day=70, hours="1.00", content="新的服务")
    assert certificate_for(history, handler=secretary_a).number != first.number
    assert certificate_for(history, handler=history.user).number != first.number


def test_many_services_flow_over_pages(member_a, secretary_a, client):
    for day in range(60):
        _record(member_a, secretary_a, day=day, hours="1.25", content=f"第{day + 1}次入户走访，陪伴老人聊天")
    client.force_login(member_a.user)

    response = client.get(OWN)

    assert len(PdfReader(BytesIO(response.content)).pages) > 1
    text = _pdf_text(response)
    assert "第60次入户走访" in text and "共 60 次，累计服务时长 75 小时" in text


@pytest.mark.parametrize(("hours", "shown"), [("12.50", "12.5"), ("3.00", "3"), ("0.25", "0.25"), ("10.00", "10")])
def test_hours_are_written_as_people_write_them(hours, shown):
    assert format_hours(Decimal(hours)) == shown

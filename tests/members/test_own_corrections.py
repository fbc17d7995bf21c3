"""A member asks for a correction of their own record on /me/records/ (《志愿服务记录与证明出具办法》
gives them that right); the recording organization answers in the existing queue; the member is told the outcome,
and the corrected hours carry through to points and stars."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from incentives.models import LedgerEntry, PointsBalance
from members import services
from members.models import ServiceRecordCorrection
from notifications.models import Notification
from tests.incentives.conftest import add_hours
from tests.queries import assert_constant_queries

pytestmark = pytest.mark.django_db


def ten_days_ago():
    return timezone.localdate() - timedelta(days=10)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def record(member_a, secretary_a):
    return add_hours(member_a, 2, day=ten_days_ago(), verifier=secretary_a)


def test_the_member_asks_the_secretary_approves_and_everything_follows(client, record, member_a, secretary_a):
    client.force_login(member_a.user)
    records = text(client.get(reverse("members:me_records")))
    form_url = reverse("members:me_record_correction", args=[record.pk])
    assert f'href="{form_url}"' in records

    response = client.post(
        form_url, {"new_hours": "3", "reason": "实际服务了三个小时", "new_started_at": "", "new_ended_at": ""}
    )
    assert response.status_code == 200 and "不能超过开始到结束的时间" in text(response)  # 2 h from 08:00 to 10:00
    assert not ServiceRecordCorrection.objects.exists()

    start = timezone.localtime(record.started_at)
    response = client.post(
        form_url,
        {
            "new_hours": "3",
            "new_started_at": start.strftime("%Y-%m-%dT%H:%M"),
            "new_ended_at": (start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
            "reason": "实际服务到 11:00，共 3 小时",
        },
    )
    assert response.status_code == 302
    correction = ServiceRecordCorrection.objects.get()
    assert (correction.requested_by, correction.new_hours, correction.status) == (
        member_a.user,
        Decimal("3.00"),
        "pending",
    )
    assert "更正申请审核中" in text(client.get(reverse("members:me_records")))
    assert "正在审核" in text(client.get(form_url))  # no second request while one waits

    services.service_record_correction_review(correction=correction, reviewer=secretary_a, approve=True)

    record.refresh_from_db()
    assert (record.hours, record.status) == (Decimal("3.00"), "corrected")
    assert PointsBalance.objects.get(member=member_a).balance == 30  # 20 + the correction's 10
    assert LedgerEntry.objects.filter(member=member_a, kind="correction").get().points == 10
    message = Notification.objects.get(template="members_correction_reviewed", recipient_user=member_a.user)
    assert message.context["approved"] and message.context["hours"] == "3.00"
    page = text(client.get(reverse("members:me_records")))
    assert re.search(r'id="total-hours">3(\.00)?<', page) and "上次更正申请：已批准" in page


def test_a_refusal_is_told_with_its_reason_and_changes_nothing(client, record, member_a, secretary_a):
    correction = services.service_record_correction_request(
        record=record, requested_by=member_a.user, reason="地点写错了", place="东风村文化站"
    )
    services.service_record_correction_review(
        correction=correction, reviewer=secretary_a, approve=False, note="当天确在村委会"
    )
    message = Notification.objects.get(template="members_correction_reviewed", recipient_user=member_a.user)
    assert not message.context["approved"] and message.context["note"] == "当天确在村委会"
    assert LedgerEntry.objects.filter(member=member_a).count() == 1
    client.force_login(member_a.user)
    assert "上次更正申请：已拒绝（当天确在村委会）" in text(client.get(reverse("members:me_records")))


def test_only_ones_own_confirmed_records_can_be_corrected(client, record, member_a, member_b, secretary_a):
    pending = add_hours(member_a, 1, day=ten_days_ago())
    client.force_login(member_b.user)
    assert client.get(reverse("members:me_record_correction", args=[record.pk])).status_code == 404
    client.force_login(member_a.user)
    assert "只有已确认的记录可以申请更正" in text(
        client.get(reverse("members:me_record_correction", args=[pending.pk]))
    )
    response = client.post(
        reverse("members:me_record_correction", args=[pending.pk]), {"reason": "x", "new_place": "y"}
    )
    assert response.status_code == 200 and not ServiceRecordCorrection.objects.exists()


def test_hostile_input_is_answered_on_the_form(client, record, member_a):
    client.force_login(member_a.user)
    url = reverse("members:me_record_correction", args=[record.pk])
    for data in (
        {"reason": "\x00", "new_place": "a"},
        {"reason": "理由", "new_place": "\x00"},
        {"reason": "理由", "new_hours": "1e400"},
        {"reason": "理由", "new_started_at": "2026-02-30T10:00", "new_ended_at": "x"},
        {"reason": "理由" * 1000, "new_place": "b"},
        {"reason": "理由"},  # changes nothing
    ):
        response = client.post(url, data)
        assert response.status_code == 200, data
    assert not ServiceRecordCorrection.objects.exists()


def test_the_records_page_costs_the_same_with_corrections(client, member_a, secretary_a):
    client.force_login(member_a.user)
    days = iter(range(1, 400))

    def add_rows(n):
        for _ in range(n):
            r = add_hours(member_a, 1, day=ten_days_ago() - timedelta(days=next(days)), verifier=secretary_a)
            services.service_record_correction_request(record=r, requested_by=member_a.user, reason="r", place="新地点")

    assert_constant_queries(client, reverse("members:me_records"), add_rows)

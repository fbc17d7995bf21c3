"""Disagreements between the figures that people met, each held by a test as it was met:

- a self-reported record or a 结对帮扶 visit record, once verified, awards its points;
- a voided record takes its points back (a correction's difference: tests/members/test_own_corrections.py; the
  leader multiplier: tests/projects/test_services.py);
- a finished rating's hours are the hours /me/records/ lists in its period.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from demands import services as demand_services
from incentives.models import LedgerEntry, PointsBalance
from members import services as member_services
from members.models import ServiceRecord
from projects import services as project_services

pytestmark = pytest.mark.django_db


def points_of(record: ServiceRecord) -> int:
    return sum(LedgerEntry.objects.filter(source_ref=f"record:{record.pk}").values_list("earned_points", flat=True))


def test_a_verified_self_report_earns_its_hours(member_a, secretary_a):
    start = timezone.now() - timedelta(days=2)
    report = project_services.self_report_submit(
        member=member_a,
        started_at=start,
        ended_at=start + timedelta(hours=3),
        hours="2.5",
        place="社区",
        content="清扫",
    )
    report = project_services.self_report_approve(report=report, actor=secretary_a)
    assert points_of(report.record) == 25


def test_a_verified_pairing_visit_earns_its_hours(org_tree, member_a, secretary_a):
    household = demand_services.household_save(
        actor=secretary_a,
        community=org_tree.community_a,
        contact_name="陈大爷",
        address="东风村3组12号",
        consent_processing=True,
    )
    pairing = demand_services.pairing_create(member=member_a, household=household, actor=secretary_a)
    start = timezone.now() - timedelta(hours=3)
    visit = demand_services.pairing_visit_log(
        pairing=pairing, member=member_a, start=start, end=start + timedelta(hours=2), hours="1.5", summary="陪同聊天"
    )
    assert points_of(visit.service_record) == 0  # pending: nothing yet
    member_services.service_record_verify(record=visit.service_record, verifier=secretary_a)
    assert points_of(visit.service_record) == 15


def test_a_voided_record_gives_its_points_back(member_a, secretary_a):
    from tests.incentives.conftest import add_hours

    record = add_hours(member_a, 2, day=timezone.localdate() - timedelta(days=3), verifier=secretary_a)
    assert points_of(record) == 20
    member_services.service_record_void(record=record, actor=secretary_a, reason="录入错误")
    assert points_of(record) == 0
    assert PointsBalance.objects.get(member=member_a).balance == 0
    assert LedgerEntry.objects.filter(source_ref=f"record:{record.pk}").latest("pk").kind == "reversal"

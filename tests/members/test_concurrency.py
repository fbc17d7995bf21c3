"""Races with real threads on PostgreSQL: each thread has its own connection and transaction."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from members import services
from members.models import Member, ServiceRecord, VolunteerNumberCounter

pytestmark = [pytest.mark.postgres]

THREADS = 12


def _race(target, n: int = THREADS):
    """Run `target(i)` in n threads released together; return (results, errors)."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def run(i):
        try:
            barrier.wait(timeout=10)
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001 — collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def test_volunteer_numbers_are_unique_when_members_are_registered_at_once(transactional_db, org_tree):
    def register(i):
        return services.member_create(
            name=f"并发{i}", phone=f"1390000{i:04d}", organization=org_tree.branch_a, actor=None
        ).volunteer_number

    numbers, errors = _race(register)
    assert not errors, errors
    assert len(set(numbers)) == THREADS
    sequence = sorted(int(n[-6:]) for n in numbers)
    assert sequence == list(range(sequence[0], sequence[0] + THREADS))  # no gaps, no duplicates
    assert Member.objects.filter(name__startswith="并发").count() == THREADS


def test_a_new_years_counter_is_created_once(transactional_db):
    numbers, errors = _race(lambda i: services.volunteer_numbers_allocate(year=2031, count=2))
    assert not errors, errors
    flat = [n for pair in numbers for n in pair]
    assert len(set(flat)) == 2 * THREADS
    assert VolunteerNumberCounter.objects.get(year=2031).last_value == 2 * THREADS


def test_recording_the_same_source_twice_at_once_gives_one_record(transactional_db, org_tree, member_a):
    start = timezone.now().replace(microsecond=0) - timedelta(days=1)

    def record(i):
        return services.service_record_create(
            member=member_a,
            start=start,
            end=start + timedelta(hours=2),
            place="东风村",
            content="巡逻",
            hours=Decimal("2"),
            source=ServiceRecord.Source.ACTIVITY,
            source_ref="activity:99",
            recording_organization=org_tree.branch_a,
            organizer="王书记",
            recorder=None,
        ).pk

    pks, errors = _race(record)
    assert not errors, errors
    assert len(set(pks)) == 1
    assert ServiceRecord.objects.filter(source_ref="activity:99").count() == 1


def test_a_record_is_verified_once(transactional_db, org_tree, member_a, secretary_a, east_secretary):
    start = timezone.now().replace(microsecond=0) - timedelta(days=1)
    record = services.service_record_create(
        member=member_a,
        start=start,
        end=start + timedelta(hours=1),
        place="东风村",
        content="巡逻",
        hours=1,
        source=ServiceRecord.Source.MANUAL,
        recording_organization=org_tree.branch_a,
        organizer="王书记",
        recorder=None,
    )
    verifiers = [secretary_a, east_secretary] * (THREADS // 2)
    results, errors = _race(lambda i: services.service_record_verify(record=record, verifier=verifiers[i]))
    assert len(errors) == THREADS - 1
    assert all("只有待确认的记录可以确认" in " ".join(e.messages) for e in errors)
    assert record.history.filter(status="verified").count() == 1


def test_two_exports_at_once_never_send_a_record_twice(transactional_db, org_tree):
    """Secretaries of the street and of its branch export at the same moment (nested subtrees): the tree's lock
    makes one wait for the other, so each record and volunteer is in exactly one batch."""
    from datetime import date

    from members.models import NationalExportItem
    from members.services import national as exchange

    verifier = services.member_create(name="核验人", phone="13900009999", organization=org_tree.branch_b, actor=None)
    member = services.member_create(name="导出人", phone="13900009998", organization=org_tree.branch_a, actor=None)
    start = timezone.now() - timedelta(days=1)
    for i in range(20):
        record = services.service_record_create(
            member=member,
            start=start - timedelta(days=i),
            end=start - timedelta(days=i) + timedelta(hours=1),
            hours=Decimal("1"),
            place="社区",
            content="服务",
            source=ServiceRecord.Source.MANUAL,
            recording_organization=org_tree.branch_a,
            organizer="书记",
            recorder=None,
        )
        services.service_record_verify(record=record, verifier=verifier.user)
    organizations = [
        org_tree.street,
        org_tree.branch_a,
        org_tree.east,
        org_tree.street,
        org_tree.branch_a,
        org_tree.east,
    ]

    def export(i):
        return exchange.national_export_create(
            organization=organizations[i],
            period_start=date(2000, 1, 1),
            period_end=date(2100, 1, 1),
            actor=None,
        ).records

    counts, errors = _race(export, n=len(organizations))
    assert not errors, errors
    assert sum(counts) == 20 and sorted(counts)[-1] == 20  # all in one batch, the others found nothing left
    records = NationalExportItem.objects.filter(kind=NationalExportItem.Kind.RECORD)
    assert records.count() == records.values("record").distinct().count() == 20
    assert NationalExportItem.objects.filter(kind=NationalExportItem.Kind.VOLUNTEER, member=member).count() == 1


def test_two_imports_of_the_same_file_at_once_save_it_once(transactional_db, org_tree):
    """The members' row locks, then the duplicate check again: the second import finds the first's records."""
    from members.services import national as exchange
    from tests.members.test_national import records_file, row_of

    member = services.member_create(name="导入人", phone="13900009997", organization=org_tree.branch_a, actor=None)
    rows = records_file([row_of(member), row_of(member, 服务日期="2026-11-03", 开始时间="", 结束时间="")])

    def run(i):
        return exchange.external_records_import(
            rows=rows, organization=org_tree.branch_a, origin="全国志愿服务信息系统", actor=None
        ).saved

    saved, errors = _race(run, n=6)
    assert not errors, errors
    assert sorted(saved) == [0, 0, 0, 0, 0, 2]
    assert ServiceRecord.objects.filter(member=member, source=ServiceRecord.Source.EXTERNAL).count() == 2

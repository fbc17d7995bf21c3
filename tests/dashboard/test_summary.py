"""The yearly service summary (members.ServiceYear) gives exactly the live computation's figures, after every kind
of write a record or a member goes through, and its rebuild is idempotent (volunteer_platform/selectors.py,
"Speed")."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from members import services as members_services
from members.models import ServiceRecord, ServiceYear, ServiceYearBuilt
from tests.dashboard.conftest import TZ, record
from tests.members.factories import MemberFactory
from tests.queries import assert_constant_queries
from volunteer_platform import selectors

pytestmark = pytest.mark.django_db


@pytest.fixture
def street(shared_street):  # made once for the module (tests/dashboard/conftest.py)
    return shared_street


Period = selectors.Period
PERIODS = [
    Period.year(2025),
    Period.year(2024),
    Period.month(2025, 6),
    Period(date(2025, 3, 5), date(2025, 11, 20)),  # partial months at both ends, records outside them
    Period(date(2025, 1, 1), date(2025, 6, 1)),  # ends on a day with a record
    Period(date(2024, 12, 1), date(2025, 2, 10)),  # two years: DISTINCT, window across New Year
    Period(date(2025, 6, 2), date(2025, 6, 2)),
    Period(date(2023, 1, 1), date(2026, 12, 31)),
]


def _figures(street, summary: bool):
    out = []
    for organization in (street.street, street.branch_a, street.branch_b):
        for period in PERIODS:
            out.append(selectors._figures_by_child(organization, period, summary))
            out.append(selectors.monthly_trend(organization, period.end, summary=summary))
            for year in {period.start.year, period.end.year}:
                out.append([m.pk for m in selectors.members_without_service(organization, year, summary)])
    return out


def assert_summary_equals_live(street):
    assert _figures(street, summary=True) == _figures(street, summary=False)


def _rebuild():
    for year in (2023, 2024, 2025, 2026):
        members_services.service_year_rebuild(year=year)


def _record(member, day, hours, actor):
    start = datetime.combine(day, datetime.min.time(), tzinfo=TZ).replace(hour=9)
    return members_services.service_record_create(
        member=member,
        start=start,
        end=start + timedelta(hours=4),
        place="社区活动中心",
        content="入户走访",
        hours=Decimal(hours),
        source=ServiceRecord.Source.MANUAL,
        recording_organization=member.organization,
        organizer="王书记",
        recorder=actor,
    )


def test_the_summary_equals_the_live_figures_after_a_mix_of_writes(street):
    admin = street.admin
    _rebuild()
    assert_summary_equals_live(street)
    assert selectors.dashboard(street.street, Period.year(2025)).summary

    # Create and verify (a new member, a second record on a day already served, one on the last day of a month).
    newcomer = MemberFactory(name="新人", organization=street.branch_b)
    for member, day, hours in (
        (newcomer, date(2025, 6, 1), "2"),
        (street.a1, date(2025, 3, 10), "1"),
        (street.a2, date(2025, 4, 30), "1.25"),
        (street.b1, date(2024, 12, 31), "3"),
    ):
        members_services.service_record_verify(record=_record(member, day, hours, admin), verifier=admin)
        assert_summary_equals_live(street)
    pending = _record(street.a2, date(2025, 7, 7), "2", admin)  # pending: counts nowhere
    assert_summary_equals_live(street)

    # Correct: new hours and a start in another month, then in another year.
    counted = ServiceRecord.objects.filter(member=street.a1, date=date(2025, 11, 20)).get()
    for new_start in (datetime(2025, 8, 31, 9, tzinfo=TZ), datetime(2026, 1, 2, 9, tzinfo=TZ)):
        correction = members_services.service_record_correction_request(
            record=counted, requested_by=admin, reason="日期记错", start=new_start, end=new_start + timedelta(hours=4)
        )
        members_services.service_record_correction_review(correction=correction, reviewer=admin, approve=True)
        assert_summary_equals_live(street)
    correction = members_services.service_record_correction_request(
        record=counted, requested_by=admin, reason="时长记错", hours=Decimal("0.5")
    )
    members_services.service_record_correction_review(correction=correction, reviewer=admin, approve=True)
    assert_summary_equals_live(street)

    # Void a record (the only one of its day for a1, one of two on 03-10).
    members_services.service_record_void(
        record=ServiceRecord.objects.filter(member=street.a1, date=date(2025, 3, 10)).first(),
        actor=admin,
        reason="重复",
    )
    members_services.service_record_void(record=pending, actor=admin, reason="未参加")
    assert_summary_equals_live(street)

    # Transfer a member and change a member's status: the summary, keyed by member, needs no change.
    members_services.member_transfer(member=street.a1, to_organization=street.branch_b, actor=admin)
    assert_summary_equals_live(street)
    members_services.member_deactivate(member=street.b1, actor=admin, reason="外出务工")
    assert_summary_equals_live(street)
    assert selectors.dashboard(street.street, Period.year(2025)).summary


def test_the_rebuild_is_idempotent_and_repairs_writes_made_around_the_services(street):
    def rows():
        return sorted(ServiceYear.objects.values_list())

    _rebuild()
    first = rows()
    assert first and ServiceYearBuilt.objects.filter(year__in=[2023, 2024, 2025, 2026]).count() == 4
    _rebuild()
    assert [row[1:] for row in rows()] == [row[1:] for row in first]  # same rows (new ids)
    assert_summary_equals_live(street)

    record(street.a2, date(2025, 2, 14), "3")  # written directly, as a shell or a data migration might
    assert _figures(street, summary=True) != _figures(street, summary=False)
    assert members_services.service_years_rebuild_due(today=date(2025, 12, 31)) == [2024, 2025]
    assert_summary_equals_live(street)


def test_the_dashboard_reads_the_summary_only_for_built_years(street):
    members_services.service_year_rebuild(year=2025)
    assert selectors.dashboard(street.street, Period.year(2025)).summary
    # January's 90-day window and its 12-month trend reach into 2024, which is not built: live.
    assert not selectors.dashboard(street.street, Period.month(2025, 1)).summary
    built = selectors.dashboard(street.street, Period.year(2025))
    ServiceYearBuilt.objects.all().delete()
    live = selectors.dashboard(street.street, Period.year(2025))
    assert not live.summary
    assert (built.members, built.trend, built.league) == (live.members, live.trend, live.league)


def test_dashboard_queries_are_constant_with_the_summary(client, street):
    _rebuild()

    def add_rows(n):
        for i in range(n):
            member = MemberFactory(organization=street.branch_a if i % 2 else street.branch_b)
            members_services.service_record_verify(
                record=_record(member, date(2025, 1 + i % 12, 1 + i % 28), "1.5", street.admin), verifier=street.admin
            )

    client.force_login(street.admin)
    assert_constant_queries(client, "/dashboard/?year=2025", add_rows, small=3, large=30)

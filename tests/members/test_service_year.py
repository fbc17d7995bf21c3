"""A member's ServiceYear row: the figures kept on every verification (`service_year_figures`, grouped by month)
equal the figures the nightly rebuild and reconcile compute in one statement (`service_year_aggregates`)."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from members import selectors
from members.models import ServiceRecord, ServiceYear
from tests.incentives.conftest import add_hours

pytestmark = pytest.mark.django_db


def test_the_row_kept_by_the_services_equals_the_aggregates_and_the_records(member_a, member_b, secretary_a):
    year = timezone.localdate().year - 1
    days = [date(year, 1, 5), date(year, 1, 5), date(year, 1, 31), date(year, 3, 1), date(year, 12, 31)]
    for day, hours in zip(days, ("1.5", "2", "0.5", "3", "1"), strict=True):
        add_hours(member_a, Decimal(hours), day=day, verifier=secretary_a)
    add_hours(member_a, 4, day=date(year - 1, 12, 31), verifier=secretary_a)  # another year
    add_hours(member_a, 5, day=date(year, 2, 2))  # not verified: not counted
    add_hours(member_b, 6, day=date(year, 1, 5), verifier=secretary_a)  # another member

    kept = ServiceYear.objects.get(member=member_a, year=year)
    figures = selectors.service_year_figures(member_id=member_a.pk, year=year)
    aggregated = ServiceRecord.objects.filter(
        member=member_a, status__in=ServiceRecord.COUNTED_STATUSES, date__year=year
    ).aggregate(**selectors.service_year_aggregates())
    assert figures == aggregated
    assert {name: getattr(kept, name) for name in figures} == figures
    assert (figures["services"], figures["services_01"], figures["hours_01"]) == (5, 3, Decimal("4.00"))
    assert figures["days_01"] == (1 << 4) | (1 << 30)  # the 5th (twice) and the 31st
    assert (figures["hours_02"], figures["days_02"], figures["hours_12"], figures["days_12"]) == (0, 0, 1, 1 << 30)

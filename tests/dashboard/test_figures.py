"""Every dashboard figure against the hand-computed street of conftest.py (year 2025), an empty period, and the
member transferred mid-year."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from volunteer_platform import selectors
from volunteer_platform.exports import hours_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def street(shared_street):  # made once for the module (tests/dashboard/conftest.py)
    return shared_street


Y2025 = selectors.Period.year(2025)
EMPTY = selectors.Period.year(2023)


def test_member_figures_of_the_street_and_of_each_branch(street):
    top = selectors.member_figures(street.street, Y2025)
    assert (top.members, top.participants, top.active, top.hours, top.services) == (7, 3, 1, Decimal("13.50"), 6)
    assert top.participation_rate == Decimal("42.9")
    assert top.hours_per_member == Decimal("1.93")
    assert top.active_rate == Decimal("14.3")

    a = selectors.member_figures(street.branch_a, Y2025)
    assert (a.members, a.participants, a.active, a.hours, a.services) == (4, 1, 1, Decimal("6.00"), 3)
    assert (a.participation_rate, a.hours_per_member) == (Decimal("25.0"), Decimal("1.50"))

    b = selectors.member_figures(street.branch_b, Y2025)
    assert (b.members, b.participants, b.active, b.hours, b.services) == (3, 2, 0, Decimal("7.50"), 3)
    assert (b.participation_rate, b.hours_per_member) == (Decimal("66.7"), Decimal("2.50"))


def test_a_member_transferred_mid_year_brings_all_their_hours_to_the_new_branch(street):
    # 郑转 served 2 h in April while in branch A and 1.5 h in September in B: both count for B (the record travels
    # with the member, as on the certificate); A keeps only its own members' hours.
    spring = selectors.Period(date(2025, 1, 1), date(2025, 6, 30))
    assert selectors.member_figures(street.branch_b, spring).hours == Decimal("6.00")  # b1 4 h + 郑转 2 h
    assert selectors.member_figures(street.branch_a, spring).hours == Decimal("3.00")  # a1 2 h + a3 1 h
    assert selectors.member_figures(street.branch_a, spring).members == 4  # 郑转 is no longer on A's roster


def test_active_means_a_counted_service_in_the_90_days_up_to_the_period_end(street):
    # a1's 11-20 service; at the end of September the window (07-03 – 09-30) holds only 郑转's 09-01 service.
    assert selectors.member_figures(street.street, Y2025).active == 1
    autumn = selectors.Period(date(2025, 9, 1), date(2025, 9, 30))
    figures = selectors.member_figures(street.street, autumn)
    assert (figures.active, figures.participants, figures.hours) == (1, 1, Decimal("1.50"))


def test_wish_figures_with_medians(street):
    top = selectors.wish_figures(street.street, Y2025)
    assert (top.received, top.verified, top.fulfilled, top.confirmed) == (5, 4, 3, 2)
    assert (top.rating_mean, top.rating_count) == (Decimal("4.00"), 2)
    assert top.median_to_claim == timedelta(hours=9)  # 24, 6, 12, 2
    assert top.median_to_fulfil == timedelta(hours=24)  # 48, 24, 10

    a = selectors.wish_figures(street.branch_a, Y2025)
    assert (a.received, a.verified, a.fulfilled, a.confirmed, a.rating_count) == (4, 3, 2, 2, 2)
    assert (a.median_to_claim, a.median_to_fulfil) == (timedelta(hours=12), timedelta(hours=36))

    b = selectors.wish_figures(street.branch_b, Y2025)
    assert (b.received, b.verified, b.fulfilled, b.confirmed) == (1, 1, 1, 0)
    assert (b.rating_mean, b.rating_count) == (None, 0)
    assert (hours_of(b.median_to_claim), hours_of(b.median_to_fulfil)) == (Decimal("2.0"), Decimal("10.0"))


def test_redemptions_stars_and_training(street):
    r = selectors.redemption_figures(street.street, Y2025)
    assert (r.requested, r.fulfilled, r.points) == (2, 1, 30)
    assert selectors.redemption_figures(street.branch_b, Y2025).requested == 0

    assert selectors.star_distribution(street.street) == [(0, 5), (1, 1), (2, 0), (3, 1), (4, 0), (5, 0)]
    assert selectors.star_distribution(street.branch_a) == [(0, 3), (1, 0), (2, 0), (3, 1), (4, 0), (5, 0)]

    d = selectors.dashboard(street.street, Y2025)
    assert (d.training.completed, d.training.measured, d.training.rate) == (1, 7, Decimal("14.3"))


def test_monthly_trend_of_the_last_twelve_months(street):
    trend = selectors.monthly_trend(street.street, date(2025, 12, 31))
    assert [m.label for m in trend][:2] == ["2025-01", "2025-02"] and len(trend) == 12
    hours = {m.month: m.hours for m in trend if m.hours}
    assert hours == {3: 2, 4: 2, 5: 1, 6: 4, 9: Decimal("1.5"), 11: 3}
    assert {m.month: m.wishes_received for m in trend if m.wishes_received} == {2: 1, 3: 1, 4: 1, 5: 1, 6: 1}
    assert {m.month: m.wishes_fulfilled for m in trend if m.wishes_fulfilled} == {2: 1, 3: 1, 6: 1}
    # A trend ending in March 2026 starts in April 2025.
    assert selectors.monthly_trend(street.street, date(2026, 3, 5))[0].label == "2025-04"


def test_league_table_lists_the_children_best_hours_per_member_first(street):
    league = selectors.league_table(street.street, Y2025)
    assert [(r.organization.name, r.members, r.participants, r.hours, r.wishes_fulfilled) for r in league] == [
        ("西社区党委", 3, 2, Decimal("7.50"), 1),
        ("东社区党委", 4, 1, Decimal("6.00"), 2),
    ]
    assert [r.organization.name for r in selectors.league_table(street.east, Y2025)] == ["东一支部"]
    assert selectors.league_table(street.branch_a, Y2025) == []


def test_members_without_service_this_year(street):
    assert [m.name for m in selectors.members_without_service(street.branch_a, 2025)] == ["周强", "王书记", "钱书记"]
    assert selectors.members_without_service(street.street, 2025).count() == 4


def test_an_empty_period_has_zeros_and_no_rates(street):
    m = selectors.member_figures(street.street, EMPTY)
    assert (m.members, m.participants, m.active, m.hours, m.services) == (7, 0, 0, Decimal("0"), 0)
    assert (m.participation_rate, m.hours_per_member) == (Decimal("0.0"), Decimal("0.00"))
    w = selectors.wish_figures(street.street, EMPTY)
    assert (w.received, w.fulfilled, w.rating_mean, w.median_to_claim, w.median_to_fulfil) == (0, 0, None, None, None)
    assert selectors.redemption_figures(street.street, EMPTY).requested == 0
    assert all(m.hours == 0 and m.wishes_received == 0 for m in selectors.monthly_trend(street.street, EMPTY.end))
    assert [r.hours for r in selectors.league_table(street.street, EMPTY)] == [0, 0]


def test_an_organization_without_members_has_no_rates(street):
    from tests.members.factories import OrganizationFactory

    empty = OrganizationFactory(name="新支部", parent=street.west)
    m = selectors.member_figures(empty, Y2025)
    assert (m.members, m.participation_rate, m.hours_per_member, m.active_rate) == (0, None, Decimal("0"), None)


def test_plan_progress_is_computed_from_the_records(street):
    progress = selectors.plan_progress(street.plan, today=date(2026, 1, 15))
    got = {p.target.metric: (p.actual, p.percent, p.reached) for p in progress.targets}
    assert got == {
        "hours_per_member": (Decimal("1.93"), 96, False),
        "wishes_fulfilled": (Decimal("3"), 50, False),
        "participation_rate": (Decimal("42.9"), 85, False),
        "training_hours": (Decimal("1.71"), 85, False),
        "projects_run": (Decimal("0"), 0, False),
    }


def test_overdue_tasks_for_an_organization(street):
    today = date(2026, 1, 15)
    assert list(selectors.overdue_tasks_for(street.street, today)) == [street.overdue]
    assert list(selectors.overdue_tasks_for(street.branch_a, today)) == [street.overdue]  # assigned to A
    assert list(selectors.overdue_tasks_for(street.branch_b, today)) == []  # B's task is done
    assert list(selectors.overdue_tasks_for(street.street, date(2025, 6, 30))) == []  # due that day: not yet late


def test_public_figures_are_cached_for_five_minutes(street, django_assert_num_queries):
    today = date(2025, 12, 31)
    with django_assert_num_queries(2):
        figures = selectors.public_figures(today)
    assert (figures.members_serving, figures.hours, figures.wishes_fulfilled) == (4, Decimal("13.50"), 3)
    assert (figures.rating_mean, figures.rating_count) == (Decimal("4.0"), 2)
    with django_assert_num_queries(0):
        assert selectors.public_figures(today) == figures

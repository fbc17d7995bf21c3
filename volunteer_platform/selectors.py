"""Reads of the site layer: the secretaries' dashboard (督促检查), plan progress and the home page's public figures.

How figures are attributed (one rule, used by every figure, export and plan):
- The roster ("all members") is the members whose home branch (所在支部) is in the organization's subtree *now*
  and whose status is 在册 (active). Exempt, inactive and transferred-off members are not expected to serve.
- A service record travels with its member, as the certificate does: it counts for the member's current branch.
  A member transferred from branch A to branch B in July therefore brings their spring hours to B, and A's
  figures lose them; numerator and denominator of "hours per member" always describe the same people.
- Only counted records (verified or corrected) count; a record's `date` places it in a period
  (members.selectors.counted_records, the one definition).
- Points earned in a period (the ledger's `earned_points`, by the entry's time) count for the member's current
  branch too, like their hours.
- What members did for residents — 党员实现微心愿 — counts, like their hours, for whoever fulfilled the wish: the
  claimer's current branch, or, for a team's claim, the team's organization (`_wish_owner_path`).
- Residents' wishes as a demand — 辖区居民微心愿 received, verified, fulfilled, confirmed, rated — belong to the
  organization serving their community (communities are served by 社区党委, never by branches); each state counts
  in the period of its own timestamp. These are labelled apart and have no per-branch rows.
- Every figure with a per-branch row (members, participants, hours, wishes fulfilled by members, points) is
  computed once, grouped by the organization's child (`_figures_by_child`), and the headline is the sum of the
  groups: the rows of the league table add up to it (with a row for the organization itself when anything is
  homed there — a team of a 社区党委, members of a branch that has 党小组 below it).

Speed: every figure group is one aggregate query (SQL does the summing, nothing is fetched per member or per
record), so the dashboard costs the same number of queries whatever the size of the subtree. The figures over the
service records read a summary table, members.ServiceYear (one row per member and year), kept exact in the
transaction of every write by members.services and rebuilt nightly by Celery — why and how under "The yearly
summary" below. bench/dashboard.py measures the page at 100,000 members and 1,000,000 records.
"""

import calendar
import functools
import operator
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    Count,
    DecimalField,
    DurationField,
    Exists,
    F,
    Field,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, ExtractMonth, ExtractYear, Substr
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import public_cache
from core.text import plain_decimal
from core.times import local_iso as _iso
from core.types import User, Viewer
from demands import selectors as demand_selectors
from demands.models import MicroWish, Pairing, ServiceOffer
from demands.services import CLAIM_REMINDER_DAYS
from incentives.models import Commendation, LedgerEntry, Objection, PointsBalance, RatingRun, Redemption, StarRating
from incentives.selectors import balance_of, commendations_awarded, earned_by_path_prefix, visible_objections
from members.models import ALL_DAYS, Member, Organization, ServiceRecord, ServiceYear, ServiceYearBuilt
from members.selectors import (
    counted_records,
    managed_organizations,
    residence_confirmation_queue,
    sees_nothing,
    visible_organizations,
)
from notifications.selectors import unread_count
from projects import selectors as project_selectors
from projects.models import Activity, ActivitySurvey, SelfReport, ServiceProject, SignUp
from projects.selectors import SurveySummary, survey_summary_for_member
from training.models import Enrollment, TrainingRecord
from training.selectors import CompletionReport, completion_by_branch

from .models import Plan, PlanTarget, Report, Task, TaskProgressNote

ZERO = Decimal("0")
ACTIVE_WINDOW_DAYS = 90  # "active" = a counted service in the 90 days up to the period's end
PATH_SEGMENT = 7  # one "000012." step of Organization.path
TREND_MONTHS = 12
FOLLOWUP_PAGE_SIZE = 25  # members without service, per page of the dashboard
PUBLIC_FIGURES_SECONDS = 300


# --- Scope and period -------------------------------------------------------------------------------------------


def dashboard_root(user: Viewer) -> Organization | None:
    """The organization a user's dashboard opens on: the top one they manage; for a platform admin the first root."""
    if not sees_nothing(user) and user.is_superuser:
        return Organization.objects.filter(parent=None).order_by("path").first()
    return managed_organizations(user).order_by("path").first()


def dashboard_organization(user: Viewer, organization_id: int | str | None) -> Organization | None:
    """An organization in `user`'s scope by id, or None (the view answers 404: out of scope looks like missing)."""
    if organization_id is None:
        return None
    try:
        pk = int(organization_id)
    except ValueError:
        return None
    # No select_related("parent"): the pages show parent_id only, and compiling the join made this lookup about a
    # third slower — noticeable once the snapshot page's content is kept rendered (dashboard_views.py).
    return visible_organizations(user).filter(pk=pk).first()


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @classmethod
    def year(cls, year: int) -> "Period":
        return cls(date(year, 1, 1), date(year, 12, 31))

    @classmethod
    def month(cls, year: int, month: int) -> "Period":
        return cls(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))

    @classmethod
    def quarter(cls, year: int, quarter: int) -> "Period":
        first = 3 * (quarter - 1) + 1
        return cls(date(year, first, 1), cls.month(year, first + 2).end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def datetimes(self) -> tuple[datetime, datetime]:
        """[start 00:00, the day after end 00:00) in the site's time zone, for timestamp columns."""
        tz = timezone.get_current_timezone()
        return (
            datetime.combine(self.start, time.min, tzinfo=tz),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz),
        )


def _in(field_name: str, period: Period) -> Q:
    start, end = period.datetimes()
    return Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})


def _rate(part: int | Decimal, whole: int | Decimal, places: str = "0.1") -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal(places))


def _hours(value: Decimal | None) -> Decimal:
    """A sum of hours with two decimals on every database (SQLite's SUM drops the scale: 6 for 6.00)."""
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _per(total: Decimal, count: int) -> Decimal:
    if not count:
        return ZERO
    return (Decimal(total) / count).quantize(Decimal("0.01"))


# --- Figures ----------------------------------------------------------------------------------------------------


def _roster(organization: Organization) -> QuerySet[Member]:
    return Member.objects.filter(organization__path__startswith=organization.path, status=Member.Status.ACTIVE)


def _counted_records(organization: Organization) -> QuerySet[ServiceRecord]:
    return counted_records(
        queryset=ServiceRecord.objects.filter(member__organization__path__startswith=organization.path)
    )


# --- The yearly summary (members.ServiceYear) --------------------------------------------------------------------
#
# Why a summary table, and which: bench/dashboard.py at 100,000 members and 1,000,000 records (2 CPUs) measured the
# page at 5.0–7.6 s. EXPLAIN ANALYZE: the records pass (participants, active, hours) read 437,000 records through
# 96,000 member index probes (1.4–1.9 s), the 12-month trend 477,000 the same way (1.3 s), the follow-up list
# probed the records once per roster member (0.7 s). No index shrinks that: the figures need every record of the
# period, and participants/active are distinct counts over arbitrary days, which no per-organization total can
# give. So the records are summarised per member and year (members.ServiceYear: per month hours, services and a
# bit mask of the days served), one row per member who served: ~100,000 rows a year instead of ~500,000 records.
# Distinct counts stay exact for any period (the day masks), hours are exact for whole months, and the few days of
# a partial month at a period's edge are summed live from the records (the `members_record_counted_date` index).
# Keyed by member, the summary needs no change when a member is transferred or changes status: every query joins
# the member's branch and status now, exactly like the live computation.
#
# Kept current in the transaction of the write (members.services locks and recomputes the member's row), not by
# an asynchronous task, so it never lags: the figures equal the live computation the moment a write commits
# (tests/dashboard/test_summary.py). A year is read from the summary only once `service_year_rebuild` built it
# (the periodic Celery task "service summary rebuild" builds the current and the previous years nightly and
# repairs anything written around the services); other years, and SQLite test databases, are computed live.
#
# Measured with bench/dashboard.py while other jobs kept the 2 CPUs at a load of 5–6 (so all figures are inflated,
# the ratio is what holds): top organization live 3.4 s median (4.4 s slowest), with the summary 1.0–1.6 s
# median; a branch of 12,000 members 0.9 s live, 0.37–0.48 s with the summary. Left, by cost: the summary pass
# (~0.35 s loaded: it reads two years of rows when the trend crosses New Year), the star distribution (~0.3 s:
# every rating of the subtree is aggregated) and the follow-up page (~0.3 s: the roster is sorted before the page
# is cut) — next steps if the quiet machine misses 500 ms: a per-organization month total for the trend, a
# current-stars column kept by incentives, an index walk for the follow-up list.


def _summary_years(*periods: "Period") -> range:
    return range(min(p.start.year for p in periods), max(p.end.year for p in periods) + 1)


def summary_ready(years: range) -> bool:
    """Whether every year of `years` is built in the summary; one query."""
    return ServiceYearBuilt.objects.filter(year__in=list(years)).count() == len(years)


def _month_spans(period: "Period") -> Iterator[tuple[int, int, int, int, bool]]:
    """(year, month, first day, last day) of each calendar month the period touches, clipped to the period."""
    y, m = period.start.year, period.start.month
    while (y, m) <= (period.end.year, period.end.month):
        last = calendar.monthrange(y, m)[1]
        first_day = period.start.day if (y, m) == (period.start.year, period.start.month) else 1
        last_day = period.end.day if (y, m) == (period.end.year, period.end.month) else last
        yield y, m, first_day, last_day, first_day == 1 and last_day == last
        y, m = (y, m + 1) if m < 12 else (y + 1, 1)


def _by_year(
    terms: dict[int, list], output_field: Field, combine: Callable[[Any, Any], Any] = operator.add
) -> Case | Value:
    """CASE year WHEN y THEN that year's terms combined (summed) … ELSE 0 END."""
    whens = []
    for year, year_terms in terms.items():
        whens.append(When(year=year, then=functools.reduce(combine, year_terms)))
    return Case(*whens, default=Value(0), output_field=output_field) if whens else Value(0, output_field)


def _days_served(period: "Period") -> Case | Value:
    """> 0 on a ServiceYear row when the member served on a day of `period` in that row's year."""
    terms: dict[int, list] = {}
    for y, m, first_day, last_day, _whole in _month_spans(period):
        mask = ALL_DAYS & ((1 << last_day) - 1) & ~((1 << (first_day - 1)) - 1)
        terms.setdefault(y, []).append(F(f"days_{m:02d}").bitand(mask))
    # OR, not +: twelve 31-bit masks would overflow a 32-bit sum.
    return _by_year(terms, IntegerField(), combine=lambda a, b: a.bitor(b))


def _whole_months(
    period: "Period", prefix: str, output_field: Field, partial_too: "Period | None" = None
) -> Case | Value:
    """The sum of a ServiceYear row's `prefix`_MM columns over the months entirely inside `period` (and over the
    partial ones too when `partial_too` is the period: their days outside it hold no record)."""
    terms: dict[int, list] = {}
    for y, m, _first, _last, whole in _month_spans(period):
        if whole or partial_too is not None:
            terms.setdefault(y, []).append(F(f"{prefix}_{m:02d}"))
    return _by_year(terms, output_field)


def _partial_months(period: "Period") -> tuple[Q | None, Q | None]:
    """For the months `period` covers only in part: its days in them, and their days outside it (None, None when
    every month is whole)."""
    inside = outside = None
    for y, m, first_day, last_day, whole in _month_spans(period):
        if whole:
            continue
        days = Q(date__gte=date(y, m, first_day), date__lte=date(y, m, last_day))
        month = Q(date__gte=date(y, m, 1), date__lte=date(y, m, calendar.monthrange(y, m)[1]))
        inside = days if inside is None else inside | days
        outside = month & ~days if outside is None else outside | (month & ~days)
    return inside, outside


def _summary_rows(organization: Organization) -> QuerySet[ServiceYear]:
    return ServiceYear.objects.filter(member__organization__path__startswith=organization.path)


@dataclass
class MemberFigures:
    members: int
    active: int  # roster members with a counted service in the 90 days up to the period's end
    participants: int  # roster members with a counted service in the period
    hours: Decimal  # counted hours in the period (of every member homed in the subtree)
    services: int
    wishes_fulfilled: int = 0  # 党员实现微心愿: wishes the subtree's members and teams fulfilled in the period
    points: int = 0  # points earned in the period by every member homed in the subtree

    @property
    def active_rate(self) -> Decimal | None:
        return _rate(self.active, self.members)

    @property
    def participation_rate(self) -> Decimal | None:
        return _rate(self.participants, self.members)

    @property
    def hours_per_member(self) -> Decimal:
        return _per(self.hours, self.members)


@dataclass
class _ChildFigures:
    members: int = 0
    participants: int = 0
    active: int = 0
    hours: Decimal = ZERO
    services: int = 0
    wishes_fulfilled: int = 0
    points: int = 0
    # Counted hours per (year, month) of the `trend` span, when asked for with the summary (one pass for both).
    trend: dict[tuple[int, int], Decimal] = field(default_factory=dict)


def _figures_by_child(
    organization: Organization, period: Period, summary: bool | None = None, trend: Period | None = None
) -> dict[str, _ChildFigures]:
    """Every figure with a per-branch row, grouped by the child of `organization` each member's branch (or the
    fulfilling team's organization) lies under: the key is the child's path; what is homed at the organization
    itself is under its own path. They serve both the totals (summed over the keys: each member, record, wish and
    ledger entry lies under exactly one) and the league table, so its rows add up to the headline.

    Four or five queries: the roster; then, when the years are built in the summary (`summary`; None = look it
    up, one query more), one pass over the ServiceYear rows of the period and the 90-day window, plus the records
    of the period's partial months; otherwise one pass over the counted records of the period and the window;
    then the wishes fulfilled in the period and the points earned in it.
    With the summary, the same pass also sums the months of `trend` (the dashboard's trend chart) when given."""
    prefix_length = len(organization.path) + PATH_SEGMENT
    rows: dict[str, _ChildFigures] = {}
    for child, n in (
        _roster(organization)
        .annotate(child=Substr("organization__path", 1, prefix_length))
        .values("child")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("child", "n")
    ):
        rows.setdefault(child, _ChildFigures()).members = n
    window = Period(period.end - timedelta(days=ACTIVE_WINDOW_DAYS - 1), period.end)
    on_roster = Q(member__status=Member.Status.ACTIVE)
    if summary is None:
        summary = summary_ready(_summary_years(period, window))
    if summary:
        years = _summary_years(period, window)
        # The default period ends today: its last month is partial, but no record lies after today, so the whole
        # month of the summary is exact. Only when a partial month has records outside the period (one indexed
        # EXISTS says) are its days inside summed live from the records instead.
        inside, outside = _partial_months(period)
        live_days = (
            inside
            if outside is not None and counted_records(queryset=ServiceRecord.objects.filter(outside)).exists()
            else None
        )
        hour_months = period if live_days is None else None
        # One row per member and year: a member is counted once without DISTINCT (which sorts every row) unless
        # the period or the window spans two years.
        distinct = period.start.year != period.end.year or window.start.year != window.end.year
        trend_months = list(_month_spans(trend)) if trend is not None else []
        trend_sums = {f"h{y}_{m}": Sum(f"hours_{m:02d}", filter=Q(year=y)) for y, m, *_rest in trend_months}
        if trend is not None:
            years = _summary_years(period, window, trend)
        figures_rows: QuerySet[Any, Any] = (
            _summary_rows(organization)
            .filter(year__gte=years[0], year__lte=years[-1])
            .annotate(
                child=Substr("member__organization__path", 1, prefix_length),
                in_period=_days_served(period),
                in_window=_days_served(window),
                period_hours=_whole_months(period, "hours", DecimalField(max_digits=9, decimal_places=2), hour_months),
                period_services=_whole_months(period, "services", IntegerField(), hour_months),
            )
            .values("child")
            .annotate(
                hours=Sum("period_hours"),
                services=Sum("period_services"),
                participants=Count("member", distinct=distinct, filter=Q(in_period__gt=0) & on_roster),
                active=Count("member", distinct=distinct, filter=Q(in_window__gt=0) & on_roster),
                **trend_sums,
            )
            .order_by()
        )
        partial_rows = (
            _counted_records(organization)
            .filter(live_days)
            .annotate(child=Substr("member__organization__path", 1, prefix_length))
            .values("child")
            .annotate(hours=Sum("hours"), services=Count("pk"))
            .order_by()
            if live_days is not None
            else []
        )
    else:
        in_period = Q(date__gte=period.start, date__lte=period.end)
        figures_rows = (
            _counted_records(organization)
            .filter(date__gte=min(period.start, window.start), date__lte=period.end)
            .annotate(child=Substr("member__organization__path", 1, prefix_length))
            .values("child")
            .annotate(
                hours=Sum("hours", filter=in_period),
                services=Count("pk", filter=in_period),
                participants=Count("member", distinct=True, filter=in_period & on_roster),
                active=Count("member", distinct=True, filter=Q(date__gte=window.start) & on_roster),
            )
            .order_by()
        )
        partial_rows = []
    for row in figures_rows:
        figures = rows.setdefault(row["child"], _ChildFigures())
        figures.hours = _hours(row["hours"])
        figures.services = row["services"] or 0
        figures.participants = row["participants"]
        figures.active = row["active"]
        figures.trend = {(y, m): _hours(row.get(f"h{y}_{m}")) for y, m, *_rest in trend_months} if summary else {}
    for row in partial_rows:
        figures = rows.setdefault(row["child"], _ChildFigures())
        figures.hours = _hours(figures.hours + row["hours"])
        figures.services += row["services"]
    for child, n in _wishes_fulfilled_by_prefix(organization, period, prefix_length).items():
        rows.setdefault(child, _ChildFigures()).wishes_fulfilled = n
    for child, points in earned_by_path_prefix(
        organization, period.start, period.end, prefix_length=prefix_length
    ).items():
        rows.setdefault(child, _ChildFigures()).points = points
    return rows


def _wish_owner_path() -> Coalesce:
    """The path of the organization a fulfilled wish counts for. A team claims through its leader, who is stored as
    `claimed_by` (and fulfils, and gets the record's hours and the points) with the team as `claimed_team`: the
    wish is the team's work (组团服务), so it counts for the team's organization (a 社区党委's team: the
    committee's own row). A member's own claim counts for their current branch, as their records do. A team
    deleted since (claimed_team set to NULL) leaves the wish to its leader's branch."""
    return Coalesce("claimed_team__organization__path", "claimed_by__organization__path")


def _wishes_fulfilled_by_prefix(organization: Organization, period: Period, prefix_length: int) -> dict[str, int]:
    """党员实现微心愿: wishes fulfilled in the period by the members and teams of `organization`'s subtree, keyed by
    the first `prefix_length` characters of the path they count for (`_wish_owner_path`); one query."""
    return dict(
        MicroWish.objects.filter(_in("fulfilled_at", period))
        .annotate(owner=_wish_owner_path())
        .filter(owner__startswith=organization.path)
        .annotate(prefix=Substr("owner", 1, prefix_length))
        .values("prefix")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("prefix", "n")
    )


def _totals(by_child: dict[str, _ChildFigures]) -> MemberFigures:
    values = by_child.values()
    return MemberFigures(
        members=sum(f.members for f in values),
        active=sum(f.active for f in values),
        participants=sum(f.participants for f in values),
        hours=_hours(sum((f.hours for f in values), ZERO)),
        services=sum(f.services for f in values),
        wishes_fulfilled=sum(f.wishes_fulfilled for f in values),
        points=sum(f.points for f in values),
    )


def member_figures(organization: Organization, period: Period) -> MemberFigures:
    """Five queries: which years the summary has built, the roster, one pass over the counted records (or the
    summary) of the period and of the 90-day window, the wishes the subtree's members fulfilled and the points they
    earned (`_figures_by_child`)."""
    return _totals(_figures_by_child(organization, period))


class Median(Aggregate):
    """PostgreSQL's percentile_cont(0.5) — the exact median, computed where the rows are."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


@dataclass
class WishFigures:
    received: int
    verified: int
    fulfilled: int
    confirmed: int
    rating_count: int
    rating_mean: Decimal | None
    median_to_claim: timedelta | None  # publication → claim, over wishes claimed in the period
    median_to_fulfil: timedelta | None  # claim → fulfilment, over wishes fulfilled in the period


def _wishes(organization: Organization) -> QuerySet[MicroWish]:
    return MicroWish.objects.filter(community__organization__path__startswith=organization.path)


def wish_figures(organization: Organization, period: Period) -> WishFigures:
    """One query on PostgreSQL (counts, mean rating and both medians via percentile_cont); on SQLite, which has no
    percentile function, a second query fetches the two durations of the period's claimed/fulfilled wishes — a
    bounded list (one subtree, one period) — and Python takes the medians."""
    claimed = _in("claimed_at", period) & Q(published_at__isnull=False)
    fulfilled = _in("fulfilled_at", period) & Q(claimed_at__isnull=False)
    rated = _in("confirmed_at", period) & Q(rating__isnull=False)
    aggregates = {
        "received": Count("pk", filter=_in("created_at", period)),
        "verified": Count("pk", filter=_in("verified_at", period)),
        "fulfilled": Count("pk", filter=_in("fulfilled_at", period)),
        "confirmed": Count("pk", filter=_in("confirmed_at", period)),
        "rating_count": Count("pk", filter=rated),
        "rating_mean": Avg("rating", filter=rated),
    }
    to_claim = F("claimed_at") - F("published_at")
    to_fulfil = F("fulfilled_at") - F("claimed_at")
    postgres = connection.vendor == "postgresql"
    if postgres:
        aggregates["median_to_claim"] = Median(to_claim, filter=claimed)
        aggregates["median_to_fulfil"] = Median(to_fulfil, filter=fulfilled)
    row = _wishes(organization).aggregate(**aggregates)
    if not postgres:
        start, end = period.datetimes()
        to_claim_list, to_fulfil_list = [], []
        for published_at, claimed_at, fulfilled_at in (
            _wishes(organization).filter(claimed | fulfilled).values_list("published_at", "claimed_at", "fulfilled_at")
        ):
            if published_at and claimed_at and start <= claimed_at < end:
                to_claim_list.append(claimed_at - published_at)
            if claimed_at and fulfilled_at and start <= fulfilled_at < end:
                to_fulfil_list.append(fulfilled_at - claimed_at)
        # median() needs only ordering and (a + b) / 2, which timedeltas have; the stubs allow numbers only.
        row["median_to_claim"] = median(to_claim_list) if to_claim_list else None  # type: ignore[type-var]
        row["median_to_fulfil"] = median(to_fulfil_list) if to_fulfil_list else None  # type: ignore[type-var]
    mean = row["rating_mean"]
    return WishFigures(
        received=row["received"],
        verified=row["verified"],
        fulfilled=row["fulfilled"],
        confirmed=row["confirmed"],
        rating_count=row["rating_count"],
        rating_mean=Decimal(mean).quantize(Decimal("0.01")) if mean is not None else None,
        median_to_claim=row["median_to_claim"],
        median_to_fulfil=row["median_to_fulfil"],
    )


@dataclass
class RedemptionFigures:
    requested: int
    fulfilled: int
    points: int  # points spent on redemptions not cancelled


def redemption_figures(organization: Organization, period: Period) -> RedemptionFigures:
    """One query: redemptions asked for in the period by members homed in the subtree."""
    row = Redemption.objects.filter(
        _in("requested_at", period), member__organization__path__startswith=organization.path
    ).aggregate(
        requested=Count("pk"),
        fulfilled=Count("pk", filter=Q(status=Redemption.Status.FULFILLED)),
        points=Sum("points", filter=~Q(status=Redemption.Status.CANCELLED)),
    )
    return RedemptionFigures(requested=row["requested"], fulfilled=row["fulfilled"], points=row["points"] or 0)


def star_distribution(organization: Organization) -> list[tuple[int, int]]:
    """[(stars 0–5, members)] of the roster by each member's latest final rating (0 when never rated); one query.

    Set-based: the runs are ranked by (period end, finalization, id) — the order of `incentives.selectors.
    current_stars`, whose last tie-break is the rating's id, which follows its run's — and each member's latest
    rating is MAX(rank × 10 + stars), one hash aggregate over the subtree's final ratings. The per-member subquery this
    replaces cost 0.9 s at 100,000 members (an index probe and a sort per member), a DISTINCT ON 0.47 s (a sort
    of every rating); this takes a fraction of that (bench/dashboard.py)."""
    member, org = Member._meta.db_table, Organization._meta.db_table
    rating, run = StarRating._meta.db_table, RatingRun._meta.db_table
    sql = f"""
        SELECT COALESCE(latest.k %% 10, 0) AS stars, COUNT(*)
        FROM {member} m
        JOIN {org} o ON o.id = m.organization_id
        LEFT JOIN (
            SELECT r.member_id, MAX(rr.rank * 10 + r.stars) AS k
            FROM {rating} r
            JOIN (SELECT id, ROW_NUMBER() OVER (ORDER BY period_end, finalized_at, id) AS rank FROM {run}) rr
                ON rr.id = r.run_id
            JOIN {member} rm ON rm.id = r.member_id
            JOIN {org} ro ON ro.id = rm.organization_id
            WHERE r.status = %s AND ro.path LIKE %s
            GROUP BY r.member_id
        ) latest ON latest.member_id = m.id
        WHERE o.path LIKE %s AND m.status = %s
        GROUP BY COALESCE(latest.k %% 10, 0)
    """
    with connection.cursor() as cursor:
        prefix = organization.path + "%"
        cursor.execute(sql, [StarRating.Status.FINAL, prefix, prefix, Member.Status.ACTIVE])
        counts = dict(cursor.fetchall())
    return [(stars, counts.get(stars, 0)) for stars in range(0, 6)]


def projects_run(organization: Organization, period: Period) -> int:
    """Service projects of the subtree with at least one activity held (completed) in the period; one query."""
    held = Activity.objects.filter(project=OuterRef("pk"), status=Activity.Status.COMPLETED).filter(
        _in("starts_at", period)
    )
    return ServiceProject.objects.filter(organization__path__startswith=organization.path).filter(Exists(held)).count()


def activities_held(organization: Organization, period: Period) -> int:
    """Activities of the subtree's projects held (completed) that started in the period; one query."""
    return (
        Activity.objects.filter(
            project__organization__path__startswith=organization.path, status=Activity.Status.COMPLETED
        )
        .filter(_in("starts_at", period))
        .count()
    )


# --- Trend and league table -------------------------------------------------------------------------------------


@dataclass
class TrendMonth:
    year: int
    month: int
    hours: Decimal = ZERO
    wishes_received: int = 0
    wishes_fulfilled: int = 0

    @property
    def label(self) -> str:
        return f"{self.year}-{self.month:02d}"


def trend_span(end: date, months: int = TREND_MONTHS) -> Period:
    """The `months` whole calendar months up to `end`'s month."""
    first_year, first_month = end.year, end.month
    for _i in range(months - 1):
        first_year, first_month = (first_year, first_month - 1) if first_month > 1 else (first_year - 1, 12)
    return Period(date(first_year, first_month, 1), Period.month(end.year, end.month).end)


def monthly_trend(
    organization: Organization,
    end: date,
    months: int = TREND_MONTHS,
    summary: bool | None = None,
    hours: dict[tuple[int, int], Decimal] | None = None,
) -> list[TrendMonth]:
    """The `months` calendar months up to `end`'s month: counted hours (from the whole months of the summary when
    its years are built, else from the records), wishes received and fulfilled; 3 queries (4 when `summary` is
    None: the lookup; 2 when the dashboard passes the `hours` its summary pass summed)."""
    span = trend_span(end, months)
    rows: dict[tuple[int, int], TrendMonth] = {}
    y, m = span.start.year, span.start.month
    for _i in range(months):
        rows[(y, m)] = TrendMonth(y, m)
        y, m = (y, m + 1) if m < 12 else (y + 1, 1)
    if hours is None and summary is None:
        summary = summary_ready(_summary_years(span))
    if hours is not None:
        for key, month in rows.items():
            month.hours = _hours(hours.get(key))
    elif summary:
        sums = _summary_rows(organization).aggregate(
            **{f"h{y}_{m}": Sum(f"hours_{m:02d}", filter=Q(year=y)) for y, m in rows}
        )
        for (y, m), month in rows.items():
            month.hours = _hours(sums[f"h{y}_{m}"])
    else:
        for row in (
            _counted_records(organization)
            .filter(date__gte=span.start, date__lte=span.end)
            .annotate(y=ExtractYear("date"), m=ExtractMonth("date"))
            .values("y", "m")
            .annotate(hours=Sum("hours"))
            .order_by()
        ):
            rows[(row["y"], row["m"])].hours = _hours(row["hours"])
    for field_name, attribute in (("created_at", "wishes_received"), ("fulfilled_at", "wishes_fulfilled")):
        for row in (
            _wishes(organization)
            .filter(_in(field_name, span))
            .annotate(y=ExtractYear(field_name), m=ExtractMonth(field_name))
            .values("y", "m")
            .annotate(n=Count("pk"))
            .order_by()
        ):
            setattr(rows[(row["y"], row["m"])], attribute, row["n"])
    return list(rows.values())


@dataclass
class LeagueRow:
    organization: Organization
    members: int = 0
    participants: int = 0
    hours: Decimal = ZERO
    wishes_fulfilled: int = 0  # 党员实现微心愿 (by the fulfilling member's branch or team's organization)
    points: int = 0
    own: bool = False  # the organization itself (本级): what is homed there rather than in a child

    @property
    def participation_rate(self) -> Decimal | None:
        return _rate(self.participants, self.members)

    @property
    def hours_per_member(self) -> Decimal:
        return _per(self.hours, self.members)


def league_table(
    organization: Organization, period: Period, by_child: dict[str, _ChildFigures] | None = None
) -> list[LeagueRow]:
    """The organization's direct children, each with its whole subtree's figures, best hours per member first, then
    the organization's own row (本级) when anything is homed at the organization itself. The rows add up to the
    dashboard's headline: both are `_figures_by_child`.

    One query whatever the size (the children) when the dashboard passes the `by_child` figures it already has,
    else the queries of `_figures_by_child` besides."""
    rows = {child.path: LeagueRow(child) for child in Organization.objects.filter(parent=organization).order_by("path")}
    if not rows:
        return []
    if by_child is None:
        by_child = _figures_by_child(organization, period)
    own = None
    for path, figures in by_child.items():
        if path in rows:
            row = rows[path]
        elif path == organization.path:
            row = own = LeagueRow(organization, own=True)
        else:  # a child created while the figures were read
            continue
        row.members, row.participants, row.hours = figures.members, figures.participants, figures.hours
        row.wishes_fulfilled, row.points = figures.wishes_fulfilled, figures.points
    ranked = sorted(rows.values(), key=lambda r: (-r.hours_per_member, -r.hours, r.organization.path))
    if own is not None and (own.members or own.hours or own.wishes_fulfilled or own.points):
        ranked.append(own)
    return ranked


def members_without_service(organization: Organization, year: int, summary: bool | None = None) -> QuerySet[Member]:
    """Roster members with no counted service in `year`, by branch and name: a follow-up list for the secretary,
    never published. Lazy: the view fetches one page. When the year is built in the summary (`summary`; None =
    look it up, one query), the anti-join probes the member's ServiceYear row instead of their records."""
    if summary is None:
        summary = summary_ready(range(year, year + 1))
    if summary:
        served: QuerySet[Any, Any] = ServiceYear.objects.filter(member=OuterRef("pk"), year=year, services__gt=0)
    else:
        served = ServiceRecord.objects.filter(
            member=OuterRef("pk"),
            status__in=ServiceRecord.COUNTED_STATUSES,
            date__gte=date(year, 1, 1),
            date__lte=date(year, 12, 31),
        )
    return (
        _roster(organization)
        .exclude(Exists(served))
        .select_related("organization")
        # Only what the list shows: the whole roster is sorted before the page is cut, and a full member row
        # (encrypted fields) made that sort spill to disk at 100,000 members.
        .only("name", "volunteer_number", "organization__name", "organization__path")
        .order_by("organization__path", "name", "pk")
    )


def member_hours(organization: Organization, period: Period) -> QuerySet[Member, tuple[Any, ...]]:
    """Every roster member, and every other member homed in the subtree with counted hours in the period (exempt,
    inactive: their hours count in the dashboard's too), with their counted hours and services in the period (0
    when none) and their status, by branch and name — the hours add up to the dashboard's. One query (for the
    export)."""
    records = counted_records(start=period.start, end=period.end).filter(member=OuterRef("pk")).values("member")
    hours = records.annotate(total=Sum("hours")).values("total")
    services = records.annotate(n=Count("pk")).values("n")
    return (
        Member.objects.filter(organization__path__startswith=organization.path)
        .annotate(
            period_hours=Coalesce(hours, ZERO, output_field=DecimalField(max_digits=9, decimal_places=2)),
            period_services=Coalesce(services, 0),
        )
        .filter(Q(status=Member.Status.ACTIVE) | Q(period_services__gt=0))
        .values_list("volunteer_number", "name", "organization__name", "period_hours", "period_services", "status")
        .order_by("organization__path", "name", "pk")
    )


def survey_figures(organization: Organization, period: Period) -> SurveySummary:
    """Members' satisfaction with the activities of the subtree's projects that started in the period (the short
    survey after each attended activity): answers and mean rating, one query."""
    start, end = period.datetimes()
    return SurveySummary.of(
        ActivitySurvey.objects.filter(
            signup__activity__project__organization__path__startswith=organization.path,
            signup__activity__starts_at__gte=start,
            signup__activity__starts_at__lt=end,
        ).aggregate(count=Count("pk"), mean=Avg("rating"))
    )


# --- Plans and tasks --------------------------------------------------------------------------------------------


def overdue_tasks_for(organization: Organization, today: date | None = None) -> QuerySet[Task]:
    """Open tasks past their due date that concern `organization`'s subtree — set by a plan in it, or assigned to an
    organization or member in it — oldest due first. For the dashboard and the monthly digest (督促检查)."""
    today = today or timezone.localdate()
    path = organization.path
    return (
        Task.objects.filter(status__in=Task.OPEN_STATUSES, due_on__lt=today)
        .filter(
            Q(plan__organization__path__startswith=path)
            | Q(assignee_organization__path__startswith=path)
            | Q(assignee_member__organization__path__startswith=path)
        )
        .select_related("plan__organization", "assignee_organization", "assignee_member")
        .order_by("due_on", "pk")
    )


def visible_plans(user: Viewer, *, queryset: QuerySet[Plan] | None = None) -> QuerySet[Plan]:
    qs = Plan.objects.all() if queryset is None else queryset
    return qs.filter(organization__in=visible_organizations(user))


def visible_tasks(user: Viewer, *, queryset: QuerySet[Task] | None = None) -> QuerySet[Task]:
    """Tasks of plans in scope, and tasks a plan higher up assigned into the scope (the branch reports progress)."""
    qs = Task.objects.all() if queryset is None else queryset
    organizations = visible_organizations(user)
    return qs.filter(
        Q(plan__organization__in=organizations)
        | Q(assignee_organization__in=organizations)
        | Q(assignee_member__organization__in=organizations)
    )


def plans_for(organization: Organization) -> QuerySet[Plan]:
    """Plans of the organization's subtree, newest year first, with their organization."""
    return (
        Plan.objects.filter(organization__path__startswith=organization.path)
        .select_related("organization")
        .annotate(
            task_count=Count("tasks", distinct=True),
            open_tasks=Count("tasks", filter=Q(tasks__status__in=Task.OPEN_STATUSES), distinct=True),
        )
        .order_by("-year", "organization__path")
    )


@dataclass
class TargetProgress:
    target: PlanTarget
    actual: Decimal

    @property
    def percent(self) -> int:
        """Share of the target reached, capped at 100 for the bar."""
        return min(int(self.actual * 100 / self.target.value), 100) if self.target.value else 0

    @property
    def reached(self) -> bool:
        return self.actual >= self.target.value


@dataclass
class PlanProgress:
    plan: Plan
    targets: list[TargetProgress] = field(default_factory=list)


def plan_progress(plan: Plan, today: date | None = None) -> PlanProgress:
    """Each target's value so far, computed from the records of the plan's year up to today (constant queries:
    one per figure group a target needs)."""
    today = today or timezone.localdate()
    year_period = Period.year(plan.year)
    period = Period(year_period.start, min(year_period.end, max(today, year_period.start)))
    targets = list(plan.targets.all())
    metrics = {t.metric for t in targets}
    actual: dict[str, Decimal] = {}
    M = PlanTarget.Metric
    if metrics & {M.HOURS_PER_MEMBER, M.PARTICIPATION_RATE}:
        figures = member_figures(plan.organization, period)
        actual[M.HOURS_PER_MEMBER] = figures.hours_per_member
        actual[M.PARTICIPATION_RATE] = figures.participation_rate or ZERO
    if M.WISHES_FULFILLED in metrics:
        # The dashboard's 党员实现微心愿: by the fulfilling member's branch (or team's organization), so a branch's
        # plan counts its own members' wishes — the communities are served by the 社区党委 above it.
        by_members = _wishes_fulfilled_by_prefix(plan.organization, period, len(plan.organization.path))
        actual[M.WISHES_FULFILLED] = Decimal(sum(by_members.values()))
    if M.TRAINING_HOURS in metrics:
        actual[M.TRAINING_HOURS] = completion_by_branch(plan.organization, plan.year).average
    if M.PROJECTS_RUN in metrics:
        actual[M.PROJECTS_RUN] = Decimal(projects_run(plan.organization, period))
    return PlanProgress(plan=plan, targets=[TargetProgress(t, actual.get(t.metric, ZERO)) for t in targets])


def plan_detail(user: Viewer, plan_id: int) -> Plan | None:
    try:
        pk = int(plan_id)
    except (TypeError, ValueError):
        return None
    return visible_plans(user).select_related("organization").filter(pk=pk).first()


def plan_tasks(plan: Plan) -> QuerySet[Task]:
    """A plan's tasks with their assignees and notes (two queries)."""
    return (
        plan.tasks.select_related("assignee_organization", "assignee_member")
        .prefetch_related("notes__author")
        .order_by("due_on", "pk")
    )


# --- The dashboard ----------------------------------------------------------------------------------------------


@dataclass
class Dashboard:
    organization: Organization
    period: Period
    members: MemberFigures
    wishes: WishFigures
    surveys: SurveySummary
    redemptions: RedemptionFigures
    stars: list[tuple[int, int]]
    training: CompletionReport
    trend: list[TrendMonth]
    league: list[LeagueRow]
    overdue_tasks: list[Task]
    summary: bool  # the figures over the records came from the summary (its years are built)
    computed_at: datetime | None = None  # set on a snapshot: when the Celery task computed it
    followup_head: list[Member] | None = None  # on a snapshot: the follow-up list's first FOLLOWUP_PAGE_SIZE + 1 rows
    stamp: str | None = None  # on a snapshot: names it (snapshot_store), unique per computation


def dashboard(organization: Organization, period: Period, today: date | None = None) -> Dashboard:
    """Every figure of the dashboard: a fixed number of queries (see tests/dashboard/test_pages.py)."""
    window = Period(period.end - timedelta(days=ACTIVE_WINDOW_DAYS - 1), period.end)
    span = trend_span(period.end)
    summary = summary_ready(_summary_years(period, window, span, Period.year(period.end.year)))
    by_child = _figures_by_child(organization, period, summary, trend=span)
    members = _totals(by_child)
    trend_hours: dict | None = None
    if summary:
        trend_hours = {}
        for figures in by_child.values():
            for key, value in figures.trend.items():
                trend_hours[key] = trend_hours.get(key, ZERO) + value
    return Dashboard(
        organization=organization,
        period=period,
        members=members,
        wishes=wish_figures(organization, period),
        surveys=survey_figures(organization, period),
        redemptions=redemption_figures(organization, period),
        stars=star_distribution(organization),
        training=completion_by_branch(organization, period.end.year),
        trend=monthly_trend(organization, period.end, summary=summary, hours=trend_hours),
        league=league_table(organization, period, by_child),
        overdue_tasks=list(overdue_tasks_for(organization, today)[:20]),
        summary=summary,
    )


# --- Quarterly and annual reports (报告): the dashboard's figures of a period and of the one before ----------------
# A report states the dashboard's figures (`dashboard`) — never a version of its own — and beside them the figures of
# the plan, projects and commendations, each from its one selector (tests/dashboard/test_reports.py compares them).


def report_period(kind: str, year: int, quarter: int) -> Period:
    """The period of a report: the quarter, or the year (`kind` "annual", quarter 0)."""
    return Period.year(year) if kind == "annual" else Period.quarter(year, quarter)


def previous_report_period(kind: str, year: int, quarter: int) -> Period:
    """The period a report compares with: the quarter before (Q4 of the year before for Q1), or the year before."""
    if kind == "annual":
        return Period.year(year - 1)
    return Period.quarter(year, quarter - 1) if quarter > 1 else Period.quarter(year - 1, 4)


@dataclass
class ReportFigures:
    dashboard: Dashboard
    projects_run: int
    activities_held: int
    commendations: list[Commendation]
    plans: list[PlanProgress]  # the organization's own plans of the period's year, as of the period's end


def report_figures(organization: Organization, period: Period, today: date | None = None) -> ReportFigures:
    """Everything a report states for one period: the dashboard's figures and the period's projects run, activities
    held, commendations and the progress of the organization's plan for the period's year as of its end (or
    `today`, when that comes first). A fixed number of queries."""
    today = today or timezone.localdate()
    plans = Plan.objects.filter(organization=organization, year=period.end.year).prefetch_related("targets")
    as_of = min(period.end, today)
    return ReportFigures(
        dashboard=dashboard(organization, period, today=today),
        projects_run=projects_run(organization, period),
        activities_held=activities_held(organization, period),
        commendations=list(commendations_awarded(organization, period.start, period.end)),
        plans=[plan_progress(plan, as_of) for plan in plans.select_related("organization").order_by("pk")],
    )


def reports_for(organization: Organization) -> QuerySet[Report]:
    """The reports of `organization`'s subtree, newest first, with their organization and requester (the reports
    page: one query)."""
    return (
        Report.objects.filter(organization__path__startswith=organization.path)
        .select_related("organization", "requested_by")
        .order_by("-created_at", "-pk")
    )


def visible_reports(user: Viewer) -> QuerySet[Report]:
    """Reports of the organizations in `user`'s scope: whoever may open an organization's dashboard may download
    its reports; anyone else gets 404."""
    return Report.objects.filter(organization__in=visible_organizations(user))


# --- Dashboard snapshots: the top of a large tree ---------------------------------------------------------------
#
# Even on the yearly summary, the default dashboard of an organization with 100,000 members costs ~0.55 s of SQL
# (bench/dashboard.py, 2 CPUs: the summary pass over 200,000 member-years ~0.3 s — two years, as the trend crosses
# New Year — and the star distribution ~0.18 s) plus the follow-up page and rendering: over the 500 ms target.
# Those organizations (streets, districts: DASHBOARD_SNAPSHOT_MIN_MEMBERS or more members) get their default
# dashboard (this year up to today) computed by the Celery task "dashboard snapshots" every 10 minutes and kept in
# the shared cache; the page reads the snapshot and says when it was computed. Branches and community committees,
# any other period and the exports are computed when asked, exact to the second. A snapshot lives for two rounds,
# so a stopped beat falls back to live figures instead of showing old ones.


def default_period(today: date | None = None) -> Period:
    """The dashboard's period when none is asked for: this year up to today."""
    today = today or timezone.localdate()
    return Period(date(today.year, 1, 1), today)


def snapshot_key(organization_id: int, period: Period) -> str:
    # The version names the shape of the pickled Dashboard: a snapshot of another shape is never read.
    return f"site:dashboard:v3:{organization_id}:{period.start.isoformat()}:{period.end.isoformat()}"


def snapshot_stamp_key(organization_id: int, period: Period) -> str:
    """A few bytes written with the snapshot: its stamp, which names the snapshot without unpickling it."""
    return f"{snapshot_key(organization_id, period)}:stamp"


# The version of every page served from a snapshot (the whole-page cache of the dashboard, dashboard_views.py): a new
# one with every snapshot stored, so a page kept from an older snapshot is not served again.
SNAPSHOTS_VERSION_KEY = "site:dashboard:snapshots-version"


def snapshot_store(figures: Dashboard, timeout: int) -> None:
    """Keep `figures` (with `computed_at` set) as the snapshot of its organization and period, stamped with its time
    and a random part (two computations never share a stamp); snapshot and stamp in one `set_many` (on Redis one
    MSET in a MULTI/EXEC pipeline), so a reader never sees the stamp of one snapshot with another. Then the pages
    served from snapshots get a new version (after the snapshot is in place: a page rendered from the old snapshot
    meanwhile carries the old version)."""
    if figures.computed_at is None:
        raise ValueError("a snapshot carries the time it was computed")
    figures.stamp = f"{figures.computed_at.isoformat()}/{secrets.token_hex(8)}"
    organization_id = figures.organization.pk
    cache.set_many(
        {
            snapshot_key(organization_id, figures.period): figures,
            snapshot_stamp_key(organization_id, figures.period): figures.stamp,
        },
        timeout=timeout,
    )
    cache.set(SNAPSHOTS_VERSION_KEY, secrets.token_hex(6), timeout=None)


def dashboard_snapshot(organization: Organization, period: Period) -> Dashboard | None:
    """The snapshot of `organization`'s dashboard for `period` if the task made one (only for the default period of
    large organizations), else None."""
    snapshot: Dashboard | None = cache.get(snapshot_key(organization.pk, period))
    return snapshot


# The snapshot page's rendering: the part of the page that is the same for everyone who opens the same snapshot in
# the same language (dashboard_views.py says why). Kept next to the snapshot under one key per language, tagged
# with the stamp of the snapshot it was rendered from; it is served only while that stamp is the current one.


@dataclass
class SnapshotRendering:
    stamp: str  # the stamp of the snapshot it was rendered from
    organization: tuple  # what of the organization row the rendering shows besides the snapshot: (name, parent_id)
    html: str


def _rendering_key(organization_id: int, period: Period, language: str) -> str:
    # With the release of the code (core.public_cache.release): a deploy's new templates render anew.
    return f"{snapshot_key(organization_id, period)}:html:{language}:{public_cache.release()}"


def snapshot_rendering(organization: Organization, period: Period, language: str) -> tuple[str | None, str | None]:
    """(the current snapshot's stamp, its rendering in `language`) in one cache round trip: (None, None) without a
    snapshot; the rendering is None if none was kept for this snapshot or the organization changed since."""
    stamp_key = snapshot_stamp_key(organization.pk, period)
    rendering_key = _rendering_key(organization.pk, period, language)
    found = cache.get_many([stamp_key, rendering_key])
    stamp = found.get(stamp_key)
    rendering = found.get(rendering_key)
    if (
        stamp is None
        or rendering is None
        or rendering.stamp != stamp
        or rendering.organization != (organization.name, organization.parent_id)
    ):
        return stamp, None
    return stamp, rendering.html


def keep_snapshot_rendering(organization: Organization, figures: Dashboard, language: str, html: str) -> None:
    """Keep `html`, rendered from the snapshot `figures` in `language`, for the next readers of that snapshot; as
    long as a snapshot lives (a newer snapshot's stamp makes it unused before that)."""
    if figures.stamp is None:  # not a snapshot
        return
    cache.set(
        _rendering_key(organization.pk, figures.period, language),
        SnapshotRendering(figures.stamp, (organization.name, organization.parent_id), str(html)),
        timeout=2 * settings.DASHBOARD_SNAPSHOT_SECONDS,
    )


def snapshot_organizations(min_members: int) -> list[Organization]:
    """Organizations whose roster (active members of the subtree) has at least `min_members`; two queries."""
    per_branch = dict(
        Member.objects.filter(status=Member.Status.ACTIVE)
        .values_list("organization__path")
        .annotate(n=Count("pk"))
        .order_by()
    )
    organizations = list(Organization.objects.order_by("path"))
    return [
        organization
        for organization in organizations
        if sum(n for path, n in per_branch.items() if path.startswith(organization.path)) >= min_members
    ]


# --- Home page --------------------------------------------------------------------------------------------------


@dataclass
class PublicFigures:
    year: int
    members_serving: int
    hours: Decimal
    wishes_fulfilled: int
    rating_mean: Decimal | None
    rating_count: int


def public_figures(today: date | None = None) -> PublicFigures:
    """The home page's aggregates for this year — no person, no branch. Cached for 5 minutes (two queries on a
    miss, none on a hit), so the anonymous home page stays cheap."""
    today = today or timezone.localdate()
    key = f"site:public-figures:{today.year}"
    figures: PublicFigures | None = cache.get(key)
    if figures is None:
        period = Period(date(today.year, 1, 1), today)
        records = ServiceRecord.objects.filter(
            status__in=ServiceRecord.COUNTED_STATUSES, date__gte=period.start, date__lte=period.end
        ).aggregate(members=Count("member", distinct=True), hours=Sum("hours"))
        rated = _in("confirmed_at", period) & Q(rating__isnull=False)
        wishes = MicroWish.objects.aggregate(
            fulfilled=Count("pk", filter=_in("fulfilled_at", period)),
            rating_mean=Avg("rating", filter=rated),
            rating_count=Count("pk", filter=rated),
        )
        mean = wishes["rating_mean"]
        figures = PublicFigures(
            year=today.year,
            members_serving=records["members"],
            hours=_hours(records["hours"]),
            wishes_fulfilled=wishes["fulfilled"],
            rating_mean=Decimal(mean).quantize(Decimal("0.1")) if mean is not None else None,
            rating_count=wishes["rating_count"],
        )
        cache.set(key, figures, PUBLIC_FIGURES_SECONDS)
    return figures


# --- Member profile and monthly digest (asked for by the members app through settings) -------------------------


@dataclass(frozen=True)
class MemberFeedback:
    """What others and the member said about the member's service, for their profile (`/me/`)."""

    resident_rating_count: int  # residents' ratings of the wishes the member fulfilled (a team's: its leader)
    resident_rating_mean: Decimal | None  # rounded to 0.1; None when nobody has rated
    survey_count: int  # the member's own answers to the survey after an attended activity
    survey_mean: Decimal | None


def member_feedback(member: Member) -> MemberFeedback:
    """The member's feedback figures, all time (/me/, portal_views.me); two queries."""
    wishes = MicroWish.objects.filter(claimed_by=member, rating__isnull=False).aggregate(
        count=Count("pk"), mean=Avg("rating")
    )
    surveys = survey_summary_for_member(member)
    return MemberFeedback(
        resident_rating_count=wishes["count"],
        resident_rating_mean=None if wishes["mean"] is None else Decimal(wishes["mean"]).quantize(Decimal("0.1")),
        survey_count=surveys.count,
        survey_mean=surveys.mean,
    )


DIGEST_OVERDUE_TASKS = 10


def digest_extras(organization: Organization, year: int, month: int, today: date | None = None) -> dict:
    """The site's part of a secretary's monthly digest (services.monthly_digest_send): the residents'
    wishes of the communities the subtree serves and their satisfaction in the month, the wishes the subtree's
    members fulfilled (the dashboard's 党员实现微心愿 for that month), and the tasks overdue on `today` (督促检查),
    the ten oldest listed. Plain JSON values, since they are stored in the notification's context. Six queries."""
    period = Period.month(year, month)
    wishes = wish_figures(organization, period)
    by_members = _wishes_fulfilled_by_prefix(organization, period, len(organization.path))
    surveys = survey_figures(organization, period)
    overdue = overdue_tasks_for(organization, today)
    return {
        "wishes_received": wishes.received,
        "wishes_fulfilled": wishes.fulfilled,
        "wishes_fulfilled_by_members": sum(by_members.values()),
        "rating_count": wishes.rating_count,
        "rating_mean": plain_decimal(wishes.rating_mean),
        "survey_count": surveys.count,
        "survey_mean": plain_decimal(surveys.mean),
        "overdue_count": overdue.count(),
        "overdue_tasks": [
            {"title": task.title, "assignee": task.assignee_name, "due_on": task.due_on.isoformat()}
            for task in overdue[:DIGEST_OVERDUE_TASKS]
        ],
    }


# --- A member's own data (asked for by the members app through settings) -------------------------------------


def personal_data_sections(member: Member) -> dict:
    """The higher apps' part of a member's data download (portal_views.me_data_download): wishes they
    claimed, their service offers and pairings, sign-ups and survey answers, training, points, redemptions,
    ratings and commendations. Residents' contact details are not theirs and stay out. A query per section."""
    return {
        "wishes_claimed": [
            {
                "title": w.title,
                "community": w.community.name,
                "state": w.get_state_display(),
                "claimed_at": _iso(w.claimed_at),
                "fulfilled_at": _iso(w.fulfilled_at),
                "rating": w.rating,
            }
            for w in MicroWish.objects.filter(claimed_by=member).select_related("community").order_by("pk")
        ],
        "service_offers": [
            {"title": o.title, "description": o.description, "active": o.active}
            for o in ServiceOffer.objects.filter(member=member).order_by("pk")
        ],
        "pairings": [
            {"community": p.household.community.name, "started_on": _iso(p.started_on), "ended_on": _iso(p.ended_on)}
            for p in Pairing.objects.filter(member=member).select_related("household__community").order_by("pk")
        ],
        "activity_signups": [
            {
                "activity": s.activity.display_title,
                "starts_at": _iso(s.activity.starts_at),
                "status": s.get_status_display(),
                "hours": str(s.hours) if s.hours is not None else None,
            }
            for s in SignUp.objects.filter(member=member).select_related("activity__project").order_by("pk")
        ],
        "activity_surveys": [
            {
                "activity": a.signup.activity.display_title,
                "rating": a.rating,
                "comment": a.comment,
                "answered_at": _iso(a.created_at),
            }
            for a in ActivitySurvey.objects.filter(signup__member=member)
            .select_related("signup__activity__project")
            .order_by("pk")
        ],
        "training_records": [
            {"course": t.course.title, "hours": str(t.hours), "completed_on": _iso(t.completed_on)}
            for t in TrainingRecord.objects.filter(member=member).select_related("course").order_by("pk")
        ],
        "training_enrollments": [
            {"course": e.session.course.title, "starts_at": _iso(e.session.starts_at), "status": e.get_status_display()}
            for e in Enrollment.objects.filter(member=member).select_related("session__course").order_by("pk")
        ],
        "points_ledger": [
            {
                "kind": e.get_kind_display(),
                "points": e.points,
                "balance_after": e.balance_after,
                "note": e.note,
                "at": _iso(e.created_at),
            }
            for e in LedgerEntry.objects.filter(member=member).order_by("pk")
        ],
        "redemptions": [
            {"item": r.item.name, "points": r.points, "status": r.get_status_display(), "at": _iso(r.requested_at)}
            for r in Redemption.objects.filter(member=member).select_related("item").order_by("pk")
        ],
        "star_ratings": [
            {"period_end": _iso(s.run.period_end), "stars": s.stars, "status": s.get_status_display()}
            for s in StarRating.objects.filter(member=member).select_related("run").order_by("pk")
        ],
        "commendations": [
            {"title": c.title, "awarded_on": _iso(c.awarded_on), "status": c.get_status_display()}
            for c in Commendation.objects.filter(member=member).order_by("pk")
        ],
    }


# --- A task's page and a member's own tasks (任务分工) --------------------------------------------------------------
# Who may open a task and report on it: its managers (`visible_tasks`: the plan or the assignee in their scope) and
# its assignee — the member it is assigned to, or whoever administers the organization it is assigned to (already in
# `visible_tasks`, since that organization is in their scope). Everyone else gets 404.


def workable_tasks(user: Viewer) -> QuerySet[Task]:
    """Tasks `user` may open and report progress on: those in their scope and those assigned to them personally."""
    if sees_nothing(user) or not isinstance(user, User):
        return Task.objects.none()
    return visible_tasks(user) | Task.objects.filter(assignee_member__user=user)


def task_page(user: Viewer, task_id: int) -> Task | None:
    """A task for its page, or None when it is out of `user`'s reach: with its plan, organizations and assignee,
    `plan_visible` (whether the plan's page would open for `user`) and its notes with their authors. Two queries."""
    notes = TaskProgressNote.objects.select_related("author").order_by("-created_at", "-pk")
    return (
        workable_tasks(user)
        .filter(pk=task_id)
        .select_related("plan__organization", "assignee_organization", "assignee_member")
        .annotate(plan_visible=Exists(visible_plans(user).filter(pk=OuterRef("plan_id"))))  # type: ignore[no-redef]  # declared on the model for readers
        .prefetch_related(Prefetch("notes", queryset=notes))
        .first()
    )


OWN_TASKS_LIMIT = 20


@dataclass(frozen=True)
class OwnTask:
    title: str
    organization: str  # the organization it is assigned to, or "" when it is assigned to the member
    due_on: date
    overdue: bool
    status: str  # the status's label
    url: str


@dataclass(frozen=True)
class OwnTasks:
    rows: list[OwnTask]
    has_more: bool  # more than OWN_TASKS_LIMIT open tasks: the rows are the earliest due


def own_tasks(user: Viewer, today: date | None = None) -> OwnTasks:
    """The signed-in member's open tasks for `/me/` (portal_views.me): assigned to them, or to an
    organization they administer directly, earliest due first, each linking to its page. One query."""
    today = today or timezone.localdate()
    tasks = list(
        Task.objects.filter(status__in=Task.OPEN_STATUSES)
        .filter(Q(assignee_member__user=user) | Q(assignee_organization__in=managed_organizations(user)))
        .select_related("assignee_organization")
        .order_by("due_on", "pk")[: OWN_TASKS_LIMIT + 1]
    )
    rows = [
        OwnTask(
            title=task.title,
            organization=task.assignee_organization.name if task.assignee_organization is not None else "",
            due_on=task.due_on,
            overdue=task.due_on < today,
            status=task.get_status_display(),
            url=reverse("dashboard:task", args=[task.pk]),
        )
        for task in tasks[:OWN_TASKS_LIMIT]
    ]
    return OwnTasks(rows=rows, has_more=len(tasks) > OWN_TASKS_LIMIT)


def task_assignee_accounts(task: Task) -> list[int]:
    """The accounts whose `/me/` lists `task` while it is open: its member's, or the admins' and the secretary's of
    its organization (for the member portal's page cache, receivers.py). One query."""
    if task.assignee_member_id is not None:
        return list(Member.objects.filter(pk=task.assignee_member_id).values_list("user_id", flat=True))
    if task.assignee_organization_id is not None:
        organization = task.assignee_organization_id
        return list(
            User.objects.filter(
                Q(administered_organizations=organization) | Q(member__organizations_as_secretary=organization)
            )
            .values_list("pk", flat=True)
            .distinct()
        )
    return []


# --- Reconciliation (volunteer_platform/reconcile.py) ------------------------------------------------------------

_CHECKED_FIGURES = (
    ("members", gettext_lazy("党员人数")),
    ("participants", gettext_lazy("参与服务人数")),
    ("active", gettext_lazy("近90天参与人数")),
    ("hours", gettext_lazy("服务时长")),
    ("services", gettext_lazy("服务次数")),
    ("wishes_fulfilled", gettext_lazy("党员实现微心愿")),
    ("points", gettext_lazy("获得积分")),
)


def dashboard_figures_check(organization: Organization, period: Period) -> list[tuple[str | Promise, object, object]]:
    """(figure, from the records, as shown) for each headline figure of the dashboard that differs: the headline
    against the sum of the league rows, and — when its years are built — the yearly summary's figures against the
    records'. Empty when everything agrees."""
    live = _figures_by_child(organization, period, summary=False)
    totals = _totals(live)
    differences: list[tuple[str | Promise, object, object]] = []
    league = league_table(organization, period, live)
    for name, label in (("members", _("党员人数")), ("participants", _("参与服务人数")), ("hours", _("服务时长"))):
        rows_sum = sum((getattr(row, name) for row in league), ZERO if name == "hours" else 0)
        if rows_sum != getattr(totals, name):
            differences.append((_("%(figure)s（各行之和）") % {"figure": label}, getattr(totals, name), rows_sum))
    for name, label in (("wishes_fulfilled", _("党员实现微心愿")), ("points", _("获得积分"))):
        rows_sum = sum(getattr(row, name) for row in league)
        if rows_sum != getattr(totals, name):
            differences.append((_("%(figure)s（各行之和）") % {"figure": label}, getattr(totals, name), rows_sum))
    window = Period(period.end - timedelta(days=ACTIVE_WINDOW_DAYS - 1), period.end)
    if summary_ready(_summary_years(period, window)):
        from_summary = _totals(_figures_by_child(organization, period, summary=True))
        for name, lazy_label in _CHECKED_FIGURES:
            if getattr(from_summary, name) != getattr(totals, name):
                differences.append(
                    (
                        _("%(figure)s（年度汇总）") % {"figure": lazy_label},
                        getattr(totals, name),
                        getattr(from_summary, name),
                    )
                )
    return differences


def figures_changed_since(moment: datetime) -> bool:
    """Whether anything the dashboard counts — a member, a service record, a ledger entry, a wish — was written
    after `moment` (a snapshot that differs from the figures computed now is then only older, not wrong). Writes
    made with `QuerySet.update()` leave no trace here, so they count as no change: a difference is reported."""
    return (
        Member.objects.filter(updated_at__gt=moment).exists()
        or ServiceRecord.objects.filter(updated_at__gt=moment).exists()
        or LedgerEntry.objects.filter(created_at__gt=moment).exists()
        or MicroWish.objects.filter(updated_at__gt=moment).exists()
    )


def dashboard_differences(now: Dashboard, stored: Dashboard) -> list[tuple[str | Promise, object, object]]:
    """(figure, computed now, in the stored snapshot) for each headline and league figure that differs."""
    differences: list[tuple[str | Promise, object, object]] = [
        (label, getattr(now.members, name), getattr(stored.members, name))
        for name, label in _CHECKED_FIGURES
        if getattr(now.members, name) != getattr(stored.members, name)
    ]
    stored_rows = {row.organization.pk: row for row in stored.league}
    for row in now.league:
        old = stored_rows.get(row.organization.pk)
        for name, label in (
            ("hours", _("服务时长")),
            ("wishes_fulfilled", _("党员实现微心愿")),
            ("points", _("获得积分")),
        ):
            if old is None or getattr(old, name) != getattr(row, name):
                figure = f"{row.organization.name} {label}"
                differences.append((figure, getattr(row, name), getattr(old, name) if old else None))
    return differences


# --- Landings: what waits for a member on /me/, and for a secretary on the 工作台 -----------------------------------

NEXT_ACTIVITIES = 5  # the member's next activities listed on /me/; the rest are on 我的活动


@dataclass(frozen=True)
class ClaimDue:
    wish: MicroWish
    overdue: bool  # claimed CLAIM_REMINDER_DAYS ago or more: the reminder has gone out


@dataclass(frozen=True)
class NextActions:
    """What a member does next, for the top of /me/ (portal_views.me): each part links onward."""

    activities: list[SignUp]  # the first NEXT_ACTIVITIES upcoming sign-ups, confirmed or waitlisted
    more_activities: int
    claims: list[ClaimDue]  # wishes claimed and not yet reported fulfilled, oldest claim first
    offers_waiting: list[MicroWish]  # wishes addressed to the member's offers, waiting for their answer
    unread: int
    balance: PointsBalance
    changes_at: datetime | None  # when the clock alone changes this (the first listed activity starts)


def next_actions(member: Member, user: User, now: datetime | None = None) -> NextActions:
    """The member's next actions: upcoming activities, claimed wishes to fulfil and residents' orders to answer,
    unread messages, the points balance. Four queries, whatever the number of rows."""
    now = now or timezone.now()
    upcoming = project_selectors.my_upcoming(member)
    waiting = list(demand_selectors.wishes_awaiting(member))
    remind_before = now - timedelta(days=CLAIM_REMINDER_DAYS)
    claims = [
        ClaimDue(wish=wish, overdue=wish.claimed_at is not None and wish.claimed_at <= remind_before)
        for wish in waiting
        if wish.state == MicroWish.State.CLAIMED
    ]
    listed = upcoming[:NEXT_ACTIVITIES]
    return NextActions(
        activities=listed,
        more_activities=len(upcoming) - len(listed),
        claims=claims,
        offers_waiting=[wish for wish in waiting if wish.state == MicroWish.State.PUBLISHED],
        unread=unread_count(user),
        balance=balance_of(member),
        changes_at=min((signup.activity.starts_at for signup in listed), default=None),
    )


# The version of every secretary's 需要您处理: dropped (receivers.py) when a row of a queue it counts is written, so a
# dashboard page kept whole per person (core/member_cache.py) never shows an old count.
WORK_WAITING_VERSION_KEY = "site:dashboard:work-waiting-version"
# The wish review tabs 需要您处理 counts (待核实, 待确认服务); receivers.py keeps the kept pages through the wish
# states none of them reads.
WORK_WAITING_WISH_TABS = ("submitted", "confirm")


@dataclass(frozen=True)
class WaitingWork:
    """One queue on the 工作台's 需要您处理: how many rows wait in it for `user`, and the address of the queue,
    which shows exactly those rows."""

    key: str
    label: str
    count: int
    url: str


def work_waiting(user: User, now: datetime | None = None) -> tuple[list[WaitingWork], datetime | None]:
    """What waits for a secretary across their scope (members.selectors.scoped, through each app's `visible_*`
    selector, as its queue does), and when the clock alone will change it (an activity's end makes its attendance
    due). Six queries."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    wishes = demand_selectors.review_counts(user, tabs=WORK_WAITING_WISH_TABS)
    attendance, next_end = project_selectors.attendance_due_summary(user, now)
    review = reverse("demands:review")
    rows = [
        WaitingWork("wishes-to-verify", _("待核实的微心愿"), wishes["submitted"], f"{review}?tab=submitted"),
        WaitingWork(
            "attendance-due",
            _("待确认考勤的活动"),
            attendance,
            reverse("admin:projects_activity_changelist") + "?attendance=due",
        ),
        WaitingWork(
            "self-reports",
            _("待审核的自主申报"),
            project_selectors.visible_self_reports(user).filter(status=SelfReport.Status.PENDING).count(),
            reverse("admin:projects_selfreport_changelist") + "?status__exact=pending",
        ),
        WaitingWork(
            "objections",
            _("待答复的星级异议"),
            visible_objections(user).filter(outcome=Objection.Outcome.PENDING).count(),
            reverse("admin:incentives_objection_changelist") + "?outcome__exact=pending",
        ),
        WaitingWork(
            "overdue-tasks",
            _("已逾期的任务"),
            tasks_overdue(visible_tasks(user), today).count(),
            reverse("admin:volunteer_platform_task_changelist") + "?overdue=yes",
        ),
        WaitingWork("wishes-to-confirm", _("待确认服务的微心愿"), wishes["confirm"], f"{review}?tab=confirm"),
        WaitingWork(
            "residence",
            _("待确认的双报到"),
            residence_confirmation_queue(user).count(),
            reverse("members:residence_queue"),
        ),
    ]
    return rows, next_end


def tasks_overdue(qs: QuerySet[Task], today: date | None = None) -> QuerySet[Task]:
    """The open tasks of `qs` past their due date (the 工作台's count and the admin's 已逾期 filter)."""
    return qs.filter(status__in=Task.OPEN_STATUSES, due_on__lt=today or timezone.localdate())


# --- Second factor ----------------------------------------------------------------------------------------------


def second_factor_required(user: User) -> bool:
    """Whether the account must have a second factor: a platform admin while SECOND_FACTOR_FOR_ADMINS is on."""
    return bool(user.is_superuser and settings.SECOND_FACTOR_FOR_ADMINS)


def second_factor_devices(user: User) -> tuple[TOTPDevice | None, StaticDevice | None]:
    """The account's confirmed TOTP device and its recovery codes' device (django-otp), each or None."""
    totp = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    static = StaticDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    return totp, static


def second_factor_owed(user: User) -> str:
    """What the account owes at sign-in: "verify" (it has a second factor), "setup" (one is required and it has
    none: `second_factor_required`) or "" (nothing). One query."""
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return "verify"
    return "setup" if second_factor_required(user) else ""

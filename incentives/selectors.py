"""Reads of the incentives app: what the member pages, the admin and the public exemplars page show.

Scope follows `members.selectors`: a platform admin sees everything, a secretary the subtrees they manage, and
everyone else nothing. Querysets carry the joins their pages need, so a list costs the same whatever its length.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Substr
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.text import plain_decimal
from core.types import Viewer
from members.models import Member, Organization, ServiceRecord
from members.selectors import counted_records, hours_by_member, scoped, sees_nothing, visible_organizations

from .models import (
    DEFAULT_HOURS_THRESHOLDS,
    DEFAULT_PUBLICITY_DAYS,
    CatalogueItem,
    Commendation,
    IncentiveProfile,
    LedgerEntry,
    Objection,
    PointsBalance,
    RatingRun,
    Redemption,
    Rule,
    StarBasis,
    StarRating,
    StarScheme,
)

LEADERBOARD_SIZE = 50


def ancestor_ids(organization: Organization) -> list[int]:
    """The ids on an organization's path, from the root down to itself (read from `path`, no query)."""
    return [int(part) for part in organization.path.split(".") if part]


def _local_range(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in the site's time zone."""
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end, time.min, tzinfo=tz) + timedelta(days=1),
    )


# --- Ledger -----------------------------------------------------------------------------------------------------


def balance_of(member: Member) -> PointsBalance:
    """The member's balance row, or an unsaved zero balance when nothing was ever written."""
    return PointsBalance.objects.filter(member=member).first() or PointsBalance(member=member)


def entries_for(member: Member) -> QuerySet[LedgerEntry]:
    """A member's statement, newest first, with what each entry's line (`entry_text`) shows."""
    return LedgerEntry.objects.filter(member=member).select_related(
        "rule", "redemption__item", "reverses__rule", "reverses__redemption__item"
    )


# Ratings awarded before their entries carried the wish's title were noted "居民评价5星", which says nothing more.
_OLD_RATING_NOTE = re.compile(r"^居民评价\d+星$")


def _rule_phrase(entry: LedgerEntry) -> str:
    """What an entry's rule counts, with its quantity: 志愿服务 2 小时, 参加培训 3 学时, 居民评价 5 星."""
    code = entry.rule.code if entry.rule is not None else ""
    amount = plain_decimal(entry.quantity)
    if code == Rule.Code.SERVICE_HOUR:
        return _("志愿服务 %(hours)s 小时") % {"hours": amount}
    if code == Rule.Code.TRAINING_HOUR:
        return _("参加培训 %(hours)s 学时") % {"hours": amount}
    if code == Rule.Code.RESIDENT_RATING:
        return _("居民评价 %(stars)s 星") % {"stars": amount}
    if code == Rule.Code.WISH_FULFILLED:
        return _("实现微心愿")
    if code == Rule.Code.COMMENDATION:
        return _("获得表彰")
    return entry.rule.get_code_display() if entry.rule is not None else _("奖励")


def _award_text(entry: LedgerEntry) -> str:
    code = entry.rule.code if entry.rule is not None else ""
    text = _rule_phrase(entry)
    if entry.multiplier != 1:
        text += _("（负责人 ×%(times)s）") % {"times": plain_decimal(entry.multiplier)}
    note = entry.note
    if not note or (code == Rule.Code.RESIDENT_RATING and _OLD_RATING_NOTE.match(note)):
        return text
    if code == Rule.Code.WISH_FULFILLED:
        return _("%(what)s《%(title)s》") % {"what": text, "title": note}
    if code == Rule.Code.RESIDENT_RATING:
        return _("%(what)s：心愿《%(title)s》") % {"what": text, "title": note}
    return _("%(what)s：%(note)s") % {"what": text, "note": note}


def entry_text(entry: LedgerEntry) -> str:
    """One line of a member's points history, as a person reads it (what happened, and to what) — the one place
    that writes it: 志愿服务 2 小时：为空巢老人打扫卫生 · 居民评价 5 星：心愿《修理水龙头》 · 兑换“理发” ·
    退还积分：取消兑换“理发”. Reads `rule`, `redemption__item` and `reverses` (entries_for joins them)."""
    kind = entry.kind
    if kind == LedgerEntry.Kind.AWARD:
        return _award_text(entry)
    if kind == LedgerEntry.Kind.SPEND:
        redemption = getattr(entry, "redemption", None)
        if redemption is not None:
            return _("兑换“%(item)s”") % {"item": redemption.item.display_name}
        return _("使用积分：%(note)s") % {"note": entry.note} if entry.note else _("使用积分")
    if kind == LedgerEntry.Kind.REVERSAL:
        original = entry.reverses
        if original is not None and original.kind == LedgerEntry.Kind.SPEND:
            redemption = getattr(original, "redemption", None)
            item = redemption.item.display_name if redemption is not None else original.note
            return _("退还积分：取消兑换“%(item)s”") % {"item": item}
        reason = _("（%(reason)s）") % {"reason": entry.note} if entry.note else ""
        what = entry_text(original) if original is not None else ""
        return (_("冲正：%(what)s") % {"what": what} if what else _("冲正")) + reason
    if kind == LedgerEntry.Kind.CORRECTION:  # the source's quantity changed: the entry holds the new one
        return _("更正为：%(what)s") % {"what": _rule_phrase(entry)}
    if kind == LedgerEntry.Kind.RECOVERY:
        return _("追回：%(note)s") % {"note": entry.note}
    return _("手工调整：%(note)s") % {"note": entry.note}


def earned_between(member_ids: Iterable[int], start: date, end: date) -> dict[int, int]:
    """Points earned (awards and adjustments, net of their reversals; never spending) per member in [start, end]."""
    since, until = _local_range(start, end)
    rows = (
        LedgerEntry.objects.filter(member_id__in=member_ids, created_at__gte=since, created_at__lt=until)
        .values("member_id")
        .annotate(total=Sum("earned_points"))
    )
    return {row["member_id"]: row["total"] or 0 for row in rows}


def commendations_awarded(organization: Organization, start: date, end: date) -> QuerySet[Commendation]:
    """表彰先进: the approved commendations awarded in [start, end] to the members homed in `organization`'s subtree
    (by their branch now, like their hours), oldest first, with the member (the quarterly and annual reports)."""
    return (
        Commendation.objects.filter(
            status=Commendation.Status.APPROVED,
            awarded_on__gte=start,
            awarded_on__lte=end,
            member__organization__path__startswith=organization.path,
        )
        .select_related("member__organization")
        .order_by("awarded_on", "pk")
    )


def earned_by_path_prefix(organization: Organization, start: date, end: date, *, prefix_length: int) -> dict[str, int]:
    """`earned_between` grouped by branch: points earned in [start, end] by the members homed in `organization`'s
    subtree (whatever their status), keyed by the first `prefix_length` characters of their home branch's path
    (the dashboard groups by the organization's child). One query."""
    since, until = _local_range(start, end)
    rows = (
        LedgerEntry.objects.filter(
            member__organization__path__startswith=organization.path, created_at__gte=since, created_at__lt=until
        )
        .annotate(prefix=Substr("member__organization__path", 1, prefix_length))
        .values("prefix")
        .annotate(total=Sum("earned_points"))
        .order_by()
        .values_list("prefix", "total")
    )
    return {prefix: total or 0 for prefix, total in rows}


# --- What earns points: the rule table -----------------------------------------------------------------------------
# Points are a function of the records, by these rules (Rule rows; a platform admin edits their numbers):
#
#   source                                   rule             quantity            due when
#   service record, any source (activity,    service_hour     its hours           it counts (verified or corrected);
#     wish, pairing visit, self-report,                       × leader multiplier  a void is due 0
#     secretary's entry, import)                               for 现场负责人
#   training record                          training_hour    its hours           always
#   wish whose service was confirmed         wish_fulfilled   1                   the service is confirmed
#   the resident's rating of that wish       resident_rating  the stars           rated, ≥ the rule's minimum (4)
#   approved commendation                    commendation     1                   approved
#
#   points = min(round_half_up(rule points × quantity × multiplier), the rule's cap per source)
#
# The rule's numbers are those of the source's first award (kept on the entry): a later change of a rule leaves what
# was awarded, and a correction of the same source is computed on the same terms. Without an award yet, today's rule
# applies (an inactive rule gives nothing). `services.points_source_sync` writes the difference between what a source
# is due and what its entries hold; `manage.py reconcile` checks every source.

RECORD_RULE = Rule.Code.SERVICE_HOUR


@dataclass(frozen=True)
class PointsSource:
    """One thing that earns points under one rule."""

    member_id: int
    rule: str
    ref: str  # the source_ref of its entries
    first_key: str  # the idempotency key of its first award
    quantity: Decimal
    counted: bool  # False: it earns nothing (any points it had are reversed)
    note: str
    multiplier: Decimal = Decimal(1)  # for a first award
    legacy_refs: tuple[str, ...] = ()  # other source_refs its entries were written under before
    stop_reason: str = ""  # why it stopped counting, for the reversal's note
    label: str = ""  # how a person recognises it ("service record #12 2026-07-30")

    @property
    def refs(self) -> tuple[str, ...]:
        return (self.ref, *self.legacy_refs)


@dataclass(frozen=True)
class AwardTerms:
    """The numbers a source's points are computed with."""

    points: int  # per unit; 0 when the rule was inactive
    cap: int | None
    multiplier: Decimal
    min_quantity: Decimal | None = None


def award_terms(rule: Rule, first_award: LedgerEntry | None, *, multiplier: Decimal = Decimal(1)) -> AwardTerms:
    """The terms of a source: those its first award was written on, else the rule's today."""
    if first_award is not None and first_award.rule_points is not None:
        return AwardTerms(first_award.rule_points, first_award.rule_cap, first_award.multiplier, rule.min_quantity)
    if first_award is not None:  # written before the terms were kept: today's numbers, its multiplier
        return AwardTerms(rule.points, rule.cap_per_source, first_award.multiplier, rule.min_quantity)
    return AwardTerms(rule.points if rule.active else 0, rule.cap_per_source, multiplier, rule.min_quantity)


def points_due(*, quantity: Decimal, counted: bool, terms: AwardTerms) -> int:
    """What a source is due on `terms`: the rule table above."""
    if not counted or terms.points <= 0:
        return 0
    if terms.min_quantity is not None and quantity < terms.min_quantity:
        return 0
    points = int((Decimal(terms.points) * Decimal(quantity) * terms.multiplier).quantize(Decimal(1), ROUND_HALF_UP))
    return max(min(points, terms.cap) if terms.cap is not None else points, 0)


def source_entries(source: PointsSource) -> QuerySet[LedgerEntry]:
    """The ledger entries of one source (awards, corrections, reversals), oldest first."""
    return LedgerEntry.objects.filter(
        member_id=source.member_id, rule__code=source.rule, source_ref__in=source.refs
    ).order_by("pk")


def record_source_ref(record_id: int) -> str:
    """The `source_ref` of the ledger entries of one service record."""
    return f"record:{record_id}"


# Before every record's points were written by points_source_sync, the attendance sheet and the self-report
# approval wrote them under the record's own source_ref ("activity:12", "self-report:3"); those entries are the
# record's too, so a database from then is neither awarded twice nor reported.
LEGACY_RECORD_SOURCES = (ServiceRecord.Source.ACTIVITY, ServiceRecord.Source.SELF_REPORT)


def record_points_source(record: ServiceRecord, *, leader_multiplier: Decimal) -> PointsSource:
    """The service record as a source of `service_hour` points; `leader_multiplier`: the rule's, today."""
    legacy = (record.source_ref,) if record.source in LEGACY_RECORD_SOURCES and record.source_ref else ()
    ref = record_source_ref(record.pk)
    return PointsSource(
        member_id=record.member_id,
        rule=RECORD_RULE,
        ref=ref,
        first_key=f"{ref}:hours",
        quantity=record.hours,
        # Records from elsewhere (national system, other platforms) earned their points, if any, where they were kept.
        counted=record.is_counted and record.source != ServiceRecord.Source.EXTERNAL,
        note=record.content[:200],
        multiplier=leader_multiplier if record.role == ServiceRecord.Role.LEADER else Decimal(1),
        legacy_refs=legacy,
        stop_reason=record.void_reason,
        label=f"#{record.pk} {record.date.isoformat()} {record.hours}h",
    )


def commendation_points_source(commendation: Commendation) -> PointsSource:
    ref = f"commendation:{commendation.pk}"
    return PointsSource(
        member_id=commendation.member_id,
        rule=Rule.Code.COMMENDATION,
        ref=ref,
        first_key=ref,
        quantity=Decimal(1),
        counted=commendation.status == Commendation.Status.APPROVED,
        note=commendation.title[:200],
        label=commendation.title[:60],
    )


# --- Star ratings: the value a member is rated on ------------------------------------------------------------------


def rating_values(member_ids: Iterable[int], *, basis: str, period_start: date, period_end: date) -> dict[int, Decimal]:
    """{member id: the value a rating of the period rates} — counted service hours up to the end of the period
    (累计服务时长, the same figure /me/records/ shows up to that date) or the points earned in the period (年度获得积分;
    spending never lowers it). Members with nothing are absent. One query."""
    ids = list(member_ids)
    if not ids:
        return {}
    if basis == StarBasis.HOURS:
        return {k: Decimal(v).quantize(Decimal("0.01")) for k, v in hours_by_member(ids, end=period_end).items()}
    return {k: Decimal(v).quantize(Decimal("0.01")) for k, v in earned_between(ids, period_start, period_end).items()}


def ledger_sums(member_ids: Iterable[int]) -> dict[int, tuple[int, int, int]]:
    """{member id: (Σ points, Σ earned points, points spent net of refunds)} of the members' ledgers; one query.
    What the cached balance row must hold: balance = Σ points, earned_total = Σ earned, and the points owed
    (debt) = balance − earned + spent (services._append: balance = earned − spent + debt)."""
    refund = Q(kind=LedgerEntry.Kind.REVERSAL, reverses__kind=LedgerEntry.Kind.SPEND)
    rows = (
        LedgerEntry.objects.filter(member_id__in=member_ids)
        .values("member_id")
        .annotate(
            sum_points=Sum("points"),
            sum_earned=Sum("earned_points"),
            sum_spent=Sum("points", filter=Q(kind=LedgerEntry.Kind.SPEND)),
            sum_refunded=Sum("points", filter=refund),
        )
        .order_by()
    )
    return {
        r["member_id"]: (r["sum_points"] or 0, r["sum_earned"] or 0, -(r["sum_spent"] or 0) - (r["sum_refunded"] or 0))
        for r in rows
    }


def visible_ledger_entries(user: Viewer, *, queryset: QuerySet[LedgerEntry] | None = None) -> QuerySet[LedgerEntry]:
    return scoped(LedgerEntry.objects.all() if queryset is None else queryset, user, "member__organization")


def visible_balances(user: Viewer, *, queryset: QuerySet[PointsBalance] | None = None) -> QuerySet[PointsBalance]:
    return scoped(PointsBalance.objects.all() if queryset is None else queryset, user, "member__organization")


def leaderboard(organization: Organization, *, year: int) -> list[dict]:
    """Members of `organization`'s subtree ranked by points earned in `year`, without those who opted out.

    Rows: {rank, member_id, name, show_full_name_publicly, points}; one query.
    """
    since, until = _local_range(date(year, 1, 1), date(year, 12, 31))
    opted_out = IncentiveProfile.objects.filter(member_id=OuterRef("member_id"), leaderboard_opt_out=True)
    rows = (
        LedgerEntry.objects.filter(
            member__organization__path__startswith=organization.path,
            member__status=Member.Status.ACTIVE,
            created_at__gte=since,
            created_at__lt=until,
        )
        .filter(~Exists(opted_out))
        .values("member_id", "member__name", "member__show_full_name_publicly")
        .annotate(points=Sum("earned_points"))
        .filter(points__gt=0)
        .order_by("-points", "member_id")[:LEADERBOARD_SIZE]
    )
    return [
        {
            "rank": rank,
            "member_id": row["member_id"],
            "name": row["member__name"],
            "show_full_name_publicly": row["member__show_full_name_publicly"],
            "points": row["points"],
        }
        for rank, row in enumerate(rows, start=1)
    ]


def leaderboard_opted_out(member: Member) -> bool:
    return IncentiveProfile.objects.filter(member=member, leaderboard_opt_out=True).exists()


# --- Catalogue and redemption -----------------------------------------------------------------------------------


def catalogue_for(member: Member) -> QuerySet[CatalogueItem]:
    """Items on offer to the member (active, for the whole platform or an organization on their branch's path, not
    closed), each with `taken`: how many of it the member holds (not cancelled)."""
    now = timezone.now()
    return (
        CatalogueItem.objects.filter(active=True)
        .filter(Q(organization__isnull=True) | Q(organization_id__in=ancestor_ids(member.organization)))
        .filter(Q(closes_at__isnull=True) | Q(closes_at__gt=now))
        .annotate(
            taken=Count(
                "redemptions",
                filter=Q(redemptions__member=member) & ~Q(redemptions__status=Redemption.Status.CANCELLED),
            )
        )
        .order_by("points_cost", "name")
    )


def redeem_blocker(item: CatalogueItem, *, now: datetime, balance: int, stars: int) -> str:
    """Why the member cannot redeem `item` (from `catalogue_for`) now, or '' when they can; the catalogue shows it
    on the button. `redemption_request` checks again under its locks."""
    if item.opens_at and item.opens_at > now:
        return _("尚未开始")
    if item.stock <= 0:
        return _("已兑完")
    if item.per_member_limit is not None and item.taken >= item.per_member_limit:  # type: ignore[attr-defined]  # catalogue_for's annotation
        return _("已达兑换上限")
    if stars < item.min_star_level:
        return _("需要 %(n)d 星") % {"n": item.min_star_level}
    if balance < item.points_cost:
        return _("积分不足")
    return ""


def redemptions_for(member: Member) -> QuerySet[Redemption]:
    return Redemption.objects.filter(member=member).select_related("item")


def open_redemptions_for(member: Member) -> QuerySet[Redemption]:
    """Requested or approved (waiting to be collected), oldest first."""
    return redemptions_for(member).filter(status__in=Redemption.OPEN_STATUSES).order_by("requested_at", "pk")


def visible_catalogue_items(
    user: Viewer, *, queryset: QuerySet[CatalogueItem] | None = None
) -> QuerySet[CatalogueItem]:
    """Items of organizations in scope, and the platform-wide ones (which only a platform admin changes)."""
    qs = CatalogueItem.objects.all() if queryset is None else queryset
    if sees_nothing(user):
        return qs.none()
    if user.is_superuser:
        return qs
    return qs.filter(Q(organization__isnull=True) | Q(organization__in=visible_organizations(user)))


def visible_redemptions(user: Viewer, *, queryset: QuerySet[Redemption] | None = None) -> QuerySet[Redemption]:
    return scoped(Redemption.objects.all() if queryset is None else queryset, user, "member__organization")


# --- Star ratings -----------------------------------------------------------------------------------------------


def _scheme_values(scheme: StarScheme | None) -> tuple[str, list, int]:
    if scheme is None:
        return StarBasis.HOURS, list(DEFAULT_HOURS_THRESHOLDS), DEFAULT_PUBLICITY_DAYS
    return scheme.basis, list(scheme.thresholds), scheme.publicity_days


def scheme_for_organization(organization: Organization) -> tuple[str, list, int]:
    """(basis, thresholds, publicity days) of the nearest scheme up the organization's path, or the default."""
    schemes = {s.organization_id: s for s in StarScheme.objects.filter(organization_id__in=ancestor_ids(organization))}
    for organization_id in reversed(ancestor_ids(organization)):
        if organization_id in schemes:
            return _scheme_values(schemes[organization_id])
    return _scheme_values(None)


def schemes_for_members(members: list[Member]) -> dict[int, tuple[str, list]]:
    """{member id: (basis, thresholds)} by the nearest scheme up each member's branch path; one query."""
    ids = {i for member in members for i in ancestor_ids(member.organization)}
    schemes = {s.organization_id: s for s in StarScheme.objects.filter(organization_id__in=ids)}
    result = {}
    for member in members:
        chosen = None
        for organization_id in reversed(ancestor_ids(member.organization)):
            if organization_id in schemes:
                chosen = schemes[organization_id]
                break
        basis, thresholds, _days = _scheme_values(chosen)
        result[member.pk] = (basis, thresholds)
    return result


def current_rating(member: Member) -> StarRating | None:
    """The member's latest final rating (by the end of its period), or None."""
    return (
        StarRating.objects.filter(member=member, status=StarRating.Status.FINAL)
        .select_related("run__organization")
        .order_by("-run__period_end", "-run__finalized_at", "-pk")
        .first()
    )


def current_stars(member: Member) -> int:
    """The stars of the member's latest final rating; 0 when never rated. For profiles, certificates, benefits."""
    rating = current_rating(member)
    return rating.stars if rating else 0


@dataclass(frozen=True)
class StarStanding:
    """What every page and the certificate say of a member's stars: the current stars are those of the latest
    final rating; a rating in its 公示 is shown beside them as 公示中, never as the current stars."""

    current: StarRating | None
    publicity: StarRating | None  # the newest rating whose run is in its 公示

    @property
    def stars(self) -> int:
        return self.current.stars if self.current else 0

    @property
    def publicity_url(self) -> str:
        """The 公示 list of the rating in its 公示 (the members app's pages link it without knowing this app)."""
        return reverse("incentives:publicity", args=[self.publicity.run_id]) if self.publicity else ""


def star_standing_of(ratings: Iterable[StarRating]) -> StarStanding:
    """The standing read off a member's ratings as `ratings_for` orders them (newest period first)."""
    ratings = list(ratings)
    return StarStanding(
        current=next((r for r in ratings if r.status == StarRating.Status.FINAL), None),
        publicity=next((r for r in ratings if r.status == StarRating.Status.PUBLICITY), None),
    )


def star_standing(member: Member) -> StarStanding:
    """The member's standing, for /me/ and the certificate (the site's portal views ask); one query."""
    return star_standing_of(ratings_for(member, with_objections=False))


def rating_live_values(member: Member, ratings: Iterable[StarRating]) -> dict[int, Decimal]:
    """{rating id: the value the records and the ledger give for its period now} — what a final rating is compared
    with on the member's page. At most two aggregate queries, whatever the number of ratings."""
    ratings = list(ratings)
    values: dict[int, Decimal] = {}
    hours = [r for r in ratings if r.basis == StarBasis.HOURS]
    if hours:
        ends = sorted({r.run.period_end for r in hours})
        sums = (
            counted_records()
            .filter(member=member)
            .aggregate(**{f"h{i}": Sum("hours", filter=Q(date__lte=end)) for i, end in enumerate(ends)})
        )
        by_end = {end: Decimal(sums[f"h{i}"] or 0).quantize(Decimal("0.01")) for i, end in enumerate(ends)}
        values.update({r.pk: by_end[r.run.period_end] for r in hours})
    points = [r for r in ratings if r.basis == StarBasis.POINTS]
    if points:
        periods = sorted({(r.run.period_start, r.run.period_end) for r in points})
        sums = LedgerEntry.objects.filter(member=member).aggregate(
            **{
                f"p{i}": Sum("earned_points", filter=Q(created_at__gte=since, created_at__lt=until))
                for i, (since, until) in enumerate(_local_range(*period) for period in periods)
            }
        )
        by_period = {p: Decimal(sums[f"p{i}"] or 0).quantize(Decimal("0.01")) for i, p in enumerate(periods)}
        values.update({r.pk: by_period[(r.run.period_start, r.run.period_end)] for r in points})
    return values


PUBLICITY_PAGE_SIZE = 50


def publicity_run(user: Viewer, member: Member | None, run_id: int) -> RatingRun | None:
    """The rating run whose 公示 list `user` may open: a member of the rated organization's subtree (its 公示 or
    its final result), or a secretary whose scope includes the organization (any state). None otherwise."""
    try:
        pk = int(run_id)
    except (TypeError, ValueError):
        return None
    run = RatingRun.objects.select_related("organization").filter(pk=pk).first()
    if run is None:
        return None
    if visible_rating_runs(user).filter(pk=run.pk).exists():
        return run
    if (
        member is not None
        and member.status == Member.Status.ACTIVE
        and member.organization.path.startswith(run.organization.path)
        and run.status != RatingRun.Status.DRAFT
    ):
        return run
    return None


def publicity_list(run: RatingRun) -> QuerySet[StarRating]:
    """The ratings of a run as its 公示 lists them: most stars first, then by name; with each member's name and
    consent to be named (one query per page)."""
    return (
        StarRating.objects.filter(run=run)
        .select_related("member")
        .only(
            "stars",
            "computed_stars",
            "basis",
            "basis_value",
            "status",
            "member_id",
            "member__name",
            "member__show_full_name_publicly",
        )
        .order_by("-stars", "member__name", "pk")
    )


def own_rating(run: RatingRun, member: Member) -> StarRating | None:
    """`member`'s rating in `run` with its objections (two queries), or None."""
    return (
        StarRating.objects.filter(run=run, member=member).select_related("run").prefetch_related("objections").first()
    )


def can_object(rating: StarRating, today: date) -> bool:
    """A member objects to their own rating during its 公示, one objection waiting at a time (the rating's
    objections prefetched, as `ratings_for` and `own_rating` give them)."""
    return (
        rating.status == StarRating.Status.PUBLICITY
        and rating.run.publicity_ends_on is not None
        and today <= rating.run.publicity_ends_on
        and not any(o.outcome == o.Outcome.PENDING for o in rating.objections.all())
    )


def ratings_for(member: Member, *, with_objections: bool = True) -> QuerySet[StarRating]:
    """A member's published and final ratings, newest period first, with their objections (two queries)."""
    qs = (
        StarRating.objects.filter(member=member)
        .exclude(status=StarRating.Status.DRAFT)
        .select_related("run__organization")
        .order_by("-run__period_end", "-run__finalized_at", "-pk")
    )
    return qs.prefetch_related("objections") if with_objections else qs


def visible_schemes(user: Viewer, *, queryset: QuerySet[StarScheme] | None = None) -> QuerySet[StarScheme]:
    return scoped(StarScheme.objects.all() if queryset is None else queryset, user, "organization")


def visible_rating_runs(user: Viewer, *, queryset: QuerySet[RatingRun] | None = None) -> QuerySet[RatingRun]:
    return scoped(RatingRun.objects.all() if queryset is None else queryset, user, "organization")


def visible_ratings(user: Viewer, *, queryset: QuerySet[StarRating] | None = None) -> QuerySet[StarRating]:
    return scoped(StarRating.objects.all() if queryset is None else queryset, user, "run__organization")


def visible_objections(user: Viewer, *, queryset: QuerySet[Objection] | None = None) -> QuerySet[Objection]:
    return scoped(Objection.objects.all() if queryset is None else queryset, user, "rating__run__organization")


# --- Commendations ----------------------------------------------------------------------------------------------


def exemplars() -> QuerySet[Commendation]:
    """The public exemplars page: approved, published commendations whose member consented, newest first."""
    return (
        Commendation.objects.filter(
            status=Commendation.Status.APPROVED, published=True, member_consented_at__isnull=False
        )
        .select_related("member", "organization")
        .order_by("-awarded_on", "-pk")
    )


def commendations_for(member: Member) -> QuerySet[Commendation]:
    """A member's approved commendations (where they choose whether to be shown publicly)."""
    return Commendation.objects.filter(member=member, status=Commendation.Status.APPROVED).order_by(
        "-awarded_on", "-pk"
    )


def visible_commendations(user: Viewer, *, queryset: QuerySet[Commendation] | None = None) -> QuerySet[Commendation]:
    """Seen by the nominating organization's side and by every organization above it (which approves)."""
    qs = Commendation.objects.all() if queryset is None else queryset
    return scoped(qs, user, "organization", "member__organization")


# --- Scheduled notices (incentives/tasks.py) --------------------------------------------------------------------


def ratings_on_last_publicity_day(today: date) -> QuerySet[StarRating]:
    """Ratings of active members in a run whose 公示 ends `today` (objections are accepted until the end of it)."""
    return StarRating.objects.filter(
        run__status=RatingRun.Status.PUBLICITY, run__publicity_ends_on=today, member__status=Member.Status.ACTIVE
    )


def runs_past_publicity(today: date) -> QuerySet[RatingRun]:
    """Runs still in 公示 whose publicity has ended before `today` — ready to be finalized once every objection is
    answered — with their organization and `pending_objections`."""
    return (
        RatingRun.objects.filter(status=RatingRun.Status.PUBLICITY, publicity_ends_on__lt=today)
        .select_related("organization")
        .annotate(
            pending_objections=Count(
                "ratings__objections", filter=Q(ratings__objections__outcome=Objection.Outcome.PENDING)
            )
        )
        .order_by("pk")
    )

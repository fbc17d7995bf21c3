"""Reconciliation of the incentives app (`manage.py reconcile`; members/reconcile.py says how the checks fit).

- Each cached balance (PointsBalance) against the sum of its ledger.
- Each source of points (selectors, "What earns points") against the entries it earned: the sources come from the
  apps that own them (records and commendations here, training records and wishes from the apps above, composed
  by the site), and an entry of a sourced rule that belongs to no source is reported too.
- Each star rating against the records: one not yet final must hold the value the records give now; a final one
  its own stars, and it is reported (for a person to decide) when the records changed after it was final.

Repairs go through the services and never edit the ledger: missing, correcting or reversing entries
(`services.points_source_sync`, `services.ledger_entries_reverse`), the balance cache recomputed from the ledger
(`services.balance_recompute`), a rating not yet final recomputed (`services.member_ratings_refresh`).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import partial

from django.db.models import Count, Min, Q, Sum
from django.utils.translation import gettext as _

from members.models import Member, ServiceRecord
from members.reconcile import Disagreement, member_label

from . import selectors, services
from .models import Commendation, LedgerEntry, PointsBalance, Rule, StarRating

# Rules whose every entry belongs to a source (manual adjustments and spending are not sourced).
SOURCED_RULES = (
    Rule.Code.SERVICE_HOUR,
    Rule.Code.TRAINING_HOUR,
    Rule.Code.WISH_FULFILLED,
    Rule.Code.RESIDENT_RATING,
    Rule.Code.COMMENDATION,
)


# --- Balances ---------------------------------------------------------------------------------------------------


def balance_disagreements(member_ids: Sequence[int], members: dict[int, Member]) -> list[Disagreement]:
    """Each member's cached balance, earned total and points owed against the sums of their ledger (two queries)."""
    sums = {
        member_id: (points, earned, points - earned + spent)
        for member_id, (points, earned, spent) in selectors.ledger_sums(member_ids).items()
    }
    cached = {
        b.member_id: (b.balance, b.earned_total, b.debt) for b in PointsBalance.objects.filter(member_id__in=member_ids)
    }
    found = []
    text = _("余额 %(balance)d 分，累计获得 %(earned)d 分，待追回 %(debt)d 分")
    for member_id in sorted(set(sums) | set(cached)):
        want, have = sums.get(member_id, (0, 0, 0)), cached.get(member_id, (0, 0, 0))
        if want == have:
            continue
        found.append(
            Disagreement(
                check="balance",
                subject=_("%(member)s 的积分余额") % {"member": member_label(members[member_id])},
                expected=text % dict(zip(("balance", "earned", "debt"), want, strict=True)),
                found=text % dict(zip(("balance", "earned", "debt"), have, strict=True)),
                cause=_("缓存的余额与积分明细合计不一致（余额被绕过服务修改）"),
                member_id=member_id,
                fix=partial(services.balance_recompute, member_id=member_id),
            )
        )
    return found


# --- Sources of points ------------------------------------------------------------------------------------------


def own_points_sources(member_ids: Sequence[int]) -> Iterable[selectors.PointsSource]:
    """This app's sources for the chunk: every service record (pending and void ones too: they are due 0) and
    every commendation."""
    multiplier = services.rule_for(selectors.RECORD_RULE).leader_multiplier
    records = ServiceRecord.objects.filter(member_id__in=member_ids).only(
        "member_id", "hours", "status", "role", "source", "source_ref", "content", "void_reason", "date"
    )
    for record in records.order_by("pk").iterator(chunk_size=5000):
        yield selectors.record_points_source(record, leader_multiplier=multiplier)
    for commendation in Commendation.objects.filter(member_id__in=member_ids).order_by("pk"):
        yield selectors.commendation_points_source(commendation)


def points_disagreements(
    member_ids: Sequence[int], members: dict[int, Member], sources: Iterable[selectors.PointsSource]
) -> list[Disagreement]:
    """Every source of the chunk against the entries it earned, and the entries of sourced rules that no source
    claims. Three queries besides the sources'."""
    rules = {rule.code: rule for rule in Rule.objects.all()}
    groups = {
        (row["member_id"], row["rule__code"], row["source_ref"]): row
        for row in LedgerEntry.objects.filter(member_id__in=member_ids, rule__code__in=SOURCED_RULES)
        .values("member_id", "rule__code", "source_ref")
        .annotate(
            earned=Sum("earned_points"),
            entries=Count("pk"),
            first_award=Min("pk", filter=Q(kind=LedgerEntry.Kind.AWARD)),
        )
        .order_by()
    }
    first_ids = [row["first_award"] for row in groups.values() if row["first_award"] is not None]
    first_awards = {
        e.pk: e for e in LedgerEntry.objects.filter(pk__in=first_ids).only("rule_points", "rule_cap", "multiplier")
    }
    claimed: set[tuple] = set()
    found = []
    for source in sources:
        keys = [(source.member_id, source.rule, ref) for ref in source.refs]
        claimed.update(keys)
        rows = [groups[k] for k in keys if k in groups]
        have = sum(row["earned"] or 0 for row in rows)
        first = next((first_awards[r["first_award"]] for r in rows if r["first_award"] is not None), None)
        rule = rules.get(source.rule) or services.rule_for(source.rule)
        terms = selectors.award_terms(rule, first, multiplier=source.multiplier)
        due = selectors.points_due(quantity=source.quantity, counted=source.counted, terms=terms)
        if due == have:
            continue
        if not rows:
            cause = _("应得积分未入账")
        elif due == 0:
            cause = _("来源已不再计分（作废、未确认或被撤销），积分未冲正")
        else:
            cause = _("积分与来源不符（时长或数量更正后未补差，或重复计分）")
        found.append(
            Disagreement(
                check="points",
                subject=_("%(member)s %(rule)s %(source)s")
                % {
                    "member": member_label(members[source.member_id]),
                    "rule": Rule.Code(source.rule).label,
                    "source": source.label or source.ref,
                },
                expected=_("%(points)d 分") % {"points": due},
                found=_("%(points)d 分") % {"points": have},
                cause=cause,
                member_id=source.member_id,
                fix=partial(services.points_source_sync, source=source),
            )
        )
    for key, row in sorted(groups.items()):
        if key in claimed or not row["earned"]:
            continue
        member_id, rule_code, ref = key
        found.append(
            Disagreement(
                check="points",
                subject=_("%(member)s %(rule)s %(source)s")
                % {"member": member_label(members[member_id]), "rule": Rule.Code(rule_code).label, "source": ref},
                expected=_("%(points)d 分") % {"points": 0},
                found=_("%(points)d 分") % {"points": row["earned"]},
                cause=_("积分明细找不到对应的来源（记录、培训、心愿或表彰）"),
                member_id=member_id,
                fix=partial(
                    services.ledger_entries_reverse,
                    member_id=member_id,
                    rule=rule_code,
                    source_ref=ref,
                    reason=_("对账：积分明细没有对应的来源"),
                ),
            )
        )
    return found


# --- Star ratings -----------------------------------------------------------------------------------------------


def rating_disagreements(member_ids: Sequence[int], members: dict[int, Member]) -> list[Disagreement]:
    """Each rating of the chunk's members against the value the records and the ledger give for its period."""
    ratings = list(
        StarRating.objects.filter(member_id__in=member_ids).select_related("run__organization").order_by("pk")
    )
    wanted: dict[tuple, list[int]] = defaultdict(list)
    for rating in ratings:
        wanted[(rating.basis, rating.run.period_start, rating.run.period_end)].append(rating.member_id)
    values = {
        key: selectors.rating_values(ids, basis=key[0], period_start=key[1], period_end=key[2])
        for key, ids in wanted.items()
    }
    found = []
    for rating in ratings:
        run = rating.run
        live = values[(rating.basis, run.period_start, run.period_end)].get(rating.member_id, Decimal("0.00"))
        stars = services.stars_for(rating.basis_value, rating.thresholds)
        subject = _("%(member)s %(run)s 星级评定") % {"member": member_label(members[rating.member_id]), "run": run}
        if rating.computed_stars != stars:
            found.append(
                Disagreement(
                    check="rating",
                    subject=subject,
                    expected=_("%(value)s → %(stars)d 星") % {"value": rating.basis_value, "stars": stars},
                    found=_("计算为 %(stars)d 星") % {"stars": rating.computed_stars},
                    cause=_("星级与评定数值及门槛不符"),
                    member_id=rating.member_id,
                    fix=None
                    if rating.status == StarRating.Status.FINAL
                    else partial(services.member_ratings_refresh, member_id=rating.member_id),
                )
            )
        elif live != rating.basis_value:
            final = rating.status == StarRating.Status.FINAL
            found.append(
                Disagreement(
                    check="rating",
                    subject=subject,
                    expected=str(live),
                    found=str(rating.basis_value),
                    cause=_("定级后服务记录或积分发生了变动，需由书记决定是否重新评定")
                    if final
                    else _("评定数值未随服务记录或积分更新"),
                    member_id=rating.member_id,
                    fix=None if final else partial(services.member_ratings_refresh, member_id=rating.member_id),
                )
            )
    return found

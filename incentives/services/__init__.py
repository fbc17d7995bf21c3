"""Every write of the incentives app.

The ledger: `award`, `spend`, `reverse` and `adjust` are the only writers of `LedgerEntry`. Each takes the member's
`PointsBalance` row with SELECT … FOR UPDATE *first* (the fixed lock order: balance, then anything else such as a
redemption or a catalogue item), appends one entry and updates the cached balance in the same transaction; the
balance's CHECK (≥ 0) is the last line of defence against a negative balance. An idempotency key makes a retried
call return the entry the first call wrote: the key is looked up again under the balance lock, and its UNIQUE
constraint, inside a savepoint, settles any remaining race.

Other apps call `award(...)` (projects: verified service hours; demands: fulfilled wishes and residents' ratings;
training: training hours) — never the reverse. A caller that awards several members in one transaction does so in
member-id order, so two such transactions take the balance locks in the same order and cannot deadlock.

Broken rules raise `ValidationError` with a Chinese message; a scope check that fails raises `PermissionDenied`.
"""

import secrets
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, cast

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from core import member_cache
from core.types import Actor, User
from members.events import RecordCountedChanged
from members.models import Member, Organization, ServiceRecord
from members.selectors import organization_managers, visible_members, visible_organizations
from notifications import fanout
from notifications.models import Notification
from notifications.services import notify, notify_many, user_messages

from .. import selectors
from ..models import (
    DEFAULT_HOURS_THRESHOLDS,
    DEFAULT_POINTS_THRESHOLDS,
    MAX_STARS,
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

# The defaults the data migration seeds (a snapshot of them lives in migrations/0002). A rule missing from the
# table (a test database flushed by a transactional test) is recreated from here rather than failing an award.
DEFAULT_RULES: dict[str, dict] = {
    Rule.Code.SERVICE_HOUR: {"points": 10, "cap_per_source": 100, "leader_multiplier": Decimal("1.5")},
    Rule.Code.WISH_FULFILLED: {"points": 20},
    Rule.Code.RESIDENT_RATING: {"points": 5, "min_quantity": Decimal(4)},
    Rule.Code.TRAINING_HOUR: {"points": 5},
    Rule.Code.COMMENDATION: {"points": 100},
    Rule.Code.MANUAL: {"points": 0},
}

# Pickup codes are read aloud and typed from a phone screen: no 0/O, 1/I/L.
PICKUP_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PICKUP_CODE_LENGTH = 8


def _required_text(value: str, field: str, message: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: message})
    if len(value) > max_length:
        raise ValidationError({field: _("内容过长（最多 %(n)d 个字）。") % {"n": max_length}})
    return value


def _is_platform_admin(user: Actor) -> bool:
    return user is not None and user.is_active and user.is_superuser


def _check_member_in_scope(actor: Actor, member: Member) -> None:
    if _is_platform_admin(actor):
        return
    if actor is None or not visible_members(actor).filter(pk=member.pk).exists():
        raise PermissionDenied(_("该党员不在您的管理范围内。"))


# --- Rules ------------------------------------------------------------------------------------------------------


def check_rule(*, leader_multiplier: Decimal | None, min_quantity: Decimal | None) -> None:
    if leader_multiplier is not None and not Decimal(1) <= leader_multiplier <= Decimal(10):
        raise ValidationError({"leader_multiplier": _("负责人倍数应在 1 到 10 之间。")})
    if min_quantity is not None and min_quantity <= 0:
        raise ValidationError({"min_quantity": _("起计数量必须大于 0。")})


@transaction.atomic
def rule_update(
    *,
    rule: Rule,
    actor: Actor,
    points: int,
    cap_per_source: int | None,
    leader_multiplier: Decimal,
    min_quantity: Decimal | None,
    active: bool,
    description: str = "",
) -> Rule:
    """A platform admin changes a rule's numbers; entries already written keep their points. The change is in the
    rule's history, attributed to the actor. Lock: the rule row."""
    if not _is_platform_admin(actor):
        raise PermissionDenied(_("积分规则只能由平台管理员修改。"))
    check_rule(leader_multiplier=leader_multiplier, min_quantity=min_quantity)
    rule = Rule.objects.select_for_update().get(pk=rule.pk)
    rule.points = points
    rule.cap_per_source = cap_per_source
    rule.leader_multiplier = leader_multiplier
    rule.min_quantity = min_quantity
    rule.active = active
    rule.description = description
    rule._history_user = actor  # type: ignore[attr-defined]  # simple_history reads it; the model declares no such field
    rule.save()
    return rule


# --- Ledger -----------------------------------------------------------------------------------------------------


def rule_for(code: str) -> Rule:
    """The rule with this code (recreated with its default numbers if someone removed the row)."""
    if code not in Rule.Code.values:
        raise ValueError(f"unknown points rule: {code!r}")
    rule, _created = Rule.objects.get_or_create(code=code, defaults=DEFAULT_RULES[code])
    return rule


def _lock_balance(member: Member) -> PointsBalance:
    """The member's balance row, locked (created on first use; a concurrent creation is settled by its PK)."""
    balance = PointsBalance.objects.select_for_update().filter(member_id=member.pk).first()
    if balance is None:
        try:
            with transaction.atomic():
                PointsBalance.objects.create(member_id=member.pk)
        except IntegrityError:
            pass  # created by a concurrent transaction; the locking read below waits for it
        balance = PointsBalance.objects.select_for_update().get(member_id=member.pk)
    return balance


def _existing_entry(idempotency_key: str, member: Member) -> LedgerEntry | None:
    entry = LedgerEntry.objects.filter(idempotency_key=idempotency_key).first()
    if entry is not None and entry.member_id != member.pk:
        raise ValueError(f"idempotency key {idempotency_key!r} was used for another member")
    return entry


def _append(
    *,
    balance: PointsBalance,
    points: int,
    earned: int,
    idempotency_key: str,
    clamp: bool = False,
    refresh_ratings: bool = True,
    **fields: Any,
) -> LedgerEntry:
    """Write one entry and move the locked balance with it; the caller holds the balance lock.

    `clamp`: a reversal or correction taking back points the member has already spent takes what the balance
    holds (the balance never goes below zero) while the earned points drop by the whole amount; the rest is owed
    (`PointsBalance.debt`) and the next points that come in pay it back first (`_recover`). The note says so.
    Otherwise a balance that does not cover the entry raises ValidationError.
    An entry that changes the earned points updates the member's ratings not yet final (points basis)."""
    if not idempotency_key:
        raise ValueError("an idempotency key is required")
    new_balance = balance.balance + points
    shortfall = 0
    if new_balance < 0 and clamp:
        shortfall = -new_balance
        points, new_balance = -balance.balance, 0
        note = _("（%(n)d 分已使用，待以后获得的积分追回）") % {"n": shortfall}
        fields["note"] = (fields.get("note", "")[: 200 - len(note)] + note)[:200]
    if new_balance < 0:
        raise ValidationError(
            _("积分不足：当前余额 %(balance)d 分，需要 %(points)d 分。")
            % {"balance": balance.balance, "points": -points}
        )
    try:
        with transaction.atomic():
            entry = LedgerEntry.objects.create(
                member_id=balance.member_id,
                points=points,
                earned_points=earned,
                balance_after=new_balance,
                idempotency_key=idempotency_key,
                **fields,
            )
    except IntegrityError:
        existing = _existing_entry(idempotency_key, balance.member)
        if existing is None:
            raise
        return existing
    balance.balance = new_balance
    balance.earned_total += earned
    balance.debt += shortfall
    if points > 0 and balance.debt > 0:
        _recover(balance=balance, after=entry)
    balance.save(update_fields=["balance", "earned_total", "debt", "updated_at"])
    if earned and refresh_ratings:
        _member_ratings_refresh(balance.member_id)
    return entry


def _recover(*, balance: PointsBalance, after: LedgerEntry) -> LedgerEntry:
    """Take back owed points (`PointsBalance.debt`) from points that just came in: a 追回 entry, never earned. The
    caller saves the balance row."""
    points = min(balance.debt, balance.balance)
    entry = LedgerEntry.objects.create(
        member_id=balance.member_id,
        kind=LedgerEntry.Kind.RECOVERY,
        points=-points,
        earned_points=0,
        balance_after=balance.balance - points,
        idempotency_key=f"recovery:{after.pk}",
        source_ref=after.source_ref,
        note=_("追回此前已使用、未能扣回的 %(n)d 分") % {"n": points},
    )
    balance.balance -= points
    balance.debt -= points
    return entry


def _as_decimal(value: Decimal | int | float | str, name: str) -> Decimal:
    try:
        result = Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number, not {value!r}") from exc
    if not result.is_finite() or result <= 0:
        raise ValueError(f"{name} must be positive, not {value!r}")
    return result


def leader_multiplier(rule: str) -> Decimal:
    """The multiplier a caller passes to `award` for an on-site leader (负责人) under this rule."""
    return rule_for(rule).leader_multiplier


@transaction.atomic
def award(
    *,
    member: Member,
    rule: str,
    quantity: Decimal | int = 1,
    idempotency_key: str,
    source_ref: str = "",
    actor: Actor = None,
    note: str = "",
    multiplier: Decimal = Decimal(1),
) -> LedgerEntry | None:
    """Award points under a rule: round(rule.points × quantity × multiplier), half up.

    The rule's cap applies per member and `source_ref` (e.g. 100 points per activity, counting what earlier awards
    and their reversals left); an inactive rule, a quantity under the rule's minimum or an exhausted cap award
    nothing and return None. The same `idempotency_key` again returns the first entry and writes nothing.
    Lock: the member's balance row.
    """
    quantity = _as_decimal(quantity, "quantity")
    multiplier = _as_decimal(multiplier, "multiplier")
    existing = _existing_entry(idempotency_key, member)
    if existing is not None:
        return existing
    rule_obj = rule_for(rule)
    balance = _lock_balance(member)
    existing = _existing_entry(idempotency_key, member)  # a concurrent call with this key may have just committed
    if existing is not None:
        return existing
    if not rule_obj.active or (rule_obj.min_quantity is not None and quantity < rule_obj.min_quantity):
        return None
    points = int((Decimal(rule_obj.points) * quantity * multiplier).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if rule_obj.cap_per_source is not None and source_ref:
        already = (
            LedgerEntry.objects.filter(member=member, rule=rule_obj, source_ref=source_ref).aggregate(s=Sum("points"))[
                "s"
            ]
            or 0
        )
        points = min(points, rule_obj.cap_per_source - already)
    if points <= 0:
        return None
    return _append(
        balance=balance,
        points=points,
        earned=points,
        idempotency_key=idempotency_key,
        kind=LedgerEntry.Kind.AWARD,
        rule=rule_obj,
        quantity=quantity,
        multiplier=multiplier,
        rule_points=rule_obj.points,
        rule_cap=rule_obj.cap_per_source,
        source_ref=source_ref,
        actor=actor,
        note=note[:200],
    )


@transaction.atomic
def spend(
    *, member: Member, points: int, idempotency_key: str, source_ref: str = "", actor: Actor = None, note: str = ""
) -> LedgerEntry:
    """Take `points` (> 0) from the member's balance; ValidationError when the balance does not cover them.

    Lock: the member's balance row, so concurrent spends are applied one after the other and the balance never
    goes below zero. The same `idempotency_key` again returns the first entry.
    """
    if not isinstance(points, int) or points <= 0:
        raise ValueError(f"points to spend must be a positive int, not {points!r}")
    existing = _existing_entry(idempotency_key, member)
    if existing is not None:
        return existing
    balance = _lock_balance(member)
    existing = _existing_entry(idempotency_key, member)
    if existing is not None:
        return existing
    return _append(
        balance=balance,
        points=-points,
        earned=0,
        idempotency_key=idempotency_key,
        kind=LedgerEntry.Kind.SPEND,
        source_ref=source_ref,
        actor=actor,
        note=note[:200],
    )


def _reverse(
    *, entry: LedgerEntry, actor: Actor, reason: str, clamp: bool = False, refresh_ratings: bool = True
) -> LedgerEntry:
    balance = _lock_balance(entry.member)
    existing: LedgerEntry | None = LedgerEntry.objects.filter(reverses=entry).first()
    if existing is not None:
        return existing
    if entry.kind == LedgerEntry.Kind.REVERSAL:
        raise ValidationError(_("冲正记录不能再冲正。"))
    try:
        return _append(
            balance=balance,
            points=-entry.points,
            earned=-entry.earned_points,
            idempotency_key=f"reversal:{entry.pk}",
            clamp=clamp,
            refresh_ratings=refresh_ratings,
            kind=LedgerEntry.Kind.REVERSAL,
            reverses=entry,
            rule=entry.rule,
            source_ref=entry.source_ref,
            actor=actor,
            note=reason[:200],
        )
    except ValidationError as exc:
        raise ValidationError(
            _("余额不足，无法冲正：这笔积分已被使用（当前余额 %(balance)d 分）。") % {"balance": balance.balance}
        ) from exc


@transaction.atomic
def reverse(*, entry: LedgerEntry, actor: Actor, reason: str) -> LedgerEntry:
    """冲正: append the opposite of `entry` (its points, and what it counted as earned). Once per entry: a second
    call returns the first reversal. A redemption's hold is refunded by cancelling the redemption instead, and an
    award whose points were already spent cannot be reversed (the balance would go negative).

    Lock: the member's balance row.
    """
    reason = _required_text(reason, "reason", _("请填写冲正原因。"), 200)
    if Redemption.objects.filter(spend_entry_id=entry.pk).exists():
        raise ValidationError(_("兑换扣除的积分请通过取消兑换退还。"))
    if _is_record_entry(entry):
        raise ValidationError(_("服务时长积分随服务记录变动：请作废或更正这条服务记录，积分会随之冲正。"))
    return _reverse(entry=entry, actor=actor, reason=reason)


def _is_record_entry(entry: LedgerEntry) -> bool:
    """Whether `entry` belongs to a service record's points (points_source_sync keeps those equal to the record)."""
    if entry.rule_id is None or entry.rule is None or entry.rule.code != selectors.RECORD_RULE:
        return False
    if entry.source_ref.startswith("record:"):
        return True
    return ServiceRecord.objects.filter(
        member_id=entry.member_id, source__in=selectors.LEGACY_RECORD_SOURCES, source_ref=entry.source_ref
    ).exists()


# --- Points of what earns them (the rule table: selectors, "What earns points") -------------------------------


@transaction.atomic
def points_source_sync(*, source: selectors.PointsSource, actor: Actor = None) -> list[LedgerEntry]:
    """Bring the points of one source (a service record, a training record, a wish, a commendation) to what the
    rules give it now, and return the entries written (none when they already agree).

    A first award (idempotency key `source.first_key`) when it starts earning; a correction entry (更正) with the
    difference when its quantity changes; the reversal (冲正) of each of its entries when it stops counting. Points
    already spent are not taken back below a zero balance: the earned points drop by the whole difference, the
    balance by what it holds (`_append`, clamp). Idempotent: the difference is computed under the lock, so a second
    call writes nothing. Callers: the record hook (`record_counted_changed`), the training, wish and commendation
    services, and `manage.py reconcile --fix`. The member's ratings not yet final follow.

    Lock: the member's balance row (callers hold the source's own row first).
    """
    balance = _lock_balance(Member(pk=source.member_id))
    rule = rule_for(source.rule)
    entries = list(selectors.source_entries(source))
    first_award = next((e for e in entries if e.kind == LedgerEntry.Kind.AWARD), None)
    terms = selectors.award_terms(rule, first_award, multiplier=source.multiplier)
    due = selectors.points_due(quantity=source.quantity, counted=source.counted, terms=terms)
    have = sum(e.earned_points for e in entries)
    if due == have:
        return []
    common: dict[str, Any] = {
        "rule": rule,
        "source_ref": source.ref,
        "actor": actor,
        "multiplier": terms.multiplier,
        "rule_points": terms.points,
        "rule_cap": terms.cap,
        "quantity": source.quantity,
        "refresh_ratings": False,
    }
    written: list[LedgerEntry] = []
    if not entries:  # it starts earning
        written.append(
            _append(
                balance=balance,
                points=due,
                earned=due,
                idempotency_key=source.first_key,
                kind=LedgerEntry.Kind.AWARD,
                note=source.note,
                **common,
            )
        )
        have = due
    elif due == 0:  # it stops counting: its award is reversed (冲正) — when nothing but the award is left of it
        reversed_ids = {e.reverses_id for e in entries if e.kind == LedgerEntry.Kind.REVERSAL}
        open_entries = [e for e in entries if e.kind != LedgerEntry.Kind.REVERSAL and e.pk not in reversed_ids]
        if len(open_entries) == 1 and open_entries[0].earned_points == have:
            reason = source.stop_reason or _("来源已不再计分")
            written.append(
                _reverse(entry=open_entries[0], actor=actor, reason=reason[:200], clamp=True, refresh_ratings=False)
            )
            have = 0
    if due != have:  # its quantity changed, or it stopped counting after a correction: the difference, in one entry
        written.append(
            _append(
                balance=balance,
                points=due - have,
                earned=due - have,
                idempotency_key=f"{source.ref}:{source.rule}:sync:{len(entries) + len(written) + 1}",
                clamp=True,
                kind=LedgerEntry.Kind.CORRECTION,
                note=(_("更正：%(quantity)s") % {"quantity": source.label or source.quantity})[:200],
                **common,
            )
        )
    _member_ratings_refresh(source.member_id)
    return written


@transaction.atomic
def record_points_sync(*, record: ServiceRecord, actor: Actor = None) -> list[LedgerEntry]:
    """The service-hour points of one service record, as the rule table says (`points_source_sync`).
    Lock: the member's balance row (the callers hold the record's row first)."""
    record = ServiceRecord.objects.get(pk=record.pk)
    multiplier = rule_for(selectors.RECORD_RULE).leader_multiplier
    return points_source_sync(source=selectors.record_points_source(record, leader_multiplier=multiplier), actor=actor)


def record_counted_changed(event: RecordCountedChanged) -> None:
    """The members app's hook (members.events.record_counted_changed, connected in apps.IncentivesConfig.ready):
    the record's points follow it, and the member's ratings not yet final follow the hours."""
    # The hook types its actor loosely (object | None); the members services send a user or None.
    record_points_sync(record=event.record, actor=cast(Actor, event.actor))


@transaction.atomic
def member_ratings_refresh(*, member_id: int) -> None:
    """Recompute one member's ratings not yet final from the records and the ledger (`manage.py reconcile --fix`).
    Lock: the member's balance row, then those ratings (the order of every ledger write)."""
    _lock_balance(Member(pk=member_id))
    _member_ratings_refresh(member_id)


@transaction.atomic
def balance_recompute(*, member_id: int) -> PointsBalance:
    """Set a member's cached balance, earned total and points owed to the sums of their ledger (`manage.py
    reconcile --fix`; the ledger itself is never changed). Lock: the member's balance row."""
    balance = _lock_balance(Member(pk=member_id))
    points, earned, spent = selectors.ledger_sums([member_id]).get(member_id, (0, 0, 0))
    balance.balance, balance.earned_total, balance.debt = points, earned, points - earned + spent
    balance.save(update_fields=["balance", "earned_total", "debt", "updated_at"])
    return balance


@transaction.atomic
def ledger_entries_reverse(*, member_id: int, rule: str, source_ref: str, reason: str) -> list[LedgerEntry]:
    """Reverse every entry of one member, rule and source_ref not reversed yet — points that no source earned
    (`manage.py reconcile --fix`). Clamped like every reversal of earned points. Lock: the member's balance row."""
    _lock_balance(Member(pk=member_id))
    entries = list(
        LedgerEntry.objects.filter(member_id=member_id, rule__code=rule, source_ref=source_ref).order_by("pk")
    )
    reversed_ids = {e.reverses_id for e in entries if e.kind == LedgerEntry.Kind.REVERSAL}
    written = [
        _reverse(entry=e, actor=None, reason=reason[:200], clamp=True, refresh_ratings=False)
        for e in entries
        if e.kind != LedgerEntry.Kind.REVERSAL and e.pk not in reversed_ids
    ]
    _member_ratings_refresh(member_id)
    return written


def _member_ratings_refresh(member_id: int) -> None:
    """Keep one member's ratings that are not final equal to the records and the ledger: the value (hours up to
    the end of the period, or points earned in it) and the computed stars; stars a secretary set in answer to an
    objection stay as set. Final ratings never change. Lock: those rating rows (after the caller's balance lock)."""
    ratings = list(
        StarRating.objects.select_for_update(of=("self",))
        .filter(member_id=member_id)
        .exclude(status=StarRating.Status.FINAL)
        .select_related("run")
        .order_by("pk")
    )
    for rating in ratings:
        value = selectors.rating_values(
            [member_id], basis=rating.basis, period_start=rating.run.period_start, period_end=rating.run.period_end
        ).get(member_id, Decimal("0.00"))
        stars = stars_for(value, rating.thresholds)
        if (rating.basis_value, rating.computed_stars) == (value, stars):
            continue
        if rating.stars == rating.computed_stars:  # not changed by an objection's answer
            rating.stars = stars
        rating.basis_value, rating.computed_stars = value, stars
        rating.save(update_fields=["basis_value", "computed_stars", "stars", "updated_at"])


@transaction.atomic
def adjust(
    *, member: Member, points: int, actor: Actor, reason: str, idempotency_key: str | None = None
) -> LedgerEntry:
    """A secretary's manual adjustment (±points), attributed to them, with the reason as the entry's note.

    Only for a member in the actor's scope and never one's own points. A positive adjustment counts as earned
    (like an award), a negative one takes earned points back. `idempotency_key` (e.g. from the form) makes a
    double submit harmless. Lock: the member's balance row.
    """
    if not isinstance(points, int) or points == 0:
        raise ValidationError({"points": _("调整的积分不能为 0。")})
    reason = _required_text(reason, "reason", _("请填写调整原因。"), 200)
    if actor is None:
        raise PermissionDenied(_("手工调整必须由管理人员操作。"))
    _check_member_in_scope(actor, member)
    if member.user_id == actor.pk:
        raise PermissionDenied(_("不能调整本人的积分。"))
    key = idempotency_key or f"adjust:{uuid.uuid4().hex}"
    existing = _existing_entry(key, member)
    if existing is not None:
        return existing
    balance = _lock_balance(member)
    existing = _existing_entry(key, member)
    if existing is not None:
        return existing
    try:
        return _append(
            balance=balance,
            points=points,
            earned=points,
            idempotency_key=key,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            rule=rule_for(Rule.Code.MANUAL),
            actor=actor,
            note=reason,
        )
    except ValidationError as exc:
        raise ValidationError(
            {"points": _("扣减后余额将为负数（当前余额 %(balance)d 分）。") % {"balance": balance.balance}}
        ) from exc


@transaction.atomic
def leaderboard_opt_out_set(*, member: Member, opt_out: bool) -> IncentiveProfile:
    """The member's own choice to stay off (or come back to) the leaderboard."""
    profile, _created = IncentiveProfile.objects.select_for_update().get_or_create(member=member)
    profile.leaderboard_opt_out = opt_out
    profile.save(update_fields=["leaderboard_opt_out", "updated_at"])
    return profile


# --- Catalogue and redemption -----------------------------------------------------------------------------------

_ITEM_FIELDS = (
    "kind",
    "name",
    "description",
    "pickup_place",
    "points_cost",
    "per_member_limit",
    "opens_at",
    "closes_at",
    "min_star_level",
    "organization",
    "active",
)


def check_catalogue_item(
    *, kind: str, min_star_level: int, opens_at: datetime | None, closes_at: datetime | None
) -> None:
    if kind == CatalogueItem.Kind.BENEFIT and not 1 <= (min_star_level or 0) <= MAX_STARS:
        raise ValidationError({"min_star_level": _("政策优惠须设置最低星级（1–5）。")})
    if opens_at and closes_at and closes_at <= opens_at:
        raise ValidationError({"closes_at": _("截止兑换时间必须晚于开始兑换时间。")})


@transaction.atomic
def catalogue_item_create(*, stock: int, **fields: Any) -> CatalogueItem:
    """Add an item with its initial stock."""
    unknown = set(fields) - set(_ITEM_FIELDS)
    if unknown:
        raise TypeError(f"unknown catalogue item fields: {sorted(unknown)}")
    check_catalogue_item(
        kind=fields.get("kind", CatalogueItem.Kind.SERVICE),
        min_star_level=fields.get("min_star_level", 0),
        opens_at=fields.get("opens_at"),
        closes_at=fields.get("closes_at"),
    )
    if stock < 0:
        raise ValidationError({"stock": _("库存不能为负数。")})
    item = CatalogueItem(stock=stock, **fields)
    item.full_clean()
    item.save()
    return item


@transaction.atomic
def catalogue_item_update(*, item: CatalogueItem, **fields: Any) -> CatalogueItem:
    """Change an item's description, price, window, limits — never its stock (`catalogue_item_restock`), so an
    admin form read a minute ago cannot overwrite what concurrent redemptions took. Lock: the item row."""
    unknown = set(fields) - set(_ITEM_FIELDS)
    if unknown:
        raise TypeError(f"unknown catalogue item fields: {sorted(unknown)}")
    item = CatalogueItem.objects.select_for_update().get(pk=item.pk)
    for name, value in fields.items():
        setattr(item, name, value)
    check_catalogue_item(
        kind=item.kind, min_star_level=item.min_star_level, opens_at=item.opens_at, closes_at=item.closes_at
    )
    item.full_clean()
    item.save(update_fields=[*fields, "updated_at"])
    return item


@transaction.atomic
def catalogue_item_restock(*, item: CatalogueItem, quantity: int) -> CatalogueItem:
    """Add (or, with a negative quantity, remove) stock with one conditional UPDATE; never below zero."""
    if not isinstance(quantity, int) or quantity == 0:
        raise ValidationError({"quantity": _("数量不能为 0。")})
    changed = CatalogueItem.objects.filter(pk=item.pk, stock__gte=-quantity).update(
        stock=F("stock") + quantity, updated_at=timezone.now()
    )
    if not changed:
        raise ValidationError({"quantity": _("库存不足，不能减少这么多。")})
    item.refresh_from_db(fields=["stock", "updated_at"])
    return item


def _take_stock(item: CatalogueItem) -> bool:
    """One unit of stock, or False when none is left: UPDATE … SET stock = stock − 1 WHERE stock > 0."""
    return bool(CatalogueItem.objects.filter(pk=item.pk, stock__gt=0).update(stock=F("stock") - 1))


@transaction.atomic
def redemption_request(*, member: Member, item: CatalogueItem, idempotency_key: str | None = None) -> Redemption:
    """A member redeems one unit of an item: one unit of stock is taken and the points are held (a spend entry).

    Locks, in order: the member's balance row (which also serialises the per-member limit check), then the item's
    stock by a conditional UPDATE, so stock never goes below zero and the points are never spent twice — if the
    balance does not cover the price, the stock taken is rolled back with everything else. The same
    `idempotency_key` (a form token) again returns the first redemption.
    """
    key = f"redeem:{member.pk}:{idempotency_key}" if idempotency_key else f"redeem:{member.pk}:{uuid.uuid4().hex}"
    balance = _lock_balance(member)
    existing = Redemption.objects.filter(spend_entry__idempotency_key=key).first()
    if existing is not None:
        return existing
    item = CatalogueItem.objects.select_related("organization").get(pk=item.pk)
    member = Member.objects.select_related("organization").get(pk=member.pk)
    if member.status != Member.Status.ACTIVE:
        raise ValidationError(_("只有在册党员可以兑换。"))
    if not item.is_open():
        raise ValidationError(_("“%(item)s”当前不在兑换时间内。") % {"item": item.name})
    if item.organization is not None and not member.organization.is_in_subtree_of(item.organization):
        raise ValidationError(_("“%(item)s”不面向您所在的组织。") % {"item": item.name})
    if item.min_star_level:
        stars = selectors.current_stars(member)
        if stars < item.min_star_level:
            raise ValidationError(
                _("“%(item)s”需要 %(need)d 星及以上，您当前是 %(stars)d 星。")
                % {"item": item.name, "need": item.min_star_level, "stars": stars}
            )
    if item.per_member_limit is not None:
        taken = Redemption.objects.filter(member=member, item=item).exclude(status=Redemption.Status.CANCELLED).count()
        if taken >= item.per_member_limit:
            raise ValidationError(
                _("“%(item)s”每人限兑 %(limit)d 次，您已兑换 %(taken)d 次。")
                % {"item": item.name, "limit": item.per_member_limit, "taken": taken}
            )
    if balance.balance < item.points_cost:
        raise ValidationError(
            _("积分不足：当前余额 %(balance)d 分，需要 %(points)d 分。")
            % {"balance": balance.balance, "points": item.points_cost}
        )
    if not _take_stock(item):
        raise ValidationError(_("“%(item)s”已兑完。") % {"item": item.name})
    entry = spend(
        member=member,
        points=item.points_cost,
        idempotency_key=key,
        source_ref=f"item:{item.pk}",
        actor=member.user,
        note=item.name[:200],
    )
    return Redemption.objects.create(member=member, item=item, points=item.points_cost, spend_entry=entry)


def _new_pickup_code() -> str:
    return "".join(secrets.choice(PICKUP_ALPHABET) for _ in range(PICKUP_CODE_LENGTH))


@transaction.atomic
def redemption_approve(*, redemption: Redemption, actor: Actor) -> Redemption:
    """Approve a requested redemption: it gets a random pickup code (unique among all codes) and the member an
    in-app message with it. Lock: the redemption row."""
    redemption = Redemption.objects.select_for_update().select_related("item", "member__user").get(pk=redemption.pk)
    if redemption.status != Redemption.Status.REQUESTED:
        raise ValidationError(
            _("只有待审核的兑换可以批准（当前：%(status)s）。") % {"status": redemption.get_status_display()}
        )
    redemption.status = Redemption.Status.APPROVED
    redemption.approved_at = timezone.now()
    redemption.approved_by = actor
    for _attempt in range(5):
        redemption.pickup_code = _new_pickup_code()
        try:
            with transaction.atomic():
                redemption.save(update_fields=["status", "approved_at", "approved_by", "pickup_code"])
            break
        except IntegrityError:
            continue  # a code collision (31^8 codes): draw again
    else:
        raise RuntimeError("could not draw a unique pickup code")
    notify(
        template="incentives_redemption_approved",
        channel=Notification.Channel.INAPP,
        user=redemption.member.user,
        dedupe_key=f"incentives:redemption:{redemption.pk}:approved",
        context={
            "name": redemption.member.name,
            "item": redemption.item.name,
            "code": redemption.pickup_code,
            "place": redemption.item.pickup_place,
            "points": redemption.points,
        },
    )
    return redemption


@transaction.atomic
def redemption_fulfil(*, redemption: Redemption, actor: Actor) -> Redemption:
    """The member collected the item or service with the pickup code. Lock: the redemption row."""
    redemption = Redemption.objects.select_for_update().get(pk=redemption.pk)
    if redemption.status != Redemption.Status.APPROVED:
        raise ValidationError(
            _("只有待领取的兑换可以标记为已领取（当前：%(status)s）。") % {"status": redemption.get_status_display()}
        )
    redemption.status = Redemption.Status.FULFILLED
    redemption.fulfilled_at = timezone.now()
    redemption.fulfilled_by = actor
    redemption.save(update_fields=["status", "fulfilled_at", "fulfilled_by"])
    return redemption


@transaction.atomic
def redemption_cancel(*, redemption: Redemption, actor: Actor, reason: str = "", by_member: bool = False) -> Redemption:
    """Cancel a requested or approved redemption: the points come back (a reversal of the hold) and so does the
    unit of stock. A member may cancel their own only while it waits for approval.

    Locks, in order: the member's balance row, the redemption row, the item's stock (conditional UPDATE).
    """
    _lock_balance(redemption.member)
    redemption = (
        Redemption.objects.select_for_update()
        .select_related("item", "member__user", "spend_entry")
        .get(pk=redemption.pk)
    )
    allowed = (Redemption.Status.REQUESTED,) if by_member else Redemption.OPEN_STATUSES
    if redemption.status not in allowed:
        raise ValidationError(_("这条兑换不能取消（当前：%(status)s）。") % {"status": redemption.get_status_display()})
    reason = (reason or "").strip()[:200]
    if not by_member and not reason:
        raise ValidationError({"reason": _("请填写取消原因。")})
    redemption.status = Redemption.Status.CANCELLED
    redemption.cancelled_at = timezone.now()
    redemption.cancelled_by = actor
    redemption.cancel_reason = reason or _("本人取消")
    redemption.save(update_fields=["status", "cancelled_at", "cancelled_by", "cancel_reason"])
    _reverse(
        entry=redemption.spend_entry,
        actor=actor,
        reason=_("取消兑换“%(item)s”，退还积分") % {"item": redemption.item.name},
    )
    CatalogueItem.objects.filter(pk=redemption.item_id).update(stock=F("stock") + 1)
    if not by_member:
        notify(
            template="incentives_redemption_cancelled",
            channel=Notification.Channel.INAPP,
            user=redemption.member.user,
            dedupe_key=f"incentives:redemption:{redemption.pk}:cancelled",
            context={
                "name": redemption.member.name,
                "item": redemption.item.name,
                "points": redemption.points,
                "reason": redemption.cancel_reason,
            },
        )
    return redemption


# --- Star ratings -----------------------------------------------------------------------------------------------


def default_thresholds(basis: str) -> list[int]:
    return list(DEFAULT_POINTS_THRESHOLDS if basis == StarBasis.POINTS else DEFAULT_HOURS_THRESHOLDS)


def check_thresholds(thresholds: Iterable[Decimal | int | str]) -> list[int | str]:
    """Five positive, strictly increasing numbers (★1 … ★5); returned as ints where whole, else as strings of decimals
    (JSON keeps them exact)."""
    try:
        values = [Decimal(str(v)) for v in thresholds]
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValidationError({"thresholds": _("门槛必须是数字。")}) from exc
    if len(values) != MAX_STARS:
        raise ValidationError({"thresholds": _("请填写 5 个门槛（一星到五星）。")})
    if any(not v.is_finite() or v <= 0 for v in values):
        raise ValidationError({"thresholds": _("门槛必须大于 0。")})
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ValidationError({"thresholds": _("门槛必须逐级递增。")})
    return [int(v) if v == v.to_integral_value() else str(v.normalize()) for v in values]


@transaction.atomic
def star_scheme_save(
    *,
    organization: Organization,
    basis: str,
    thresholds: Iterable[Decimal | int | str],
    publicity_days: int,
    actor: Actor = None,
) -> StarScheme:
    """Create or change an organization's scheme; organizations below without their own scheme follow it.
    Lock: the scheme row (if any)."""
    if basis not in StarBasis.values:
        raise ValidationError({"basis": _("请选择评定依据。")})
    thresholds = check_thresholds(thresholds)
    if not 1 <= publicity_days <= 30:
        raise ValidationError({"publicity_days": _("公示天数应为 1 到 30 天。")})
    scheme = StarScheme.objects.select_for_update().filter(organization=organization).first()
    if scheme is None:
        scheme = StarScheme(organization=organization)
    scheme.basis = basis
    scheme.thresholds = thresholds
    scheme.publicity_days = publicity_days
    scheme.save()
    return scheme


def stars_for(value: Decimal, thresholds: Iterable[Decimal | int | str]) -> int:
    """How many thresholds `value` reaches: 99.5 h against [100, …] is ★0, 100 h is ★1."""
    return sum(1 for t in thresholds if value >= Decimal(str(t)))


@transaction.atomic
def rating_run_create(*, organization: Organization, period_start: date, period_end: date, actor: Actor) -> RatingRun:
    """Start a rating of `organization`'s subtree for a period; the same organization and period again returns the
    existing run (a period is rated once)."""
    if period_end < period_start:
        raise ValidationError({"period_end": _("评定期结束日期不能早于开始日期。")})
    existing = RatingRun.objects.filter(
        organization=organization, period_start=period_start, period_end=period_end
    ).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return RatingRun.objects.create(
                organization=organization, period_start=period_start, period_end=period_end, created_by=actor
            )
    except IntegrityError:
        return RatingRun.objects.get(organization=organization, period_start=period_start, period_end=period_end)


def _lock_run(run: RatingRun) -> RatingRun:
    return RatingRun.objects.select_for_update().select_related("organization").get(pk=run.pk)


@transaction.atomic
def rating_run_compute(*, run: RatingRun) -> int:
    """Compute the draft stars of every active member whose home branch is in the run's subtree; return how many
    ratings were added, changed or removed.

    Each member is rated by the nearest scheme up their branch's path (the hours default when none): cumulative
    counted service hours up to the end of the period, or points *earned* in the period (spending never lowers a
    rating). Idempotent: computing again with the same data writes nothing, not even the computation time.
    Only a draft is computed. Lock: the run row.
    """
    run = _lock_run(run)
    if run.status != RatingRun.Status.DRAFT:
        raise ValidationError(
            _("只有草稿状态的评定可以重新计算（当前：%(status)s）。") % {"status": run.get_status_display()}
        )
    members = list(
        Member.objects.filter(
            organization__path__startswith=run.organization.path, status=Member.Status.ACTIVE
        ).select_related("organization")
    )
    schemes = selectors.schemes_for_members(members)
    by_basis: dict[str, list[int]] = {StarBasis.HOURS: [], StarBasis.POINTS: []}
    for member in members:
        by_basis[schemes[member.pk][0]].append(member.pk)
    values: dict[int, Decimal] = {}
    for basis, ids in by_basis.items():
        values.update(
            selectors.rating_values(ids, basis=basis, period_start=run.period_start, period_end=run.period_end)
        )
    existing = {rating.member_id: rating for rating in run.ratings.all()}
    to_create, to_update = [], []
    for member in members:
        basis, thresholds = schemes[member.pk]
        value = Decimal(values.get(member.pk) or 0).quantize(Decimal("0.01"))
        stars = stars_for(value, thresholds)
        rating = existing.pop(member.pk, None)
        if rating is None:
            to_create.append(
                StarRating(
                    run=run,
                    member=member,
                    basis=basis,
                    thresholds=thresholds,
                    basis_value=value,
                    computed_stars=stars,
                    stars=stars,
                )
            )
        elif (rating.basis, rating.thresholds, rating.basis_value, rating.stars, rating.computed_stars) != (
            basis,
            thresholds,
            value,
            stars,
            stars,
        ):
            rating.basis, rating.thresholds, rating.basis_value = basis, thresholds, value
            rating.computed_stars = rating.stars = stars
            rating.updated_at = timezone.now()
            to_update.append(rating)
    StarRating.objects.bulk_create(to_create)
    StarRating.objects.bulk_update(
        to_update, ["basis", "thresholds", "basis_value", "computed_stars", "stars", "updated_at"]
    )
    gone = [rating.pk for rating in existing.values()]  # left the subtree or became inactive since the last run
    if gone:
        StarRating.objects.filter(pk__in=gone).delete()
    # bulk writes send no signals: the members' cached portal pages are dropped here (core/member_cache.py)
    member_cache.members_changed(rating.member_id for rating in [*to_create, *to_update])
    changed = len(to_create) + len(to_update) + len(gone)
    if changed or run.computed_at is None:
        run.computed_at = timezone.now()
        run.save(update_fields=["computed_at"])
    return changed


@transaction.atomic
def rating_run_publish(*, run: RatingRun, actor: Actor, publicity_ends_on: date | None = None) -> RatingRun:
    """Start the 公示: ratings become visible to their members, who get an in-app message and may object until
    `publicity_ends_on` (default: today + the scheme's publicity days, 5 unless configured). Lock: the run row."""
    run = _lock_run(run)
    if run.status != RatingRun.Status.DRAFT:
        raise ValidationError(_("该评定已经公示过。"))
    if run.computed_at is None:
        raise ValidationError(_("请先计算星级再公示。"))
    days = selectors.scheme_for_organization(run.organization)[2]
    now = timezone.now()
    run.status = RatingRun.Status.PUBLICITY
    run.published_at = now
    run.publicity_ends_on = publicity_ends_on or timezone.localdate() + timedelta(days=days)
    run.save(update_fields=["status", "published_at", "publicity_ends_on"])
    run.ratings.update(status=StarRating.Status.PUBLICITY, updated_at=now)
    member_cache.members_changed(run.ratings.values_list("member_id", flat=True))  # no signals from update()
    for rating in run.ratings.select_related("member__user"):
        notify(
            template="incentives_rating_published",
            channel=Notification.Channel.INAPP,
            user=rating.member.user,
            dedupe_key=f"incentives:rating:{rating.pk}:published",
            context={
                "name": rating.member.name,
                "organization": run.organization.name,
                "start": run.period_start.isoformat(),
                "end": run.period_end.isoformat(),
                "stars": rating.stars,
                "ends_on": run.publicity_ends_on.isoformat(),
            },
        )
    return run


@transaction.atomic
def objection_file(*, rating: StarRating, member: Member, text: str) -> Objection:
    """A member objects to their own rating, only during the 公示 (until the publicity end date, inclusive).

    Locks, in order: the run row (so a concurrent finalize sees the objection or refuses it), the rating row.
    One pending objection per rating (DB constraint).
    """
    text = _required_text(text, "text", _("请写明异议的内容。"), 1000)
    run = _lock_run(rating.run)
    rating = StarRating.objects.select_for_update().get(pk=rating.pk)
    if rating.member_id != member.pk:
        raise PermissionDenied(_("只能对本人的星级提出异议。"))
    # A run in publicity has its end date (incentives_run_published_has_dates): the None test only narrows the type.
    if (
        run.status != RatingRun.Status.PUBLICITY
        or run.publicity_ends_on is None
        or timezone.localdate() > run.publicity_ends_on
    ):
        raise ValidationError(_("只能在公示期内提出异议。"))
    if rating.objections.filter(outcome=Objection.Outcome.PENDING).exists():
        raise ValidationError(_("您已提出异议，请等待答复。"))
    return Objection.objects.create(rating=rating, member=member, text=text, stars_before=rating.stars)


def check_objection_answerable(objection: Objection) -> None:
    if objection.outcome != Objection.Outcome.PENDING:
        raise ValidationError(_("该异议已经答复。"))
    if objection.rating.run.status != RatingRun.Status.PUBLICITY:
        raise ValidationError(_("评定已结束，不能再答复异议。"))


@transaction.atomic
def objection_answer(*, objection: Objection, actor: Actor, answer: str, stars: int | None = None) -> Objection:
    """The secretary answers an objection before the run is final; `stars` (0–5) changes the member's stars.
    The member gets an in-app message. Locks, in order: the run, the rating, the objection."""
    answer = _required_text(answer, "answer", _("请填写答复。"), 1000)
    if stars is not None and not 0 <= stars <= MAX_STARS:
        raise ValidationError({"stars": _("星级应为 0 到 5。")})
    run = _lock_run(objection.rating.run)
    rating = StarRating.objects.select_for_update().select_related("member__user").get(pk=objection.rating_id)
    objection = Objection.objects.select_for_update().get(pk=objection.pk)
    objection.rating = rating
    rating.run = run
    check_objection_answerable(objection)
    now = timezone.now()
    if stars is not None and stars != rating.stars:
        rating.stars = stars
        rating.save(update_fields=["stars", "updated_at"])
        objection.outcome = Objection.Outcome.CHANGED
    else:
        objection.outcome = Objection.Outcome.MAINTAINED
    objection.answer = answer
    objection.answered_by = actor
    objection.answered_at = now
    objection.stars_after = rating.stars
    objection.save(update_fields=["outcome", "answer", "answered_by", "answered_at", "stars_after"])
    notify(
        template="incentives_objection_answered",
        channel=Notification.Channel.INAPP,
        user=rating.member.user,
        dedupe_key=f"incentives:objection:{objection.pk}:answered",
        context={"name": rating.member.name, "stars": rating.stars, "answer": answer},
    )
    return objection


@transaction.atomic
def rating_run_finalize(*, run: RatingRun, actor: Actor) -> RatingRun:
    """定级: after the 公示 has ended and every objection is answered, the stars become final (a member's current
    stars are those of their latest final rating). Lock: the run row."""
    run = _lock_run(run)
    if run.status != RatingRun.Status.PUBLICITY:
        raise ValidationError(
            _("只有公示中的评定可以定级（当前：%(status)s）。") % {"status": run.get_status_display()}
        )
    assert run.publicity_ends_on is not None  # a run in publicity has it (incentives_run_published_has_dates)
    if timezone.localdate() <= run.publicity_ends_on:
        raise ValidationError(_("公示期到 %(date)s 结束，之后才能定级。") % {"date": run.publicity_ends_on.isoformat()})
    pending = Objection.objects.filter(rating__run=run, outcome=Objection.Outcome.PENDING).count()
    if pending:
        raise ValidationError(_("还有 %(n)d 条异议没有答复。") % {"n": pending})
    now = timezone.now()
    run.status = RatingRun.Status.FINAL
    run.finalized_at = now
    run.finalized_by = actor
    run.save(update_fields=["status", "finalized_at", "finalized_by"])
    run.ratings.update(status=StarRating.Status.FINAL, updated_at=now)
    member_cache.members_changed(run.ratings.values_list("member_id", flat=True))  # no signals from update()
    return run


# --- Commendations ----------------------------------------------------------------------------------------------


def can_approve_commendation(user: User, commendation: Commendation) -> bool:
    """An admin of the organization above the nominating one (or higher), or a platform admin."""
    if _is_platform_admin(user):
        return True
    parent_id = commendation.organization.parent_id
    return parent_id is not None and visible_organizations(user).filter(pk=parent_id).exists()


@transaction.atomic
def commendation_nominate(
    *,
    member: Member,
    title: str,
    citation: str,
    actor: Actor,
    organization: Organization | None = None,
    awarded_on: date | None = None,
) -> Commendation:
    """A secretary nominates a member of their scope (推荐), for the organization above to approve.

    `organization` (default: the member's branch) is the nominating organization: in the actor's scope and
    containing the member's branch.
    """
    title = _required_text(title, "title", _("请填写表彰名称。"), 100)
    citation = _required_text(citation, "citation", _("请填写先进事迹。"), 2000)
    member = Member.objects.select_related("organization").get(pk=member.pk)
    organization = organization or member.organization
    check_nomination(member=member, organization=organization, actor=actor)
    return Commendation.objects.create(
        member=member,
        organization=organization,
        title=title,
        citation=citation,
        awarded_on=awarded_on or timezone.localdate(),
        nominated_by=actor,
    )


def check_nomination(*, member: Member, organization: Organization, actor: Actor) -> None:
    """The member and the nominating organization are in the actor's scope, and the member belongs to it."""
    _check_member_in_scope(actor, member)  # refuses a None actor too
    if actor is None or (
        not _is_platform_admin(actor) and not visible_organizations(actor).filter(pk=organization.pk).exists()
    ):
        raise PermissionDenied(_("推荐组织不在您的管理范围内。"))
    if not member.organization.is_in_subtree_of(organization):
        raise ValidationError({"organization": _("该党员不属于推荐组织。")})


def _lock_commendation(commendation: Commendation) -> Commendation:
    return (
        Commendation.objects.select_for_update().select_related("organization", "member__user").get(pk=commendation.pk)
    )


@transaction.atomic
def commendation_approve(*, commendation: Commendation, actor: User) -> Commendation:
    """The organization above approves: the commendation is published (shown once the member consents), the member
    gets the commendation points (once: idempotency key per commendation) and an in-app message.
    Lock: the commendation row."""
    commendation = _lock_commendation(commendation)
    if commendation.status != Commendation.Status.NOMINATED:
        raise ValidationError(_("该推荐已经审批过。"))
    if not can_approve_commendation(actor, commendation):
        raise PermissionDenied(_("表彰须由推荐组织的上级组织审批。"))
    if commendation.nominated_by_id == actor.pk:
        raise PermissionDenied(_("不能审批本人提出的推荐。"))
    commendation.status = Commendation.Status.APPROVED
    commendation.approved_by = actor
    commendation.decided_at = timezone.now()
    commendation.published = True
    commendation.save(update_fields=["status", "approved_by", "decided_at", "published"])
    points_source_sync(source=selectors.commendation_points_source(commendation), actor=actor)
    notify(
        template="incentives_commendation_approved",
        channel=Notification.Channel.INAPP,
        user=commendation.member.user,
        dedupe_key=f"incentives:commendation:{commendation.pk}:approved",
        context={"name": commendation.member.name, "title": commendation.title},
    )
    return commendation


@transaction.atomic
def commendation_decline(*, commendation: Commendation, actor: User, reason: str) -> Commendation:
    """The organization above declines a nomination, with a reason. Lock: the commendation row."""
    reason = _required_text(reason, "reason", _("请填写不予批准的原因。"), 200)
    commendation = _lock_commendation(commendation)
    if commendation.status != Commendation.Status.NOMINATED:
        raise ValidationError(_("该推荐已经审批过。"))
    if not can_approve_commendation(actor, commendation):
        raise PermissionDenied(_("表彰须由推荐组织的上级组织审批。"))
    commendation.status = Commendation.Status.DECLINED
    commendation.approved_by = actor
    commendation.decided_at = timezone.now()
    commendation.decision_note = reason
    commendation.save(update_fields=["status", "approved_by", "decided_at", "decision_note"])
    return commendation


@transaction.atomic
def commendation_set_published(*, commendation: Commendation, actor: User, published: bool) -> Commendation:
    """Show an approved commendation on /exemplars/ (still only with the member's consent) — the approving side's
    decision — or take it down, which the nominating side may do too."""
    commendation = _lock_commendation(commendation)
    if published and commendation.status != Commendation.Status.APPROVED:
        raise ValidationError(_("只有已批准的表彰可以发布。"))
    if published and not can_approve_commendation(actor, commendation):
        raise PermissionDenied(_("表彰须由推荐组织的上级组织发布。"))
    commendation.published = published
    commendation.save(update_fields=["published"])
    return commendation


@transaction.atomic
def commendation_consent(*, commendation: Commendation, member: Member, consent: bool) -> Commendation:
    """The member's own, separate consent to appear on the public exemplars page (条例 §20–21), or its withdrawal."""
    commendation = _lock_commendation(commendation)
    if commendation.member_id != member.pk:
        raise PermissionDenied(_("只能对本人的表彰作出选择。"))
    commendation.member_consented_at = timezone.now() if consent else None
    commendation.save(update_fields=["member_consented_at"])
    return commendation


# --- Scheduled work (incentives/tasks.py; schedules in volunteer_platform/schedules.py) -------------------------


def draft_runs_recompute() -> int:
    """Recompute every draft rating run (each in its own transaction, under its lock), so drafts follow the hours
    verified since; returns how many ratings changed. Idempotent: a run with nothing new writes nothing."""
    changed = 0
    for run_id in RatingRun.objects.filter(status=RatingRun.Status.DRAFT).order_by("pk").values_list("pk", flat=True):
        try:
            changed += rating_run_compute(run=RatingRun(pk=run_id))
        except ValidationError:  # published since the list was read
            continue
    return changed


def publicity_notices_plan(*, today: date | None = None) -> int:
    """The daily 公示 notices; returns the chunks planned plus the messages written.

    - On the last day of a 公示, every rated member is reminded that an objection can still be filed today
      (fanned out in chunks of 500 ratings: `publicity_last_day_send`).
    - Once a 公示 has ended, the organization's secretary and admins are told, with the number of objections
      still to answer, so they finalize (`publicity_ended_send`).
    Each message once (dedupe keys); a rerun writes nothing new."""
    today = today or timezone.localdate()
    chunks = fanout.plan(
        "incentives.tasks.send_publicity_last_day",
        selectors.ratings_on_last_publicity_day(today),
        kwargs={"today": today.isoformat()},
    )
    return chunks + publicity_ended_send(today=today)


def publicity_last_day_send(*, rating_ids: list[int], today: date) -> int:
    """Remind the members of these ratings, if their 公示 still ends `today`, that objections close today; once per
    rating. Kind `points`. Returns the rows written."""
    ratings = (
        selectors.ratings_on_last_publicity_day(today)
        .filter(pk__in=rating_ids)
        .select_related("run__organization", "member__user")
        .order_by("pk")
    )
    messages = []
    for rating in ratings:
        member = rating.member
        messages += user_messages(
            user_id=member.user_id,
            kind="points",
            template="incentives_publicity_last_day",
            dedupe_key=f"incentives:publicity-last-day:{rating.pk}",
            context={
                "name": member.name,
                "organization": rating.run.organization.name,
                "stars": rating.stars,
                "ends_on": today.isoformat(),
            },
            has_email=bool(member.user.email),
            phone=member.phone,
        )
    return notify_many(messages)


def publicity_ended_send(*, today: date) -> int:
    """Tell the managers of each organization whose 公示 ended before `today` and is not finalized yet; once per run
    and person. Kind `work`. Returns the rows written."""
    runs = list(selectors.runs_past_publicity(today))
    managers = organization_managers([run.organization_id for run in runs])
    messages = []
    for run in runs:
        assert run.publicity_ends_on is not None  # a run past its publicity has it (incentives_run_published_has_dates)
        for user in managers.get(run.organization_id, []):
            messages += user_messages(
                user_id=user.pk,
                kind="work",
                template="incentives_publicity_ended",
                dedupe_key=f"incentives:publicity-ended:{run.pk}:{user.pk}",
                context={
                    "organization": run.organization.name,
                    "start": run.period_start.isoformat(),
                    "end": run.period_end.isoformat(),
                    "ends_on": run.publicity_ends_on.isoformat(),
                    "pending_objections": run.pending_objections,  # type: ignore[attr-defined]  # annotated by the selector
                },
                has_email=bool(user.email),
            )
    return notify_many(messages)

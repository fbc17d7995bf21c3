"""The ledger's own writes: award, spend, reverse (冲正), a secretary's adjustment, the balance recomputed from the
entries, and the member's leaderboard choice."""

import uuid
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from core.types import Actor
from members.models import Member, ServiceRecord

from .. import selectors
from ..models import IncentiveProfile, LedgerEntry, PointsBalance, Redemption, Rule
from ._common import _append, _check_member_in_scope, _existing_entry, _lock_balance, _required_text, _reverse, rule_for


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

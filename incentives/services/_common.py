"""What the services share: the checks of text and scope, the ledger's writing primitives (the balance lock, one
entry, a reversal) and the refresh of a member's ratings not yet final that every change of earned points runs."""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.types import Actor
from members.models import Member
from members.selectors import visible_members

from .. import selectors
from ..models import LedgerEntry, PointsBalance, RatingRun, Rule, StarRating

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


def stars_for(value: Decimal, thresholds: Iterable[Decimal | int | str]) -> int:
    """How many thresholds `value` reaches: 99.5 h against [100, …] is ★0, 100 h is ★1."""
    return sum(1 for t in thresholds if value >= Decimal(str(t)))


def _lock_run(run: RatingRun) -> RatingRun:
    return RatingRun.objects.select_for_update().select_related("organization").get(pk=run.pk)

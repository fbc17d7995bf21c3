"""Points of what earns them (the rule table: selectors, "What earns points"): a source's points follow it, and the
repairs of `manage.py reconcile --fix`."""

from typing import Any, cast

from django.db import transaction
from django.utils.translation import gettext as _

from core.types import Actor
from members.events import RecordCountedChanged
from members.models import Member, ServiceRecord

from .. import selectors
from ..models import LedgerEntry
from . import _common  # _common._member_ratings_refresh, looked up at call time: one patch of it reaches every caller
from ._common import _append, _lock_balance, _reverse, rule_for


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
    _common._member_ratings_refresh(source.member_id)
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
    if not record_points_sync(record=event.record, actor=cast(Actor, event.actor)):
        # No points moved (a record from elsewhere earns none), yet its hours may count in a rating not final.
        member_ratings_refresh(member_id=event.record.member_id)


@transaction.atomic
def member_ratings_refresh(*, member_id: int) -> None:
    """Recompute one member's ratings not yet final from the records and the ledger (`manage.py reconcile --fix`).
    Lock: the member's balance row, then those ratings (the order of every ledger write)."""
    _lock_balance(Member(pk=member_id))
    _common._member_ratings_refresh(member_id)


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
    _common._member_ratings_refresh(member_id)
    return written

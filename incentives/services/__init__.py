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

from ._common import DEFAULT_RULES, rule_for, stars_for
from .commendations import (
    can_approve_commendation,
    check_nomination,
    commendation_approve,
    commendation_consent,
    commendation_decline,
    commendation_nominate,
    commendation_set_published,
)
from .earning import (
    ledger_entries_reverse,
    member_ratings_refresh,
    points_source_sync,
    record_counted_changed,
    record_points_sync,
)
from .ledger import adjust, award, balance_recompute, leader_multiplier, leaderboard_opt_out_set, reverse, spend
from .objections import objection_answer, objection_file
from .ratings import (
    default_thresholds,
    rating_run_compute,
    rating_run_create,
    rating_run_finalize,
    rating_run_publish,
    star_scheme_save,
)
from .redemptions import (
    PICKUP_ALPHABET,
    PICKUP_CODE_LENGTH,
    catalogue_item_create,
    catalogue_item_restock,
    catalogue_item_update,
    redemption_approve,
    redemption_cancel,
    redemption_fulfil,
    redemption_request,
)
from .rules import rule_update
from .scheduled import draft_runs_recompute, publicity_ended_send, publicity_last_day_send, publicity_notices_plan

__all__ = [
    "adjust",
    "award",
    "balance_recompute",
    "can_approve_commendation",
    "catalogue_item_create",
    "catalogue_item_restock",
    "catalogue_item_update",
    "check_nomination",
    "commendation_approve",
    "commendation_consent",
    "commendation_decline",
    "commendation_nominate",
    "commendation_set_published",
    "default_thresholds",
    "draft_runs_recompute",
    "leader_multiplier",
    "leaderboard_opt_out_set",
    "ledger_entries_reverse",
    "member_ratings_refresh",
    "objection_answer",
    "objection_file",
    "points_source_sync",
    "publicity_ended_send",
    "publicity_last_day_send",
    "publicity_notices_plan",
    "rating_run_compute",
    "rating_run_create",
    "rating_run_finalize",
    "rating_run_publish",
    "record_counted_changed",
    "record_points_sync",
    "redemption_approve",
    "redemption_cancel",
    "redemption_fulfil",
    "redemption_request",
    "reverse",
    "rule_for",
    "rule_update",
    "spend",
    "star_scheme_save",
    "stars_for",
    "DEFAULT_RULES",
    "PICKUP_ALPHABET",
    "PICKUP_CODE_LENGTH",
]

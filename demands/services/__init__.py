"""Every write of the demands app: the micro-wish state machine, offers, households and pairings.

The wish's life (DESIGN.md, demands):

    submitted → verified → published → claimed → fulfilled → confirmed → closed
    side exits: rejected (with a reason), withdrawn (by the resident), expired (unclaimed past the deadline);
    a claimer may release (back to published); "not yet fulfilled" sends a fulfilled wish back to claimed;
    a fulfilled wish without the resident's answer for FEEDBACK_DAYS closes unconfirmed.

Every transition is a function here. Each takes the wish's row lock first (SELECT … FOR UPDATE), checks the state
under it, changes the row and writes one `WishEvent`, all in one transaction; a forbidden transition raises
`ValidationError` with a Chinese message and changes nothing. Because the claim checks "published" under the lock,
of many members pressing "claim" at once exactly one wins and the others are told the wish is taken. Lock order:
the wish, then the member, then (through members/incentives) the service record and the points balance.

Services do not decide who may call them — views and the admin check scope through `demands.selectors` first —
but rules that belong to the wish itself (only the claimer fulfils or releases their claim) are checked here.
Messages go through `notifications.services.notify` in the same transaction, with event ids in their dedupe keys.
"""

from ..models import ServiceOffer, WishCategory
from ._common import RELEASE_GRACE_DAYS, State, wish_title
from .claims import wish_claim, wish_invite, wish_offer_decline, wish_release
from .contacts import (
    PURGEABLE_STATES,
    contact_access_log,
    network_block,
    phone_block,
    phone_number_block,
    wishes_purge_contacts,
)
from .fulfilment import (
    wish_auto_close,
    wish_confirm_service,
    wish_feedback_remind,
    wish_fulfil,
    wish_rate,
    wish_report_unfulfilled,
    wishes_auto_close_unconfirmed,
    wishes_remind_feedback,
)
from .offers import offer_create, offer_pause, offer_update
from .pairings import household_save, pairing_create, pairing_end, pairing_visit_log
from .review import (
    EDITABLE_STATES,
    REJECTABLE_STATES,
    REVIEW_ACTIONS,
    wish_expire,
    wish_publish,
    wish_reject,
    wish_review_save,
    wish_update,
    wish_verify,
    wish_withdraw,
    wishes_expire_overdue,
)
from .scheduled import (
    CLAIM_ESCALATION_DAYS,
    CLAIM_REMINDER_DAYS,
    OUTBOX_ERASE_CATCHUP_DAYS,
    PURGED_PHONE,
    RESIDENT_SMS_TEMPLATES,
    UNVERIFIED_ESCALATION_HOURS,
    wishes_escalate,
    wishes_process_feedback,
    wishes_purge_outbox,
    wishes_purge_resident_data,
)
from .submission import wish_submit

__all__ = [
    "CLAIM_ESCALATION_DAYS",
    "CLAIM_REMINDER_DAYS",
    "EDITABLE_STATES",
    "OUTBOX_ERASE_CATCHUP_DAYS",
    "PURGEABLE_STATES",
    "PURGED_PHONE",
    "REJECTABLE_STATES",
    "REVIEW_ACTIONS",
    "RELEASE_GRACE_DAYS",
    "RESIDENT_SMS_TEMPLATES",
    "ServiceOffer",
    "State",
    "UNVERIFIED_ESCALATION_HOURS",
    "WishCategory",
    "contact_access_log",
    "household_save",
    "network_block",
    "offer_create",
    "offer_pause",
    "offer_update",
    "pairing_create",
    "pairing_end",
    "pairing_visit_log",
    "phone_block",
    "phone_number_block",
    "wish_auto_close",
    "wish_claim",
    "wish_confirm_service",
    "wish_expire",
    "wish_feedback_remind",
    "wish_fulfil",
    "wish_invite",
    "wish_offer_decline",
    "wish_publish",
    "wish_rate",
    "wish_reject",
    "wish_review_save",
    "wish_release",
    "wish_report_unfulfilled",
    "wish_submit",
    "wish_title",
    "wish_update",
    "wish_verify",
    "wish_withdraw",
    "wishes_auto_close_unconfirmed",
    "wishes_escalate",
    "wishes_expire_overdue",
    "wishes_process_feedback",
    "wishes_purge_contacts",
    "wishes_purge_outbox",
    "wishes_purge_resident_data",
    "wishes_remind_feedback",
]

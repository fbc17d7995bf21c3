"""Scheduled work (demands/tasks.py; schedules in volunteer_platform/schedules.py)."""

from datetime import datetime, timedelta

from django.utils import timezone

from members.selectors import organization_managers
from notifications.models import Notification
from notifications.services import notify_many, user_messages

from .. import selectors
from ..models import MicroWish, WishEvent
from ._common import _review_link, _wish_link, wish_title
from .contacts import wishes_purge_contacts
from .fulfilment import wishes_auto_close_unconfirmed, wishes_remind_feedback
from .review import wishes_expire_overdue

UNVERIFIED_ESCALATION_HOURS = 48  # a submitted wish not verified by then → the community's secretaries
CLAIM_REMINDER_DAYS = 7  # a claim not fulfilled by then → a reminder to the claimer
CLAIM_ESCALATION_DAYS = 14  # … and by then → the community's secretaries


def wishes_escalate(*, now: datetime | None = None, site_url: str = "") -> int:
    """督办, hourly: returns the wishes expired plus the messages written.

    - submitted (not verified) for UNVERIFIED_ESCALATION_HOURS → the community's managers (kind "work");
    - published past the claim deadline → `wishes_expire_overdue` (expired; grid leader and managers are told);
    - claimed and not fulfilled for CLAIM_REMINDER_DAYS → the claimer (kind "wish_update", SMS as they chose);
    - … for CLAIM_ESCALATION_DAYS → the community's managers (kind "work").

    Dedupe keys carry the wish, the stage, the recipient (and for a claim its time, so a new claim after a release
    is followed again): a rerun writes nothing new. Each stage is one `notify_many` batch, outside any lock.
    """
    now = now or timezone.now()
    expired = wishes_expire_overdue(today=timezone.localdate(now))
    messages = []
    unverified = list(
        selectors.wishes_unverified_before(now - timedelta(hours=UNVERIFIED_ESCALATION_HOURS))
        .select_related("community")
        .order_by("pk")
    )
    reminded = list(
        selectors.wishes_claimed_before(now - timedelta(days=CLAIM_REMINDER_DAYS))
        .select_related("community", "claimed_by__user", "claimed_team")
        .order_by("pk")
    )
    # Claimed wishes have claimed_at and claimed_by set (demands_wish_claim_has_time, demands_wish_claimer_iff_held).
    escalated = [
        w for w in reminded if w.claimed_at is not None and w.claimed_at <= now - timedelta(days=CLAIM_ESCALATION_DAYS)
    ]
    managers = organization_managers({w.community.organization_id for w in unverified + escalated})
    for wish in unverified:
        for user in managers.get(wish.community.organization_id, []):
            messages += user_messages(
                user_id=user.pk,
                kind="work",
                template="demands_escalate_unverified",
                dedupe_key=f"demands:escalate-unverified:{wish.pk}:{user.pk}",
                context={
                    "title": wish_title(wish),
                    "wish_id": wish.pk,
                    "community": wish.community.name,
                    "hours": UNVERIFIED_ESCALATION_HOURS,
                    "link": _review_link(wish, site_url),
                },
                has_email=bool(user.email),
            )
    for wish in reminded:
        member = wish.claimed_by
        assert member is not None
        messages += user_messages(
            user_id=member.user_id,
            kind="wish_update",
            template="demands_claim_reminder",
            dedupe_key=f"demands:claim-reminder:{wish.pk}:{wish.claimed_at:%Y%m%d%H%M%S}:{member.user_id}",
            context={
                "title": wish_title(wish),
                "wish_id": wish.pk,
                "days": CLAIM_REMINDER_DAYS,
                "link": _wish_link(wish, site_url),
            },
            has_email=bool(member.user.email),
            phone=member.phone,
        )
    for wish in escalated:
        if wish.claimed_team_id and wish.claimed_team is not None:
            who = wish.claimed_team.name
        else:
            assert wish.claimed_by is not None
            who = wish.claimed_by.public_name
        for user in managers.get(wish.community.organization_id, []):
            messages += user_messages(
                user_id=user.pk,
                kind="work",
                template="demands_claim_overdue",
                dedupe_key=f"demands:claim-overdue:{wish.pk}:{wish.claimed_at:%Y%m%d%H%M%S}:{user.pk}",
                context={
                    "title": wish_title(wish),
                    "wish_id": wish.pk,
                    "community": wish.community.name,
                    "who": who,
                    "days": CLAIM_ESCALATION_DAYS,
                    "link": _review_link(wish, site_url),
                },
                has_email=bool(user.email),
            )
    return expired + notify_many(messages)


def wishes_process_feedback(*, now: datetime | None = None) -> int:
    """Hourly: first close the fulfilled wishes unanswered for WISH_FEEDBACK_DAYS (`wishes_auto_close_unconfirmed`),
    then send the one reminder to residents who have not answered for WISH_FEEDBACK_REMINDER_DAYS
    (`wishes_remind_feedback`: once per fulfilment, recorded as an event). Closing first means a wish past both
    deadlines (the task was down) is closed, not reminded. Returns closed + reminded; a rerun does nothing new."""
    now = now or timezone.now()
    return wishes_auto_close_unconfirmed(now=now) + wishes_remind_feedback(now=now)


# SMS templates that `_tell_resident` uses: their dedupe keys are "<template>:<event id>" (see _tell_resident).
RESIDENT_SMS_TEMPLATES = (
    "demands_submitted",
    "demands_published",
    "demands_rejected",
    "demands_claimed",
    "demands_fulfilled",
    "demands_feedback_reminder",
)
# What stays in recipient_phone of an erased SMS row: the column is encrypted and the check constraint
# `notification_sms_has_phone` forbids "", so an obvious non-number takes its place (an admin retry of such a row
# fails at the provider, as it should: there is nobody to text any more).
PURGED_PHONE = "purged"
OUTBOX_ERASE_CATCHUP_DAYS = 7  # wishes purged this recently are looked at again (an SMS then still pending)
_OUTBOX_KEYS_PER_QUERY = 1000


def wishes_purge_outbox(*, wish_ids: list[int] | None = None, now: datetime | None = None) -> int:
    """Erase the resident's phone and the message context (tracking code, links, names) from the outbox rows of
    the SMS sent about these wishes (default: those purged in the last OUTBOX_ERASE_CATCHUP_DAYS); returns the rows
    erased. Rows still pending are left to be sent and erased by a later run; rows keep channel, template, kind,
    status and times (anonymous figures). Found by their dedupe keys, through the unique index; idempotent
    (an erased row has an empty context and is not counted again)."""
    now = now or timezone.now()
    if wish_ids is None:
        wish_ids = list(
            MicroWish.objects.filter(
                contact_purged_at__gte=now - timedelta(days=OUTBOX_ERASE_CATCHUP_DAYS)
            ).values_list("pk", flat=True)
        )
    event_ids = list(WishEvent.objects.filter(wish_id__in=wish_ids).values_list("pk", flat=True))
    keys = [f"{template}:{event_id}" for event_id in event_ids for template in RESIDENT_SMS_TEMPLATES]
    erased = 0
    for start in range(0, len(keys), _OUTBOX_KEYS_PER_QUERY):
        erased += (
            Notification.objects.filter(
                dedupe_key__in=keys[start : start + _OUTBOX_KEYS_PER_QUERY], channel=Notification.Channel.SMS
            )
            .exclude(status=Notification.Status.PENDING)
            .exclude(context={})
            .update(recipient_phone=PURGED_PHONE, context={})
        )
    return erased


def wishes_purge_resident_data(*, now: datetime | None = None) -> int:
    """Daily: `wishes_purge_contacts` (the wishes themselves), then `wishes_purge_outbox` (the SMS rows about the
    wishes purged now or in the last few days). Returns the wishes purged by this run."""
    now = now or timezone.now()
    purged = wishes_purge_contacts(now=now)
    wishes_purge_outbox(now=now)
    return purged

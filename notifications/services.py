"""Every write of the notifications app. Other apps call `notify` (one message) or `notify_many` with
`user_messages` (a batch, e.g. a fan-out chunk: see notifications/fanout.py).

Delivery is at-least-once from the outbox's point of view and exactly-once in practice: a row is sent only by
the transaction that holds its row lock and moves it out of `pending`, so a duplicated task, a sweeper pass and
an admin retry can overlap without sending twice. The one remaining window is a crash between a channel
accepting the message and the commit that marks the row sent; then the message is handed over again, with the same
reference (the dedupe key) for a provider that deduplicates on it (notifications/sms.py). In-app messages have no
such window: their delivery is that commit.
"""

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.utils import timezone

from core import member_cache

# tasks.py imports this module too: each imports the other as a module and looks its names up when called, so
# either may load first (a dispatch queues its own retry, so the two call each other).
from . import tasks
from .channels import SENDERS, PermanentChannelError
from .kinds import KINDS, OPTIONAL_CHANNELS, get_kind
from .models import Notification, NotificationPreference
from .rendering import check_templates, has_templates, render_message
from .selectors import channels_for, inbox_for, preferences_for_users
from .sms import DeliveryReport
from .validators import check_message, check_recipient

logger = logging.getLogger(__name__)

# Residents are not texted at night (DESIGN.md): an SMS to someone without an account waits for the morning.
QUIET_HOURS_START = time(22, 0)
QUIET_HOURS_END = time(8, 0)

# A transient failure is retried by a task published with a countdown; a longer wait (a retry that falls in the
# quiet hours) is left to the sweeper, because Redis hands an unacknowledged task with a far ETA out again after
# the visibility timeout.
RETRY_TASK_MAX_COUNTDOWN = 600

# How many notification ids one `dispatch_notifications` task carries (notify_many, bench/reminders).
DISPATCH_BATCH = 100


def notify(
    *,
    template: str,
    channel: str,
    dedupe_key: str,
    user: User | None = None,
    phone: str = "",
    email: str = "",
    context: dict | None = None,
    language: str | None = None,
    kind: str | None = None,
) -> Notification | None:
    """Write one message to the outbox in the caller's transaction; dispatch it after that transaction commits.

    Guarantees: if the caller's transaction rolls back, nothing is stored and nothing is sent. One `dedupe_key`
    gives one row however often (or however concurrently) it is called: a second call returns the existing row
    and schedules nothing. The dispatch is published after commit and a broker failure is logged, never raised —
    the sweeper sends the row later. Works the same inside or outside a transaction.

    `context` holds JSON values only (format dates before passing them). `template` names a folder under
    `notifications/templates/notifications/`; a missing template or an unusable recipient raises ValueError /
    TemplateDoesNotExist here, in the caller, rather than failing later in a worker.

    `kind` (a key of notifications.kinds.KINDS) puts the message under the recipient's preferences: an email or
    SMS to a user who has not chosen that channel for the kind is not written at all, and None is returned.
    In-app messages are never skipped. Without a kind, the message is sent on the channel asked for.
    """
    channel = Notification.Channel(channel)
    language = check_message(
        template=template, channel=channel, has_user=user is not None, phone=phone, email=email, language=language
    )
    if kind is not None:
        get_kind(kind)
        if user is not None and channel != Notification.Channel.INAPP and channel not in channels_for(user.pk, kind):
            return None

    existing = Notification.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing
    try:
        # A savepoint: losing the race on dedupe_key must not break the caller's transaction.
        with transaction.atomic():
            notification = Notification.objects.create(
                recipient_user=user,
                recipient_phone=phone,
                recipient_email=email,
                channel=channel,
                template=template,
                context=context or {},
                language=language,
                dedupe_key=dedupe_key,
                kind=kind or "",
                next_attempt_at=_outside_quiet_hours(
                    channel=channel, has_account=user is not None, when=timezone.now(), kind=kind or ""
                ),
            )
    except IntegrityError:
        existing = Notification.objects.filter(dedupe_key=dedupe_key).first()
        if existing is None:
            raise
        return existing
    transaction.on_commit(partial(publish_dispatch, notification.pk))
    return notification


@dataclass(frozen=True)
class Message:
    """One message for `notify_many`: the arguments of `notify`, with the recipient user given by id."""

    template: str
    channel: str
    dedupe_key: str
    user_id: int | None = None
    phone: str = ""
    email: str = ""
    context: dict = field(default_factory=dict)
    kind: str = ""
    language: str | None = None


def user_messages(
    *,
    user_id: int,
    kind: str,
    template: str,
    dedupe_key: str,
    context: dict,
    has_email: bool = False,
    phone: str = "",
    language: str | None = None,
) -> list[Message]:
    """A message to a user on every channel it can take: in-app, email (when the user has an address) and SMS (when
    a `phone` is given), each only if the template has that channel's files. Each channel's dedupe key is
    `dedupe_key` + ":" + the channel. `notify_many` then drops the channels the user has not chosen for `kind`."""
    get_kind(kind)
    channels = [Notification.Channel.INAPP]
    if has_email:
        channels.append(Notification.Channel.EMAIL)
    if phone:
        channels.append(Notification.Channel.SMS)
    return [
        Message(
            template=template,
            channel=channel,
            dedupe_key=f"{dedupe_key}:{channel}",
            user_id=user_id,
            phone=phone if channel == Notification.Channel.SMS else "",
            context=context,
            kind=kind,
            language=language,
        )
        for channel in channels
        if has_templates(template=template, channel=channel)
    ]


def sms_send_now(*, phone: str, template: str, context: dict, reference: str, language: str | None = None) -> None:
    """Render `template`'s SMS text and hand it to the gateway now, without the outbox: for one-time codes
    (members.services.sign_in_codes), which must not be kept readable in a table and are useless late. Raises
    the channel's TransientChannelError / PermanentChannelError; nothing is stored."""
    language = check_message(
        template=template, channel=Notification.Channel.SMS, has_user=False, phone=phone, email="", language=language
    )
    message = Notification(
        channel=Notification.Channel.SMS,
        template=template,
        context=context,
        language=language,
        recipient_phone=phone,
        dedupe_key=reference,
    )
    SENDERS[Notification.Channel.SMS](message, render_message(message))


def notify_many(messages: Iterable[Message]) -> int:
    """Write a batch of messages to the outbox in one transaction; return how many rows are new.

    Per message, the guarantees of `notify`: checked up front (ValueError / TemplateDoesNotExist for the whole
    batch), one row per dedupe key however often the batch is written, email and SMS dropped when the user has not
    chosen them for the message's kind. The batch costs a fixed number of queries (existing keys, preferences, one
    INSERT, the due ids), so a fan-out chunk of 500 recipients stays cheap.

    After the commit, every row of the batch that is still pending and due — new or not — is published for
    dispatch in tasks of DISPATCH_BATCH ids: a rerun of a batch that died between its commit and its publishing
    finishes the job; dispatching a row twice never sends it twice.
    """
    messages = list(messages)
    checked: dict[tuple[str, str], None] = {}
    for message in messages:
        channel = Notification.Channel(message.channel)
        if (message.template, channel) not in checked:
            check_templates(template=message.template, channel=channel)
            checked[(message.template, channel)] = None
        check_recipient(
            channel=channel,
            has_user=message.user_id is not None,
            phone=message.phone,
            email=message.email,
            language=message.language,
        )
        if message.kind:
            get_kind(message.kind)
    wanted = _drop_unwanted_channels(messages)
    if not wanted:
        return 0
    now = timezone.now()
    with transaction.atomic():
        keys = [message.dedupe_key for message in wanted]
        existing = set(Notification.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
        rows: dict[str, Notification] = {}
        for message in wanted:
            if message.dedupe_key in existing or message.dedupe_key in rows:
                continue
            rows[message.dedupe_key] = Notification(
                recipient_user_id=message.user_id,
                recipient_phone=message.phone,
                recipient_email=message.email,
                channel=message.channel,
                template=message.template,
                context=message.context,
                language=message.language or settings.LANGUAGE_CODE,
                kind=message.kind,
                dedupe_key=message.dedupe_key,
                next_attempt_at=_outside_quiet_hours(
                    channel=message.channel, has_account=message.user_id is not None, when=now, kind=message.kind
                ),
            )
        # A concurrent writer of the same keys: its rows win, ours are skipped (the key is the message's identity).
        Notification.objects.bulk_create(rows.values(), ignore_conflicts=True)
        due = list(
            Notification.objects.filter(
                dedupe_key__in=keys, status=Notification.Status.PENDING, next_attempt_at__lte=now
            ).values_list("pk", flat=True)
        )
        transaction.on_commit(partial(publish_dispatch_batch, due))
    return len(rows)


def _drop_unwanted_channels(messages: list[Message]) -> list[Message]:
    """The messages whose channel the recipient user wants for the kind (in-app, and anything without a kind or
    without a user, always passes). One query for the whole batch."""
    asked = {(m.user_id, m.kind) for m in messages if m.kind and m.user_id is not None and m.channel != "inapp"}
    if not asked:
        return messages
    chosen = preferences_for_users({user_id for user_id, _kind in asked}, {kind for _user_id, kind in asked})
    return [
        m
        for m in messages
        if not (m.kind and m.user_id is not None and m.channel != "inapp")
        or m.channel in chosen.get((m.user_id, m.kind), KINDS[m.kind].default_channels)
    ]


def publish_dispatch(notification_id: int, *, countdown: float | None = None) -> bool:
    """Queue the dispatch task (after `countdown` seconds if given); on any failure log a warning and return False.
    Never raises.

    It runs after a commit, often at the end of a request: the row is safe in the outbox, so a broker outage must
    not turn into an error page. The sweeper publishes again later.
    """
    try:
        if countdown is None:
            tasks.dispatch_notification.delay(notification_id)
        else:
            tasks.dispatch_notification.apply_async((notification_id,), countdown=countdown)
    except Exception:  # broker down, DNS, timeout: all mean "the sweeper sends it later"
        logger.warning("could not queue notification %s; the outbox sweeper will retry", notification_id, exc_info=True)
        return False
    return True


def publish_dispatch_batch(notification_ids: list[int]) -> bool:
    """Queue `dispatch_notifications` tasks of DISPATCH_BATCH ids each; like publish_dispatch, never raises and
    stops at the first failure (the sweeper sends the rest)."""
    for start in range(0, len(notification_ids), DISPATCH_BATCH):
        batch = notification_ids[start : start + DISPATCH_BATCH]
        try:
            tasks.dispatch_notifications.delay(batch)
        except Exception:  # as in publish_dispatch: the sweeper sends the rest later
            logger.warning(
                "could not queue %d notifications; the outbox sweeper will retry",
                len(notification_ids) - start,
                exc_info=True,
            )
            return False
    return True


def notification_dispatch(*, notification_id: int) -> bool:
    """Send one pending, due notification through its channel; return True when this call delivered it.

    Lock: the row is taken with `SELECT … FOR UPDATE SKIP LOCKED` and kept until the outcome is stored, so of two
    concurrent dispatches one sends and the other returns at once (on SQLite, where the lock is a no-op, the
    IMMEDIATE transaction serialises them and the second finds the row no longer pending). A sent or failed row is
    never sent again. A transient error counts an attempt, stores the error and schedules the next attempt with
    exponential backoff (NOTIFICATION_RETRY_BASE_SECONDS · 2^(attempts−1)), published as a task with that
    countdown after the commit (the sweeper is the safety net); after NOTIFICATION_MAX_ATTEMPTS, or at once on a
    permanent error, the row is marked failed.
    """
    now = timezone.now()
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification_id, status=Notification.Status.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if notification is None:
            return False
        notification.attempts += 1
        try:
            message = render_message(notification)
            SENDERS[notification.channel](notification, message)
        except (PermanentChannelError, TemplateDoesNotExist, TemplateSyntaxError) as exc:
            notification.status = Notification.Status.FAILED
            notification.last_error = _describe(exc)
        except Exception as exc:  # noqa: BLE001 - any other failure is transient: recorded, retried, bounded
            notification.last_error = _describe(exc)
            if notification.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
                notification.status = Notification.Status.FAILED
            else:
                delay = timedelta(seconds=settings.NOTIFICATION_RETRY_BASE_SECONDS * 2 ** (notification.attempts - 1))
                notification.next_attempt_at = _outside_quiet_hours(
                    channel=notification.channel,
                    has_account=notification.recipient_user_id is not None,
                    when=timezone.now() + delay,
                    kind=notification.kind,
                )
                countdown = (notification.next_attempt_at - timezone.now()).total_seconds()
                if countdown <= RETRY_TASK_MAX_COUNTDOWN:
                    transaction.on_commit(partial(publish_dispatch, notification.pk, countdown=max(countdown, 0)))
        else:
            notification.status = Notification.Status.SENT
            notification.sent_at = timezone.now()
        if notification.status == Notification.Status.FAILED:
            logger.warning("notification %s failed: %s", notification.pk, notification.last_error)
        notification.save(
            update_fields=[
                *("status", "attempts", "last_error", "next_attempt_at", "sent_at", "updated_at"),
                "provider_message_id",  # set by an SMS gateway's sender (channels.send_sms)
            ]
        )
    return notification.status == Notification.Status.SENT


def notification_sweep(*, older_than_seconds: int = 60, limit: int = 500) -> int:
    """Queue a dispatch for up to `limit` pending rows due for at least `older_than_seconds`; return how many.

    The grace period leaves fresh rows to the dispatch published at their commit. Rows go oldest-due first, and
    the pass stops at the first publishing failure (the broker is down; the next pass tries again). A row this
    sweeper queued is stamped (`swept_at`) and left alone for NOTIFICATION_SWEEP_REQUEUE_SECONDS, so a backlog
    that the workers have not reached yet is not queued again on every pass. Publishing twice is harmless all the
    same: dispatch sends a row only once.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=older_than_seconds)
    requeue_before = now - timedelta(seconds=settings.NOTIFICATION_SWEEP_REQUEUE_SECONDS)
    due_ids = list(
        Notification.objects.filter(status=Notification.Status.PENDING, next_attempt_at__lte=cutoff)
        .filter(Q(swept_at__isnull=True) | Q(swept_at__lte=requeue_before))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    published = []
    for notification_id in due_ids:
        if not publish_dispatch(notification_id):
            break
        published.append(notification_id)
    if published:
        Notification.objects.filter(pk__in=published, status=Notification.Status.PENDING).update(swept_at=now)
    return len(published)


@transaction.atomic
def notification_retry(*, notification_id: int) -> bool:
    """Put a failed notification back in the queue with a fresh count of attempts; return False if it was not failed.

    The row is locked while it changes; the dispatch is published after commit.
    """
    notification = (
        Notification.objects.select_for_update().filter(pk=notification_id, status=Notification.Status.FAILED).first()
    )
    if notification is None:
        return False
    notification.status = Notification.Status.PENDING
    notification.attempts = 0
    notification.next_attempt_at = _outside_quiet_hours(
        channel=notification.channel,
        has_account=notification.recipient_user_id is not None,
        when=timezone.now(),
        kind=notification.kind,
    )
    notification.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    transaction.on_commit(partial(publish_dispatch, notification.pk))
    return True


@transaction.atomic
def notifications_forget_user(*, user: User) -> int:
    """Delete every message to `user` — their inbox, and the phone number and address copied onto each email and
    SMS row — and their channel preferences, when their personal information is deleted; returns the messages
    deleted. Nothing is sent to them afterwards: pending rows go too. No lock: deletes of the user's own rows."""
    NotificationPreference.objects.filter(user=user).delete()
    deleted, _by_model = Notification.objects.filter(recipient_user=user).delete()
    return deleted


@transaction.atomic
def inbox_mark_read(*, user: User, notification_id: int | None = None) -> int:
    """Mark one message of `user`'s inbox read (or all of them when no id is given); return how many changed.

    Raises Notification.DoesNotExist when the id is not in this user's inbox, so nobody learns of others' messages.
    """
    rows = inbox_for(user)
    if notification_id is not None:
        rows = rows.filter(pk=notification_id)
        if not rows.exists():
            raise Notification.DoesNotExist
    changed = rows.filter(read_at__isnull=True).update(read_at=timezone.now())
    if changed:
        member_cache.users_changed([user.pk])  # /me/ shows the unread count (a bulk update sends no signal)
    return changed


@transaction.atomic
def preferences_save(*, user: User, choices: Mapping[str, Iterable[str]]) -> None:
    """Store `user`'s channels for each kind in `choices` (kind → the chosen channels among email and SMS; in-app is
    always on, so naming it changes nothing). Kinds not in `choices` keep their current state.

    Raises ValueError for an unknown kind or channel, before anything is written. One row per user and kind
    (unique constraint); of two concurrent saves the later one wins, kind by kind.
    """
    cleaned: dict[str, set[str]] = {}
    for key, channels in choices.items():
        get_kind(key)
        chosen = set(channels) - {Notification.Channel.INAPP}
        unknown = chosen - set(OPTIONAL_CHANNELS)
        if unknown:
            raise ValueError(f"unknown channels: {sorted(unknown)!r}")
        cleaned[key] = chosen
    for key, chosen in cleaned.items():
        NotificationPreference.objects.update_or_create(
            user=user, kind=key, defaults={"email": "email" in chosen, "sms": "sms" in chosen}
        )


def _outside_quiet_hours(*, channel: str, has_account: bool, when: datetime, kind: str = "") -> datetime:
    """`when`, or the end of the quiet hours when `when` falls inside them and the message is an SMS that may wait:
    any SMS to a resident, and an SMS of a `quiet` kind (notifications.kinds) to a member."""
    if channel != Notification.Channel.SMS:
        return when
    if has_account and not (kind in KINDS and KINDS[kind].quiet):
        return when
    local = timezone.localtime(when)
    if QUIET_HOURS_END <= local.time() < QUIET_HOURS_START:
        return when
    day = local.date() if local.time() < QUIET_HOURS_END else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_HOURS_END, tzinfo=local.tzinfo)


def _describe(exc: Exception) -> str:
    return f"{exc.__class__.__name__}: {exc}"[:2000]


# --- SMS delivery receipts ---------------------------------------------------------------------------------------


def sms_receipts_record(*, reports: Iterable[DeliveryReport]) -> int:
    """Mark the SMS rows the reports name delivered or undelivered; return how many rows a report matched.

    Idempotent: a report sent again (the gateways do: Aliyun says its pushes may repeat) writes the same values. One
    UPDATE per report, no lock needed: each sets the delivery fields of one row to what the report says. A report
    that names no row of ours (another system's message, or an outbox row purged since) is skipped.
    """
    matched = 0
    for report in reports:
        rows = Notification.objects.filter(channel=Notification.Channel.SMS)
        if report.reference:
            rows = rows.filter(dedupe_key=report.reference[:200])
        elif report.provider_message_id:
            rows = rows.filter(provider_message_id=report.provider_message_id[:64])
        else:
            continue
        matched += rows.update(
            delivery=Notification.Delivery.DELIVERED if report.delivered else Notification.Delivery.UNDELIVERED,
            delivered_at=report.reported_at or timezone.now(),
            delivery_error="" if report.delivered else report.error[:200],
        )
    return matched

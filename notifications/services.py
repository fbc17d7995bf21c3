"""Every write of the notifications app. Other apps only call `notify`.

Delivery is at-least-once from the outbox's point of view and exactly-once in practice: a row is sent only by
the transaction that holds its row lock and moves it out of `pending`, so a duplicated task, a sweeper pass and
an admin retry can overlap without sending twice. The one remaining window is a crash between a channel
accepting the message and the commit that marks the row sent; then the message is sent again.
"""

import logging
from datetime import datetime, time, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.utils import timezone

from .channels import SENDERS, PermanentChannelError
from .models import Notification
from .rendering import check_templates, render_message
from .selectors import inbox_for

logger = logging.getLogger(__name__)

# Residents are not texted at night (DESIGN.md): an SMS to someone without an account waits for the morning.
QUIET_HOURS_START = time(22, 0)
QUIET_HOURS_END = time(8, 0)


def notify(
    *,
    template: str,
    channel: str,
    dedupe_key: str,
    user: AbstractBaseUser | None = None,
    phone: str = "",
    email: str = "",
    context: dict | None = None,
    language: str | None = None,
) -> Notification:
    """Write one message to the outbox in the caller's transaction; dispatch it after that transaction commits.

    Guarantees: if the caller's transaction rolls back, nothing is stored and nothing is sent. One `dedupe_key`
    gives one row however often (or however concurrently) it is called: a second call returns the existing row
    and schedules nothing. The dispatch is published after commit and a broker failure is logged, never raised —
    the sweeper sends the row later. Works the same inside or outside a transaction.

    `context` holds JSON values only (format dates before passing them). `template` names a folder under
    `notifications/templates/notifications/`; a missing template or an unusable recipient raises ValueError /
    TemplateDoesNotExist here, in the caller, rather than failing later in a worker.
    """
    channel = Notification.Channel(channel)
    check_templates(template=template, channel=channel)
    language = language or settings.LANGUAGE_CODE
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"unknown language: {language!r}")
    if channel == Notification.Channel.INAPP and user is None:
        raise ValueError("an in-app notification needs a user")
    if channel == Notification.Channel.SMS and not phone:
        raise ValueError("an SMS notification needs a phone number")
    if channel == Notification.Channel.EMAIL and not (email or user is not None):
        raise ValueError("an email notification needs an address or a user")

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
                next_attempt_at=_outside_quiet_hours(
                    channel=channel, has_account=user is not None, when=timezone.now()
                ),
            )
    except IntegrityError:
        existing = Notification.objects.filter(dedupe_key=dedupe_key).first()
        if existing is None:
            raise
        return existing
    transaction.on_commit(partial(publish_dispatch, notification.pk))
    return notification


def publish_dispatch(notification_id: int) -> bool:
    """Queue the dispatch task; on any failure log a warning and return False. Never raises.

    It runs after a commit, often at the end of a request: the row is safe in the outbox, so a broker outage must
    not turn into an error page. The sweeper publishes again later.
    """
    from .tasks import dispatch_notification  # tasks.py imports this module

    try:
        dispatch_notification.delay(notification_id)
    except Exception:  # broker down, DNS, timeout: all mean "the sweeper sends it later"
        logger.warning("could not queue notification %s; the outbox sweeper will retry", notification_id, exc_info=True)
        return False
    return True


def notification_dispatch(*, notification_id: int) -> bool:
    """Send one pending, due notification through its channel; return True when this call delivered it.

    Lock: the row is taken with `SELECT … FOR UPDATE SKIP LOCKED` and kept until the outcome is stored, so of two
    concurrent dispatches one sends and the other returns at once (on SQLite, where the lock is a no-op, the
    IMMEDIATE transaction serialises them and the second finds the row no longer pending). A sent or failed row is
    never sent again. A transient error counts an attempt, stores the error and schedules the next attempt with
    exponential backoff (NOTIFICATION_RETRY_BASE_SECONDS · 2^(attempts−1)); after NOTIFICATION_MAX_ATTEMPTS, or at
    once on a permanent error, the row is marked failed.
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
                )
        else:
            notification.status = Notification.Status.SENT
            notification.sent_at = timezone.now()
        if notification.status == Notification.Status.FAILED:
            logger.warning("notification %s failed: %s", notification.pk, notification.last_error)
        notification.save(
            update_fields=["status", "attempts", "last_error", "next_attempt_at", "sent_at", "updated_at"]
        )
    return notification.status == Notification.Status.SENT


def notification_sweep(*, older_than_seconds: int = 60, limit: int = 500) -> int:
    """Queue a dispatch for up to `limit` pending rows due for at least `older_than_seconds`; return how many.

    The grace period leaves fresh rows to the dispatch published at their commit. Rows go oldest-due first, and
    the pass stops at the first publishing failure (the broker is down; the next pass tries again). Publishing
    twice is harmless: dispatch sends a row only once.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    due_ids = list(
        Notification.objects.filter(status=Notification.Status.PENDING, next_attempt_at__lte=cutoff)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    published = 0
    for notification_id in due_ids:
        if not publish_dispatch(notification_id):
            break
        published += 1
    return published


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
    )
    notification.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    transaction.on_commit(partial(publish_dispatch, notification.pk))
    return True


@transaction.atomic
def inbox_mark_read(*, user: AbstractBaseUser, notification_id: int | None = None) -> int:
    """Mark one message of `user`'s inbox read (or all of them when no id is given); return how many changed.

    Raises Notification.DoesNotExist when the id is not in this user's inbox, so nobody learns of others' messages.
    """
    rows = inbox_for(user)
    if notification_id is not None:
        rows = rows.filter(pk=notification_id)
        if not rows.exists():
            raise Notification.DoesNotExist
    return rows.filter(read_at__isnull=True).update(read_at=timezone.now())


def _outside_quiet_hours(*, channel: str, has_account: bool, when: datetime) -> datetime:
    """`when`, or the end of the quiet hours when `when` falls inside them and the message is an SMS to a resident."""
    if channel != Notification.Channel.SMS or has_account:
        return when
    local = timezone.localtime(when)
    if QUIET_HOURS_END <= local.time() < QUIET_HOURS_START:
        return when
    day = local.date() if local.time() < QUIET_HOURS_END else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_HOURS_END, tzinfo=local.tzinfo)


def _describe(exc: Exception) -> str:
    return f"{exc.__class__.__name__}: {exc}"[:2000]

"""Reads of the notifications app."""

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Min, QuerySet
from django.utils import timezone

from .kinds import KINDS
from .models import Notification, NotificationPreference


def inbox_for(user: User) -> QuerySet[Notification]:
    """The user's delivered in-app messages, newest first (served by `notification_inbox_idx`)."""
    return Notification.objects.filter(
        recipient_user=user, channel=Notification.Channel.INAPP, status=Notification.Status.SENT
    ).order_by("-created_at", "-pk")


def unread_count(user: User | AnonymousUser) -> int:
    """How many inbox messages the user has not read; 0 for an anonymous visitor."""
    if not user.is_authenticated:
        return 0
    return inbox_for(user).filter(read_at__isnull=True).count()


def preferences_for(user: User) -> dict[str, frozenset[str]]:
    """Every kind with the optional channels (email, SMS) `user` receives it on: their choice, or the kind's
    defaults while they have not chosen. One query."""
    chosen = {p.kind: p.channels for p in NotificationPreference.objects.filter(user=user)}
    return {key: chosen.get(key, kind.default_channels) for key, kind in KINDS.items()}


def channels_for(user_id: int, kind: str) -> frozenset[str]:
    """The optional channels the user receives `kind` on (their choice, or the kind's defaults). One query."""
    preference = NotificationPreference.objects.filter(user_id=user_id, kind=kind).first()
    return preference.channels if preference is not None else KINDS[kind].default_channels


def preferences_for_users(user_ids: Iterable[int], kinds: Iterable[str]) -> dict[tuple[int, str], frozenset[str]]:
    """The explicit choices of many users for some kinds, keyed by (user id, kind); a missing key means the kind's
    defaults. One query, whatever the number of users (served by the unique (user, kind) index)."""
    rows = NotificationPreference.objects.filter(user_id__in=list(user_ids), kind__in=list(kinds))
    return {(p.user_id, p.kind): p.channels for p in rows}


def oldest_due_age_seconds(now: datetime | None = None) -> int | None:
    """How long, in whole seconds, the oldest pending notification has been due (None when nothing is due).

    A message waiting for the end of the quiet hours or for its next retry is not due, so it does not count as
    late. One aggregate over the partial index `notification_pending_due_idx`.
    """
    now = now or timezone.now()
    oldest = Notification.objects.filter(status=Notification.Status.PENDING, next_attempt_at__lte=now).aggregate(
        oldest=Min("next_attempt_at")
    )["oldest"]
    return None if oldest is None else int((now - oldest).total_seconds())

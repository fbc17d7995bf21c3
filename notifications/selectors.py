"""Reads of the notifications app."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from .models import Notification


def inbox_for(user: AbstractBaseUser) -> QuerySet[Notification]:
    """The user's delivered in-app messages, newest first (served by `notification_inbox_idx`)."""
    return Notification.objects.filter(
        recipient_user=user, channel=Notification.Channel.INAPP, status=Notification.Status.SENT
    ).order_by("-created_at", "-pk")


def unread_count(user: AbstractBaseUser | AnonymousUser) -> int:
    """How many inbox messages the user has not read; 0 for an anonymous visitor."""
    if not user.is_authenticated:
        return 0
    return inbox_for(user).filter(read_at__isnull=True).count()

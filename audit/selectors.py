"""Reads of the audit app."""

from django.db.models import QuerySet
from django.utils import timezone

from core.types import User

from .models import ApiToken


def api_devices(user: User) -> QuerySet[ApiToken]:
    """The user's live API tokens (devices signed in), newest first: /me/ and the API's device list."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()).order_by(
        "-created_at", "-pk"
    )

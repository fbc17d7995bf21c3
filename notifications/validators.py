"""The notifications app's rules: what a message must have to be sendable at all. Services call them before a row is
written; a broken rule is a programming error (ValueError), not a message for a form.
"""

from django.conf import settings

from .models import Notification
from .rendering import check_templates


def check_message(*, template: str, channel: str, has_user: bool, phone: str, email: str, language: str | None) -> str:
    """Refuse what could never be sent (see notify); return the language to store."""
    check_templates(template=template, channel=channel)
    return check_recipient(channel=channel, has_user=has_user, phone=phone, email=email, language=language)


def check_recipient(*, channel: str, has_user: bool, phone: str, email: str, language: str | None) -> str:
    language = language or settings.LANGUAGE_CODE
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"unknown language: {language!r}")
    if channel == Notification.Channel.INAPP and not has_user:
        raise ValueError("an in-app notification needs a user")
    if channel == Notification.Channel.SMS and not phone:
        raise ValueError("an SMS notification needs a phone number")
    if channel == Notification.Channel.EMAIL and not (email or has_user):
        raise ValueError("an email notification needs an address or a user")
    return language

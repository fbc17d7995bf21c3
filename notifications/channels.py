"""Channels: how a rendered message reaches its recipient. `SENDERS` maps each channel to its sender.

A sender returns when the message is handed over, raises `TransientChannelError` when trying again later may
succeed and `PermanentChannelError` when it never will. `services.notification_dispatch` records either.
"""

import smtplib
from collections.abc import Callable

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

from .models import Notification
from .rendering import RenderedMessage, sms_variables
from .sms import BaseSMSBackend, OutgoingSMS


class ChannelError(Exception):
    """A channel could not deliver a message."""


class TransientChannelError(ChannelError):
    """Delivery failed but may succeed later (timeout, provider outage, rate limit): the row is retried."""


class PermanentChannelError(ChannelError):
    """Delivery can never succeed (no address, a refused recipient): the row is marked failed at once."""


def send_inapp(notification: Notification, message: RenderedMessage) -> None:
    """The inbox shows sent in-app rows, so marking the row sent is the delivery."""


def send_email(notification: Notification, message: RenderedMessage) -> None:
    address = notification.recipient_email
    if not address and notification.recipient_user is not None:
        address = notification.recipient_user.email
    if not address:
        raise PermanentChannelError("收件人没有邮箱地址")
    try:
        send_mail(message.subject, message.body, None, [address])
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentChannelError(f"邮件服务器拒收：{exc}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientChannelError(f"{exc.__class__.__name__}: {exc}") from exc


def sms_backend() -> BaseSMSBackend:
    """The backend named by `settings.SMS_BACKEND`, looked up on each use so tests may override the setting."""
    return import_string(settings.SMS_BACKEND)()


def send_sms(notification: Notification, message: RenderedMessage) -> None:
    context = notification.context or {}
    params = tuple((name, str(context.get(name, ""))) for name in sms_variables(notification.template))
    notification.provider_message_id = sms_backend().send_message(
        OutgoingSMS(
            phone=notification.recipient_phone,
            text=message.body,
            reference=notification.dedupe_key,
            template=notification.template,
            params=params,
        )
    )[:64]


SENDERS: dict[str, Callable[[Notification, RenderedMessage], None]] = {
    Notification.Channel.INAPP: send_inapp,
    Notification.Channel.EMAIL: send_email,
    Notification.Channel.SMS: send_sms,
}

"""SMS backends. `settings.SMS_BACKEND` names the one in use (a dotted path), like Django's EMAIL_BACKEND.

A real provider's backend subclasses `BaseSMSBackend` and raises `TransientChannelError` for what may succeed
later (timeouts, rate limits, provider outages) and `PermanentChannelError` for what never will (an invalid number,
a number that opted out); anything else it raises counts as transient.

`reference` is the outbox row's dedupe key. A provider backend passes it as the provider's own idempotency key
(e.g. Aliyun's OutId), so a message sent again after a crash between the provider's acceptance and the outbox's
commit can be recognised by the provider instead of reaching the phone twice.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from core.crypto import mask_phone

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutgoingSMS:
    """One message as the outbox hands it to a backend: the rendered text, and for gateways that send approved
    templates rather than text (Aliyun, Tencent Cloud: notifications/sms_gateways.py) the template's key and the
    values of its variables, in the order the text uses them (`rendering.sms_variables`)."""

    phone: str
    text: str
    reference: str = ""
    template: str = ""
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DeliveryReport:
    """One report of a gateway's receipt: the outbox row it names (by our reference, or by the gateway's id), whether
    the phone received the message, when, and the gateway's code and text when it did not."""

    reference: str
    provider_message_id: str
    delivered: bool
    reported_at: datetime | None
    error: str = ""


class BaseSMSBackend:
    def send(self, phone: str, text: str, *, reference: str = "") -> None:
        """Hand one message to the provider; return only when the provider has accepted it."""
        raise NotImplementedError

    def send_message(self, message: OutgoingSMS) -> str:
        """What the outbox calls: `send` with the text, unless a backend needs the template and its values. Returns
        the gateway's id of the message when it gives one (its delivery receipt names it), else ""."""
        self.send(message.phone, message.text, reference=message.reference)
        return ""


class ConsoleSMSBackend(BaseSMSBackend):
    """For development: writes the message to stdout and the log, with the number masked (it is personal data)."""

    def send(self, phone: str, text: str, *, reference: str = "") -> None:
        logger.info("SMS to %s: %s", mask_phone(phone), text)
        print(f"[SMS to {mask_phone(phone)}] {text}", flush=True)


@dataclass(frozen=True)
class SMSMessage:
    phone: str
    text: str
    reference: str = ""


# What LocmemSMSBackend has sent in this process; tests read and clear it.
outbox: list[SMSMessage] = []


class LocmemSMSBackend(BaseSMSBackend):
    """For tests: keeps the messages in `notifications.sms.outbox`, like Django's locmem email backend."""

    def send(self, phone: str, text: str, *, reference: str = "") -> None:
        outbox.append(SMSMessage(phone=phone, text=text, reference=reference))

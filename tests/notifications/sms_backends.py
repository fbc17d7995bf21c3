"""SMS backends that misbehave on purpose, selected with the `settings` fixture."""

import time

from notifications import sms
from notifications.channels import PermanentChannelError, TransientChannelError


class UnavailableSMSBackend(sms.BaseSMSBackend):
    def send(self, phone: str, text: str, *, reference: str = "") -> None:
        raise TransientChannelError("provider timeout")


class CrashingSMSBackend(sms.BaseSMSBackend):
    def send(self, phone: str, text: str, *, reference: str = "") -> None:
        raise RuntimeError("unexpected provider reply")


class RejectingSMSBackend(sms.BaseSMSBackend):
    def send(self, phone: str, text: str, *, reference: str = "") -> None:
        raise PermanentChannelError("number opted out")


class SlowSMSBackend(sms.BaseSMSBackend):
    """Delivers to the locmem outbox after a pause, so that two concurrent dispatches surely overlap."""

    def send(self, phone: str, text: str, *, reference: str = "") -> None:
        time.sleep(0.5)
        sms.outbox.append(sms.SMSMessage(phone=phone, text=text, reference=reference))

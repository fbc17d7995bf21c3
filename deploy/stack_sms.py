"""The stack test's SMS "provider": every delivery is a row in `stack_sms_delivery`, keyed by the message's
reference (the outbox row's dedupe key).

It runs inside `notification_dispatch`'s transaction, on the same connection, so a delivery row exists exactly when
the outbox row was committed as sent: a worker killed half-way leaves neither. A second delivery of one message is
refused by the primary key and reported as a permanent failure, which marks the outbox row failed, where the
stack test sees it. The table is created by deploy/stack_test.py.
"""

import logging
import os
import time

from django.db import IntegrityError, connection, transaction

from notifications.channels import PermanentChannelError
from notifications.sms import BaseSMSBackend

logger = logging.getLogger(__name__)

TABLE = """
    CREATE TABLE IF NOT EXISTS stack_sms_delivery (
        reference varchar(200) PRIMARY KEY,
        worker_pid integer NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp()
    )"""


class RecordingSMSBackend(BaseSMSBackend):
    def send(self, phone: str, text: str, *, reference: str = "") -> None:
        # A provider's round trip (STACK_SMS_DELAY_MS), so that a batch takes long enough to be killed half-way.
        time.sleep(int(os.environ.get("STACK_SMS_DELAY_MS", "0")) / 1000)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO stack_sms_delivery (reference, worker_pid) VALUES (%s, %s)", [reference, os.getpid()]
                )
        except IntegrityError:
            raise PermanentChannelError(f"delivered twice: {reference}") from None
        # With the request id of the web request that enqueued the dispatch (the stack test looks for it).
        logger.info("SMS delivered: %s", reference)

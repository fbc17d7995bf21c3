"""A test-only SMS backend for real workers: every attempt and every delivery is a row in the test database.

It runs inside `notification_dispatch`'s transaction, on the same connection, so a delivery row exists exactly
when the outbox row was committed as sent — a worker killed half-way leaves neither. The delivery table's primary
key is the message's reference (its dedupe key): a second delivery of one message is refused by the database and
reported as a permanent failure, which marks the outbox row failed where a test sees it.

The phone number's prefix picks the behaviour:
  138…  delivers after a 5 ms pause (a paced batch, so a test can kill a worker in the middle of it)
  139…  delivers at once
  135…  fails transiently twice (a provider timeout), then delivers
  137…  always fails transiently
  136…  fails permanently (the number is out of service)
"""

import os
import time

from django.db import IntegrityError, connection, transaction

from notifications.channels import PermanentChannelError, TransientChannelError
from notifications.sms import BaseSMSBackend

TABLES = {
    "reliability_attempt": """
        CREATE TABLE IF NOT EXISTS reliability_attempt (
            id bigserial PRIMARY KEY,
            reference varchar(200) NOT NULL,
            worker_pid integer NOT NULL,
            at timestamptz NOT NULL DEFAULT clock_timestamp()
        )""",
    "reliability_delivery": """
        CREATE TABLE IF NOT EXISTS reliability_delivery (
            reference varchar(200) PRIMARY KEY,
            worker_pid integer NOT NULL,
            at timestamptz NOT NULL DEFAULT clock_timestamp()
        )""",
}


class RecordingSMSBackend(BaseSMSBackend):
    def send(self, phone: str, text: str, *, reference: str = "") -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO reliability_attempt (reference, worker_pid) VALUES (%s, %s)", [reference, os.getpid()]
            )
            cursor.execute("SELECT count(*) FROM reliability_attempt WHERE reference = %s", [reference])
            attempt = cursor.fetchone()[0]
            if phone.startswith("136"):
                raise PermanentChannelError("号码已停机")
            if phone.startswith("137") or (phone.startswith("135") and attempt <= 2):
                raise TransientChannelError("短信平台超时")
            if phone.startswith("138"):
                time.sleep(0.005)
            try:
                with transaction.atomic():
                    cursor.execute(
                        "INSERT INTO reliability_delivery (reference, worker_pid) VALUES (%s, %s)",
                        [reference, os.getpid()],
                    )
            except IntegrityError as exc:
                raise PermanentChannelError(f"duplicate delivery of {reference}") from exc

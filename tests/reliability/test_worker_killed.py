"""A worker killed with SIGKILL in the middle of a batch of 1,000 notifications: after a new worker starts, every
notification is delivered exactly once."""

import os
import signal
import time

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count

from notifications import fanout
from notifications.models import Notification
from tests.conftest import wait_until
from tests.reliability.conftest import VISIBILITY_TIMEOUT, settle

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

BATCH = 400
User = get_user_model()


def test_sigkill_in_the_middle_of_a_batch_loses_nothing_and_sends_nothing_twice(start_worker, delivery_log):
    started = time.monotonic()
    User.objects.bulk_create([User(username=f"r{i:04d}", password="!") for i in range(BATCH)])
    first = start_worker()

    # The planner fans the batch out: 10 chunks of 40, each writes its rows and queues their dispatch.
    recipients = User.objects.filter(username__startswith="r")
    chunks = fanout.plan("tests.reliability.tasks.sms_chunk", recipients, chunk=40, kwargs={"campaign": "kill"})
    assert chunks == 10

    wait_until(lambda: delivery_log.delivered() >= BATCH // 4, timeout=30, interval=0.02)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    at_kill = delivery_log.delivered()
    assert at_kill < BATCH, "the worker finished before it could be killed: nothing was tested"

    second = start_worker()
    # The rest of the queue, and — after the visibility timeout — the batch the first worker died holding.
    wait_until(lambda: delivery_log.delivered() == BATCH, timeout=40, interval=0.2)
    settle(VISIBILITY_TIMEOUT + 2)  # any message handed out again has had time to run

    assert delivery_log.delivered() == BATCH  # the table's primary key (the message) makes a second delivery fail
    rows = Notification.objects.filter(dedupe_key__startswith="kill:")
    assert rows.count() == BATCH
    assert dict(rows.values_list("status").annotate(n=Count("pk")).order_by()) == {"sent": BATCH}
    assert set(rows.values_list("attempts", flat=True)) == {1}
    assert not rows.exclude(last_error="").exists()
    by_worker = delivery_log.by_worker()
    assert set(by_worker) == {first.pid, second.pid}
    assert by_worker[first.pid] == at_kill
    assert time.monotonic() - started < 60

"""Channel errors with a real worker: a transient error is retried with backoff and recorded; a permanent one marks
the notification failed at once; an error that never clears stops after the last allowed attempt."""

import pytest

from notifications.models import Notification
from notifications.services import notify
from notifications.tasks import sweep_outbox
from tests.conftest import wait_until
from tests.reliability.conftest import MAX_ATTEMPTS, RETRY_BASE_SECONDS, settle

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

TOLERANCE = 0.2  # seconds: timers and clocks of two processes


def sms(user, key, phone):
    return notify(template="welcome", channel="sms", dedupe_key=key, user=user, phone=phone, context={"name": "李明"})


def status(notification):
    return Notification.objects.get(pk=notification.pk).status


def test_a_transient_error_is_retried_with_backoff_and_recorded(start_worker, delivery_log, member_user):
    start_worker()

    flaky = sms(member_user, "flaky", "13500000001")  # the provider times out twice, then accepts

    wait_until(lambda: status(flaky) == Notification.Status.SENT, timeout=20)
    flaky.refresh_from_db()
    assert flaky.attempts == 3
    assert flaky.last_error == "TransientChannelError: 短信平台超时"  # kept for the admin after the success
    first, second, third = delivery_log.attempt_times("flaky")
    assert second - first >= RETRY_BASE_SECONDS - TOLERANCE  # 1 s, then
    assert third - second >= 2 * RETRY_BASE_SECONDS - TOLERANCE  # 2 s: the backoff doubles
    assert third < 10  # retried by the countdown task, not left for the sweeper's next minute
    assert delivery_log.delivered("flaky") == 1


def test_permanent_errors_fail_at_once_and_endless_transient_ones_stop_at_the_last_attempt(
    start_worker, delivery_log, member_user
):
    start_worker()

    dead = sms(member_user, "dead", "13600000001")  # number out of service
    down = sms(member_user, "down", "13700000001")  # the provider never answers

    wait_until(lambda: {status(dead), status(down)} == {Notification.Status.FAILED}, timeout=20)
    sweep_outbox.delay(older_than_seconds=0)  # a sweep finds nothing to retry
    settle(2 * RETRY_BASE_SECONDS + 1)

    dead.refresh_from_db()
    down.refresh_from_db()
    assert (dead.status, dead.attempts, dead.last_error) == ("failed", 1, "PermanentChannelError: 号码已停机")
    assert (down.status, down.attempts, down.last_error) == (
        "failed",
        MAX_ATTEMPTS,
        "TransientChannelError: 短信平台超时",
    )
    assert len(delivery_log.attempt_times("dead")) == 1
    assert len(delivery_log.attempt_times("down")) == MAX_ATTEMPTS
    assert delivery_log.delivered() == 0

"""notification_sweep(): pending rows left behind (a lost task, a broker outage) are sent later, and only those."""

import itertools
import logging
from datetime import timedelta
from unittest import mock

from kombu.exceptions import OperationalError

from notifications.models import Notification
from notifications.services import notification_sweep, notify
from notifications.tasks import dispatch_notification, sweep_outbox

_numbers = itertools.count(1000)


def pending_sms(key, *, due_seconds_ago, status=Notification.Status.PENDING, clock):
    notification = notify(template="welcome", channel="sms", dedupe_key=key, phone=f"1380000{next(_numbers)}")
    Notification.objects.filter(pk=notification.pk).update(
        status=status,
        next_attempt_at=clock.now - timedelta(seconds=due_seconds_ago),
        sent_at=clock.now if status == Notification.Status.SENT else None,
    )
    return notification


def broker_down():
    refused = OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    return mock.patch.object(dispatch_notification, "delay", side_effect=refused)


def test_sweeper_sends_only_pending_rows_due_longer_than_the_grace_period(db, clock, sms_outbox):
    left_behind = pending_sms("left-behind", due_seconds_ago=120, clock=clock)
    pending_sms("fresh", due_seconds_ago=10, clock=clock)  # its own dispatch may still be on the way
    pending_sms("retry-later", due_seconds_ago=-300, clock=clock)
    pending_sms("already-sent", due_seconds_ago=600, status=Notification.Status.SENT, clock=clock)
    pending_sms("given-up", due_seconds_ago=600, status=Notification.Status.FAILED, clock=clock)

    assert sweep_outbox() == 1

    assert [m.phone for m in sms_outbox] == [left_behind.recipient_phone]
    statuses = dict(Notification.objects.values_list("dedupe_key", "status"))
    assert statuses == {
        "left-behind": "sent",
        "fresh": "pending",
        "retry-later": "pending",
        "already-sent": "sent",
        "given-up": "failed",
    }


def test_sweeper_takes_the_longest_waiting_rows_first_and_stops_at_the_limit(db, clock, sms_outbox):
    pending_sms("b", due_seconds_ago=200, clock=clock)
    pending_sms("aaa", due_seconds_ago=300, clock=clock)
    pending_sms("cc", due_seconds_ago=100, clock=clock)

    assert notification_sweep(limit=2) == 2

    assert set(Notification.objects.filter(status="sent").values_list("dedupe_key", flat=True)) == {"aaa", "b"}


def test_broker_outage_delays_a_message_and_loses_none(
    db, member_user, clock, mailoutbox, django_capture_on_commit_callbacks, caplog
):
    with broker_down(), caplog.at_level(logging.WARNING, logger="notifications.services"):
        with django_capture_on_commit_callbacks(execute=True):
            notification = notify(template="welcome", channel="email", dedupe_key="outage", user=member_user)
        # The sweeper, too, gives up quietly while the broker is down.
        clock.advance(120)
        assert notification_sweep() == 0

    assert mailoutbox == []
    assert Notification.objects.get(pk=notification.pk).status == Notification.Status.PENDING
    assert f"could not queue notification {notification.pk}" in caplog.text

    # The broker is back: the next pass sends the message.
    assert notification_sweep() == 1
    assert len(mailoutbox) == 1
    assert Notification.objects.get(pk=notification.pk).status == Notification.Status.SENT


def test_a_swept_row_is_not_queued_again_until_the_requeue_delay_has_passed(db, clock, settings):
    """A backlog the workers have not reached yet: the next passes leave the queued rows alone, then queue again."""
    settings.NOTIFICATION_SWEEP_REQUEUE_SECONDS = 300
    left_behind = pending_sms("slow-queue", due_seconds_ago=120, clock=clock)
    with mock.patch.object(dispatch_notification, "delay") as queued:  # queued, but no worker takes it yet
        assert notification_sweep() == 1
        clock.advance(60)
        assert notification_sweep() == 0
        clock.advance(239)
        assert notification_sweep() == 0
        clock.advance(2)  # 301 s after the first pass: the task may be lost; queue it once more
        assert notification_sweep() == 1
    assert [c.args for c in queued.call_args_list] == [(left_behind.pk,), (left_behind.pk,)]
    assert Notification.objects.get(pk=left_behind.pk).status == Notification.Status.PENDING


def test_a_failed_publish_does_not_stamp_the_row(db, clock, sms_outbox):
    left_behind = pending_sms("outage", due_seconds_ago=120, clock=clock)
    with broker_down():
        assert notification_sweep() == 0
    assert Notification.objects.get(pk=left_behind.pk).swept_at is None
    assert notification_sweep() == 1  # the broker is back: queued (and, eagerly, sent) at once
    assert [m.phone for m in sms_outbox] == [left_behind.recipient_phone]

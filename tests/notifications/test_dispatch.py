"""notification_dispatch(): retries with backoff, permanent failures, and never a second delivery."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from notifications.models import Notification
from notifications.services import notification_dispatch, notify
from tests.factories import UserFactory

SLOW = "tests.notifications.sms_backends.SlowSMSBackend"
UNAVAILABLE = "tests.notifications.sms_backends.UnavailableSMSBackend"
CRASHING = "tests.notifications.sms_backends.CrashingSMSBackend"
REJECTING = "tests.notifications.sms_backends.RejectingSMSBackend"
LOCMEM = "notifications.sms.LocmemSMSBackend"


def sms_to_resident(key="sms:1", phone="13800001234"):
    return notify(template="welcome", channel="sms", dedupe_key=key, phone=phone, context={"name": "李四"})


@pytest.fixture
def retry_policy(settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 10
    return settings


def test_transient_failure_is_recorded_and_retried_after_the_backoff(
    db, settings, retry_policy, clock, sms_outbox, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND = UNAVAILABLE
    with django_capture_on_commit_callbacks(execute=True):
        notification = sms_to_resident()

    notification.refresh_from_db()
    assert notification.status == Notification.Status.PENDING
    assert notification.attempts == 1
    assert notification.last_error == "TransientChannelError: provider timeout"
    assert notification.next_attempt_at == clock.now + timedelta(seconds=10)
    assert sms_outbox == []

    # Not due yet: a dispatch now (a duplicate task, say) neither sends nor counts an attempt.
    clock.advance(9)
    settings.SMS_BACKEND = LOCMEM
    assert notification_dispatch(notification_id=notification.pk) is False
    notification.refresh_from_db()
    assert notification.attempts == 1

    clock.advance(1)
    assert notification_dispatch(notification_id=notification.pk) is True
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert notification.attempts == 2
    assert notification.sent_at == clock.now
    assert len(sms_outbox) == 1


def test_backoff_doubles_and_the_last_allowed_attempt_marks_failed(db, settings, retry_policy, clock, sms_outbox):
    settings.SMS_BACKEND = UNAVAILABLE
    notification = sms_to_resident()

    for attempt, delay in [(1, 10), (2, 20)]:
        assert notification_dispatch(notification_id=notification.pk) is False
        notification.refresh_from_db()
        assert (notification.status, notification.attempts) == (Notification.Status.PENDING, attempt)
        assert notification.next_attempt_at - clock.now == timedelta(seconds=delay)
        clock.advance(delay)

    assert notification_dispatch(notification_id=notification.pk) is False
    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert notification.attempts == 3

    settings.SMS_BACKEND = LOCMEM
    clock.advance(3600)
    assert notification_dispatch(notification_id=notification.pk) is False
    notification.refresh_from_db()
    assert notification.attempts == 3
    assert sms_outbox == []


def test_unexpected_backend_error_counts_as_transient(db, settings, retry_policy, clock):
    settings.SMS_BACKEND = CRASHING
    notification = sms_to_resident()

    notification_dispatch(notification_id=notification.pk)

    notification.refresh_from_db()
    assert notification.status == Notification.Status.PENDING
    assert notification.attempts == 1
    assert notification.last_error == "RuntimeError: unexpected provider reply"


def test_permanent_failure_marks_failed_at_once_and_is_never_tried_again(db, settings, clock, sms_outbox):
    settings.SMS_BACKEND = REJECTING
    notification = sms_to_resident()

    assert notification_dispatch(notification_id=notification.pk) is False
    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert notification.attempts == 1
    assert notification.last_error == "PermanentChannelError: number opted out"

    settings.SMS_BACKEND = LOCMEM
    clock.advance(3600)
    assert notification_dispatch(notification_id=notification.pk) is False
    notification.refresh_from_db()
    assert notification.attempts == 1
    assert sms_outbox == []


def test_email_to_a_user_without_an_address_fails_permanently(db, mailoutbox):
    user = UserFactory(email="")
    notification = notify(template="welcome", channel="email", dedupe_key="no-address", user=user)

    notification_dispatch(notification_id=notification.pk)

    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert "没有邮箱地址" in notification.last_error
    assert mailoutbox == []


def test_template_error_at_send_time_fails_permanently(db, member_user, test_templates):
    # Created directly: notify() would refuse the broken template up front.
    notification = Notification.objects.create(
        recipient_user=member_user, channel="inapp", template="broken", dedupe_key="broken"
    )

    notification_dispatch(notification_id=notification.pk)

    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert notification.last_error.startswith("TemplateSyntaxError")


def test_dispatch_of_an_unknown_id_does_nothing(db):
    assert notification_dispatch(notification_id=999_999) is False


# --- Residents' quiet hours -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("hour", "wait_hours"), [(23, 9), (7, 1)])
def test_sms_to_a_resident_waits_for_the_end_of_quiet_hours(
    db, clock, sms_outbox, django_capture_on_commit_callbacks, hour, wait_hours
):
    clock.set_local(hour)
    with django_capture_on_commit_callbacks(execute=True):
        notification = sms_to_resident()

    notification.refresh_from_db()
    assert notification.next_attempt_at == clock.now + timedelta(hours=wait_hours)
    assert notification.status == Notification.Status.PENDING
    assert sms_outbox == []

    clock.advance(wait_hours * 3600)
    assert notification_dispatch(notification_id=notification.pk) is True
    assert len(sms_outbox) == 1


def test_sms_to_a_member_is_not_held_by_quiet_hours(
    db, member_user, clock, sms_outbox, django_capture_on_commit_callbacks
):
    clock.set_local(23)
    with django_capture_on_commit_callbacks(execute=True):
        notify(template="welcome", channel="sms", dedupe_key="m", user=member_user, phone="13900005678")

    assert len(sms_outbox) == 1


# --- Two dispatches at the same moment ------------------------------------------------------------------------


@pytest.mark.postgres
def test_two_concurrent_dispatches_deliver_once(transactional_db, settings, sms_outbox):
    """The slow backend holds the first dispatch inside its transaction while the second one runs."""
    settings.SMS_BACKEND = SLOW
    user = UserFactory()
    # Created directly, so that no dispatch runs at commit: the two threads below are the only ones.
    notification = Notification.objects.create(
        recipient_user=user, recipient_phone="13800001234", channel="sms", template="welcome", dedupe_key="twice"
    )
    barrier = threading.Barrier(2)
    results: list[bool] = []
    errors: list[BaseException] = []

    def dispatch():
        try:
            barrier.wait(timeout=5)
            results.append(notification_dispatch(notification_id=notification.pk))
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)

    assert errors == []
    assert sorted(results) == [False, True]
    assert len(sms_outbox) == 1
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert notification.attempts == 1

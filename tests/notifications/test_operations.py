"""Operations: retries published with their backoff, quiet kinds, the outbox in the admin, and /healthz."""

from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse

from notifications.models import Notification
from notifications.services import RETRY_TASK_MAX_COUNTDOWN, notification_dispatch, notify
from notifications.tasks import dispatch_notification
from tests.factories import UserFactory

UNAVAILABLE = "tests.notifications.sms_backends.UnavailableSMSBackend"


# --- Retries ----------------------------------------------------------------------------------------------------


def test_a_transient_failure_publishes_the_retry_with_its_backoff(
    db, settings, clock, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND = UNAVAILABLE
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 30
    notification = notify(template="welcome", channel="sms", dedupe_key="r", phone="13800001234")

    with (
        mock.patch.object(dispatch_notification, "apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        notification_dispatch(notification_id=notification.pk)
        clock.advance(30)
        notification_dispatch(notification_id=notification.pk)

    assert [c.kwargs["countdown"] for c in apply_async.call_args_list] == [30, 60]
    assert all(c.args == ((notification.pk,),) for c in apply_async.call_args_list)
    notification.refresh_from_db()
    assert (notification.attempts, notification.last_error) == (2, "TransientChannelError: provider timeout")


def test_a_retry_too_far_away_is_left_to_the_sweeper(db, settings, clock, django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = UNAVAILABLE
    settings.NOTIFICATION_RETRY_BASE_SECONDS = RETRY_TASK_MAX_COUNTDOWN + 1
    notification = notify(template="welcome", channel="sms", dedupe_key="r", phone="13800001234")

    with (
        mock.patch.object(dispatch_notification, "apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        notification_dispatch(notification_id=notification.pk)

    assert apply_async.call_count == 0
    assert Notification.objects.get(pk=notification.pk).status == Notification.Status.PENDING


# --- Quiet hours by kind ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "hour", "waits_hours"),
    [
        ("digest", 23, 9),  # not urgent: waits for 08:00
        ("points", 6, 2),
        ("activity_reminder", 23, 0),  # about to happen: goes at once
        ("digest", 12, 0),  # daytime
        (None, 23, 0),
    ],
)
def test_an_sms_to_a_member_waits_for_the_morning_only_when_its_kind_may_wait(
    db, member_user, clock, kind, hour, waits_hours
):
    from notifications.services import preferences_save

    clock.set_local(hour)
    if kind:
        preferences_save(user=member_user, choices={kind: ["sms"]})
    notification = notify(
        template="welcome", channel="sms", dedupe_key="q", user=member_user, phone="13900005678", kind=kind
    )

    assert notification.next_attempt_at == clock.now + timedelta(hours=waits_hours)


# --- Admin ------------------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client_(client, platform_admin):
    client.force_login(platform_admin)
    return client


def test_outbox_admin_filters_by_kind(admin_client_):
    user = UserFactory()
    notify(template="welcome", channel="inapp", dedupe_key="a", user=user, kind="training")
    notify(template="welcome", channel="inapp", dedupe_key="b", user=user, kind="digest")
    notify(template="welcome", channel="inapp", dedupe_key="c", user=user)
    changelist = reverse("admin:notifications_notification_changelist")

    response = admin_client_.get(changelist)
    content = response.content.decode()
    assert "培训提醒" in content and "工作简报（书记）" in content  # the filter and the column

    for value, expected in [("training", {"a"}), ("digest", {"b"}), ("-", {"c"})]:
        response = admin_client_.get(changelist, {"kind": value})
        assert {n.dedupe_key for n in response.context["cl"].result_list} == expected


def test_failed_messages_can_be_retried_by_a_platform_admin(admin_client_, django_capture_on_commit_callbacks):
    notification = notify(template="welcome", channel="inapp", dedupe_key="f", user=UserFactory(), kind="training")
    Notification.objects.filter(pk=notification.pk).update(status="failed", attempts=5)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            reverse("admin:notifications_notification_changelist"),
            {"action": "retry_failed", "_selected_action": [notification.pk]},
            follow=True,
        )

    assert response.status_code == 200
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 1)


def test_preferences_admin_is_read_only(admin_client_, member_user):
    from notifications.services import preferences_save

    preferences_save(user=member_user, choices={"training": ["email"]})

    response = admin_client_.get(reverse("admin:notifications_notificationpreference_changelist"))

    assert response.status_code == 200
    assert "培训提醒" in response.content.decode()
    assert admin_client_.get(reverse("admin:notifications_notificationpreference_add")).status_code == 403


# --- /healthz ---------------------------------------------------------------------------------------------------


def test_healthz_reports_the_age_of_the_oldest_due_pending_notification(client, db, clock):
    user = UserFactory()
    assert client.get("/healthz").json()["outbox"] == {"oldest_pending_age_seconds": 0}

    old = notify(template="welcome", channel="inapp", dedupe_key="old", user=user)
    newer = notify(template="welcome", channel="inapp", dedupe_key="newer", user=user)
    later = notify(template="welcome", channel="inapp", dedupe_key="later", user=user)
    Notification.objects.filter(pk=old.pk).update(next_attempt_at=clock.now - timedelta(seconds=600))
    Notification.objects.filter(pk=newer.pk).update(next_attempt_at=clock.now - timedelta(seconds=5))
    # Not due (waiting for a retry or the morning): not late, so not counted.
    Notification.objects.filter(pk=later.pk).update(next_attempt_at=clock.now + timedelta(hours=3))

    response = client.get("/healthz")

    assert response.status_code == 200  # a backlog is reported, never a reason to take the site out
    assert response.json()["outbox"] == {"oldest_pending_age_seconds": 600}

    Notification.objects.filter(pk=old.pk).update(status="sent", sent_at=clock.now)
    assert client.get("/healthz").json()["outbox"] == {"oldest_pending_age_seconds": 5}

"""A real Celery worker on Redis, in its own process, delivers what notify() wrote (see conftest.celery_worker)."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from notifications.models import Notification
from notifications.selectors import inbox_for
from notifications.services import notify
from notifications.tasks import sweep_outbox
from tests.conftest import wait_until
from tests.factories import UserFactory

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


def test_worker_delivers_a_committed_notification(celery_worker):
    user = UserFactory()
    with transaction.atomic():
        notification = notify(
            template="welcome", channel="inapp", dedupe_key="worker:welcome", user=user, context={"name": "赵六"}
        )

    # The worker shares the database but not this process's memory: the row is the evidence.
    wait_until(lambda: Notification.objects.get(pk=notification.pk).status == Notification.Status.SENT)
    notification.refresh_from_db()
    assert notification.attempts == 1
    assert notification.sent_at is not None
    assert notification.last_error == ""
    assert list(inbox_for(user)) == [notification]


def test_worker_sweeper_sends_a_row_whose_dispatch_was_lost(celery_worker):
    user = UserFactory()
    # As if the broker had been down at commit: a pending row that no task was ever queued for.
    lost = Notification.objects.create(
        recipient_user=user,
        channel=Notification.Channel.INAPP,
        template="welcome",
        dedupe_key="worker:lost",
        next_attempt_at=timezone.now() - timedelta(minutes=5),
    )

    sweep_outbox.delay()

    wait_until(lambda: Notification.objects.get(pk=lost.pk).status == Notification.Status.SENT)
    lost.refresh_from_db()
    assert lost.attempts == 1

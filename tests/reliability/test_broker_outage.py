"""Redis unreachable while a resident submits a wish: the submission succeeds, its messages wait in the outbox,
and once Redis answers again the sweeper delivers each of them exactly once.

The shared Redis server is not stopped (other test runs use it): only this process's publishing is pointed at a
dead port while the resident submits, which is what a stopped Redis looks like to the web process."""

import logging
import time
from datetime import time as clock_time

import pytest

from demands.models import MicroWish
from notifications import services as notification_services
from notifications.models import Notification
from notifications.tasks import sweep_outbox
from tests.conftest import wait_until
from tests.demands.factories import submit_wish, wish_category
from tests.reliability.conftest import broker_unreachable, settle

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

RESIDENT_PHONE = "13900001234"  # the recording backend delivers 139… at once


@pytest.fixture
def daytime(monkeypatch):
    """Residents' quiet hours are tested elsewhere; here the time of day the suite runs at must not matter."""
    monkeypatch.setattr(notification_services, "QUIET_HOURS_END", clock_time.min)
    monkeypatch.setattr(notification_services, "QUIET_HOURS_START", clock_time.max)


def test_a_wish_submitted_while_redis_is_down_is_kept_and_its_messages_arrive_once_after(
    start_worker, delivery_log, org_tree, secretary_a, daytime, caplog
):
    start_worker()

    with broker_unreachable(), caplog.at_level(logging.WARNING, logger="notifications.services"):
        began = time.monotonic()
        wish = submit_wish(org_tree.community_a, category=wish_category("助老"), phone=RESIDENT_PHONE)
        took = time.monotonic() - began

    assert took < 5, f"the resident waited {took:.1f} s for a broker that is down"
    assert MicroWish.objects.get(pk=wish.pk).tracking_code == wish.tracking_code
    messages = Notification.objects.filter(template__in=["demands_submitted", "demands_new_wish"])
    assert set(messages.values_list("template", "channel", "status")) == {
        ("demands_submitted", "sms", "pending"),  # the tracking code, to the resident
        ("demands_new_wish", "inapp", "pending"),  # the community's secretary
    }
    assert caplog.text.count("could not queue notification") == 2

    settle(2)  # the worker is running, but nothing reached it
    assert set(messages.values_list("status", "attempts")) == {("pending", 0)}
    assert delivery_log.delivered() == 0

    # Redis answers again: the sweeper's next pass (beat runs it every minute; without the grace period here).
    sweep_outbox.delay(older_than_seconds=0)
    wait_until(lambda: set(messages.values_list("status", flat=True)) == {"sent"}, timeout=20)
    sweep_outbox.delay(older_than_seconds=0)  # and the pass after it finds nothing to do
    settle(2)

    assert set(messages.values_list("status", "attempts")) == {("sent", 1)}
    sms = messages.get(channel="sms")
    assert delivery_log.delivered(sms.dedupe_key) == 1
    assert delivery_log.delivered() == 1
    assert wish.tracking_code in sms.context["code"]

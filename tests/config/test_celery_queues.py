"""Queues by kind of work (Step 19, item 4): every task of the platform is routed to the queue its kind belongs to,
and a long task on the heavy queue does not hold up a message while the heavy queue has its own worker."""

import time
import uuid

import pytest
import redis
from django.conf import settings

from notifications.models import Notification
from notifications.services import notify
from tests.config.queue_tasks import hold
from tests.conftest import wait_until
from volunteer_platform.celery import app

OUR_APPS = (
    "audit",
    "core",
    "demands",
    "incentives",
    "members",
    "news",
    "notifications",
    "projects",
    "training",
    "volunteer_platform",
)


def our_tasks() -> set[str]:
    app.loader.import_default_modules()
    return {name for name in app.tasks if name.split(".", 1)[0] in OUR_APPS}


def test_every_task_is_named_in_the_queue_table_once():
    named = [task for tasks in settings.TASK_QUEUE_OF.values() for task in tasks]
    assert len(named) == len(set(named)), "a task is named under two queues"
    assert set(settings.TASK_QUEUE_OF) == set(settings.CELERY_TASK_QUEUE_NAMES)
    tasks = our_tasks()
    assert len(tasks) > 25
    assert sorted(tasks - set(named)) == [], "tasks without a queue (add them to settings.TASK_QUEUE_OF)"
    assert sorted(set(named) - tasks) == [], "names in settings.TASK_QUEUE_OF that are no task"


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("members.tasks.send_sign_in_code", "interactive"),
        ("notifications.tasks.dispatch_notification", "interactive"),
        ("notifications.tasks.dispatch_notifications", "notify"),
        ("projects.tasks.send_activity_reminders", "notify"),
        ("volunteer_platform.tasks.reconcile_weekly", "heavy"),
        ("members.tasks.rebuild_service_years", "heavy"),
        ("some.unnamed.task", "interactive"),
    ],
)
def test_a_task_is_published_to_its_queue(task, queue):
    route = app.amqp.router.route({}, task, args=(), kwargs={})
    assert route["queue"].name == queue
    assert route["queue"].routing_key == queue


def _wait_for(client, key: str) -> None:
    wait_until(lambda: client.exists(key), timeout=30)


def _message(user, key: str) -> Notification:
    return notify(template="welcome", channel="inapp", dedupe_key=key, user=user, context={"name": "李明"})


def _sent(notification: Notification) -> bool:
    return Notification.objects.get(pk=notification.pk).status == Notification.Status.SENT


@pytest.mark.redis
@pytest.mark.postgres
def test_a_long_task_on_the_heavy_queue_does_not_delay_a_message(celery_worker_factory, member_user):
    """With a worker per kind, the message is sent within seconds while the heavy worker is busy (a 10-minute
    export stands in as a task that runs until released); with one single-slot worker for every queue, as before
    this step, the same message waits behind it: the check below can tell the two apart."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    include = ["tests.config.queue_tasks"]
    heavy = celery_worker_factory(include=include, queues=["heavy"])
    others = celery_worker_factory(include=include, queues=["interactive", "notify"])
    key = f"hold-{uuid.uuid4().hex}"
    hold.apply_async((key, 600), queue="heavy")
    _wait_for(client, f"{key}:started")

    started = time.monotonic()
    message = _message(member_user, f"queues-{key}")
    wait_until(lambda: _sent(message), timeout=15)
    assert time.monotonic() - started < 15
    assert not client.exists(f"{key}:finished"), "the heavy task should still be running"
    client.set(f"{key}:release", 1)
    _wait_for(client, f"{key}:finished")
    for worker in (heavy, others):
        worker.terminate()
        worker.wait(timeout=20)

    # The layout before: one worker, one task at a time, every queue. The message now waits for the long task.
    celery_worker_factory(include=include)
    key = f"hold-{uuid.uuid4().hex}"
    hold.apply_async((key, 8), queue="heavy")
    _wait_for(client, f"{key}:started")
    message = _message(member_user, f"queues-{key}")
    time.sleep(3)
    assert not _sent(message), "one worker for every queue: the message waits behind the long task"
    wait_until(lambda: _sent(message), timeout=30)
    assert client.exists(f"{key}:finished")

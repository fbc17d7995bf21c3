"""Fan-out: a planner walks recipient ids by range and enqueues chunks; a rerun writes and sends nothing new."""

from unittest import mock

import pytest
from celery import shared_task
from django.contrib.auth import get_user_model
from kombu.exceptions import OperationalError

from notifications import fanout
from notifications.models import Notification
from notifications.services import DISPATCH_BATCH, notify_many, user_messages
from notifications.tasks import dispatch_notifications
from tests.factories import UserFactory
from tests.queries import count_queries

User = get_user_model()
CHUNK_TASK = "tests.notifications.test_fanout.greet_chunk"


@shared_task
def greet_chunk(ids: list[int], campaign: str) -> int:
    """A chunk task as an app writes one: re-select by id, build messages with dedupe keys, notify_many."""
    users = User.objects.filter(pk__in=ids, is_active=True).order_by("pk")
    messages = []
    for user in users:
        messages += user_messages(
            user_id=user.pk,
            kind="digest",
            template="welcome",
            dedupe_key=f"test:{campaign}:{user.pk}",
            context={"name": user.username},
            has_email=bool(user.email),
        )
    return notify_many(messages)


@pytest.fixture
def users(db):
    users = UserFactory.create_batch(12)
    # Gaps in the ids: a range walk must neither stall nor skip anyone because of them.
    User.objects.filter(pk__in=[users[3].pk, users[4].pk, users[9].pk]).delete()
    return [u for i, u in enumerate(users) if i not in (3, 4, 9)]


def test_plan_walks_the_ids_in_ascending_chunks(users, django_capture_on_commit_callbacks):
    task = fanout.chunk_task(CHUNK_TASK)
    with (
        mock.patch.object(task, "delay", wraps=task.delay) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        chunks = fanout.plan(CHUNK_TASK, User.objects.all(), chunk=4, kwargs={"campaign": "spring"})

    ids = [u.pk for u in users]
    assert chunks == 3
    assert [c.kwargs for c in delay.call_args_list] == [
        {"ids": ids[0:4], "campaign": "spring"},
        {"ids": ids[4:8], "campaign": "spring"},
        {"ids": ids[8:9], "campaign": "spring"},
    ]
    # Every recipient got the in-app message and an email (the digest's default), and both were delivered.
    assert Notification.objects.count() == 2 * len(users)
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_a_rerun_of_the_planner_writes_and_sends_nothing_new(users, django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        fanout.plan(CHUNK_TASK, User.objects.all(), chunk=5, kwargs={"campaign": "spring"})
    rows, mails = Notification.objects.count(), len(mailoutbox)

    with django_capture_on_commit_callbacks(execute=True):
        fanout.plan(CHUNK_TASK, User.objects.all(), chunk=5, kwargs={"campaign": "spring"})
        fanout.plan(CHUNK_TASK, User.objects.all(), chunk=3, kwargs={"campaign": "spring"})  # other ranges

    assert Notification.objects.count() == rows == 2 * len(users)
    assert len(mailoutbox) == mails == len(users)
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}


def test_planning_costs_one_query_per_chunk(users):
    task = fanout.chunk_task(CHUNK_TASK)
    with mock.patch.object(task, "delay") as delay:  # plan only: the chunk tasks are not run
        n, _sqls = count_queries(lambda: fanout.plan(CHUNK_TASK, User.objects.all(), chunk=4, kwargs={"campaign": "x"}))

    assert delay.call_count == 3
    assert n == 4  # three chunks of ids, and the empty page that ends the walk


def test_an_empty_selection_plans_nothing(db):
    assert fanout.plan(CHUNK_TASK, User.objects.none(), kwargs={"campaign": "x"}) == 0


def test_a_chunk_must_hold_at_least_one_id(db):
    with pytest.raises(ValueError):
        fanout.plan(CHUNK_TASK, User.objects.all(), chunk=0)


def test_a_planner_that_cannot_publish_fails_and_its_next_run_completes_the_job(
    users, django_capture_on_commit_callbacks
):
    task = fanout.chunk_task(CHUNK_TASK)
    real_delay = task.delay
    published = []

    def broker_dies_after_one_chunk(**kwargs):
        if published:
            raise OperationalError("Connection refused")
        published.append(kwargs)
        return real_delay(**kwargs)

    with (
        mock.patch.object(task, "delay", side_effect=broker_dies_after_one_chunk),
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(OperationalError),
    ):
        fanout.plan(CHUNK_TASK, User.objects.all(), chunk=4, kwargs={"campaign": "x"})
    assert Notification.objects.count() == 2 * 4

    with django_capture_on_commit_callbacks(execute=True):
        fanout.plan(CHUNK_TASK, User.objects.all(), chunk=4, kwargs={"campaign": "x"})
    assert Notification.objects.count() == 2 * len(users)
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_a_chunk_rerun_publishes_rows_its_first_run_could_not(users, django_capture_on_commit_callbacks):
    """A chunk that died between its commit and its publishing: the rerun writes nothing and publishes the rest."""
    refused = OperationalError("Connection refused")
    with (
        mock.patch.object(dispatch_notifications, "delay", side_effect=refused),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert greet_chunk(ids=[u.pk for u in users], campaign="x") == 2 * len(users)
    assert set(Notification.objects.values_list("status", flat=True)) == {"pending"}

    with django_capture_on_commit_callbacks(execute=True):
        assert greet_chunk(ids=[u.pk for u in users], campaign="x") == 0
    assert set(Notification.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_dispatch_is_published_in_batches(db, django_capture_on_commit_callbacks):
    recipients = UserFactory.create_batch(DISPATCH_BATCH // 2 + 1)
    with (
        mock.patch.object(dispatch_notifications, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        greet_chunk(ids=[u.pk for u in recipients], campaign="x")

    sizes = [len(c.args[0]) for c in delay.call_args_list]
    assert sizes == [DISPATCH_BATCH, 2]

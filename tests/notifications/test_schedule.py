"""The sweeper runs from django-celery-beat's database schedule, created (and removable) by a data migration."""

import importlib

from django.apps import apps
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from volunteer_platform.celery import app

migration = importlib.import_module("notifications.migrations.0002_outbox_sweeper_schedule")


def test_outbox_sweeper_runs_every_minute(db):
    task = PeriodicTask.objects.select_related("interval").get(name="outbox sweeper")

    assert task.enabled
    assert task.task == "notifications.tasks.sweep_outbox"
    assert (task.interval.every, task.interval.period) == (60, IntervalSchedule.SECONDS)
    assert task.task in app.tasks  # the name resolves to a registered task


def test_schedule_migration_reverses_and_reapplies(db):
    migration.delete_schedule(apps, None)
    assert not PeriodicTask.objects.filter(name="outbox sweeper").exists()
    assert not IntervalSchedule.objects.filter(every=60, period=IntervalSchedule.SECONDS).exists()

    migration.create_schedule(apps, None)
    migration.create_schedule(apps, None)
    assert PeriodicTask.objects.filter(name="outbox sweeper", task="notifications.tasks.sweep_outbox").count() == 1

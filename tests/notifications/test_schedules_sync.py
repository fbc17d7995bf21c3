"""volunteer_platform/schedules.py and `manage.py sync_schedules`: every periodic task listed once, created when
missing, an admin's edits never overwritten, tasks not written yet skipped."""

import importlib
import json
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from volunteer_platform.schedules import SCHEDULES, Schedule, registered_tasks, sync_schedules

sweeper_migration = importlib.import_module("notifications.migrations.0002_outbox_sweeper_schedule")


def test_every_schedule_is_named_once_and_every_task_is_registered():
    names = [s.name for s in SCHEDULES]
    assert len(names) == len(set(names))
    registered = registered_tasks()
    assert len(SCHEDULES) == 19
    assert [s.task for s in SCHEDULES if s.task not in registered] == []
    for schedule in SCHEDULES:
        assert schedule.description  # in Chinese, shown in the admin
        json.dumps(schedule.kwargs)


def test_the_list_covers_the_issues_scheduled_work():
    tasks = {s.task for s in SCHEDULES}
    assert {
        "notifications.tasks.sweep_outbox",
        "projects.tasks.plan_activity_reminders",
        "projects.tasks.promote_waitlists",
        "projects.tasks.plan_activity_surveys",
        "projects.tasks.generate_recurring_activities",
        "training.tasks.plan_session_reminders",
        "training.tasks.plan_training_shortfall",
        "demands.tasks.escalate_wishes",
        "demands.tasks.process_wish_feedback",
        "demands.tasks.purge_resident_contacts",
        "incentives.tasks.plan_publicity_notices",
        "volunteer_platform.tasks.plan_monthly_digest",
        "members.tasks.plan_service_cards",
        "audit.tasks.purge_audit_events",
    } <= tasks
    reminders = [s.kwargs for s in SCHEDULES if s.task == "projects.tasks.plan_activity_reminders"]
    assert reminders == [{"hours_before": 24}, {"hours_before": 2}]


def test_a_schedule_has_exactly_one_kind_of_timing():
    with pytest.raises(ValueError):
        Schedule(name="x", task="t", description="d")
    with pytest.raises(ValueError):
        Schedule(name="x", task="t", description="d", every_seconds=60, crontab={"minute": "0"})


def test_sync_creates_what_is_missing_and_a_second_run_creates_nothing(db):
    PeriodicTask.objects.all().delete()  # a fresh database, before any migration's schedule
    registered = {s.task for s in SCHEDULES}

    first = sync_schedules(registered=registered)
    second = sync_schedules(registered=registered)

    assert sorted(first.created) == sorted(s.name for s in SCHEDULES)
    assert second.created == [] and sorted(second.kept) == sorted(first.created)
    assert PeriodicTask.objects.count() == len(SCHEDULES)
    shortfall = PeriodicTask.objects.select_related("crontab").get(name="annual training shortfall")
    assert shortfall.task == "training.tasks.plan_training_shortfall"
    assert (shortfall.crontab.minute, shortfall.crontab.hour, shortfall.crontab.day_of_month) == ("0", "9", "1")
    assert (shortfall.crontab.month_of_year, shortfall.crontab.day_of_week) == ("10-12", "*")
    assert str(shortfall.crontab.timezone) == "Asia/Shanghai"
    assert shortfall.enabled and "10月起" in shortfall.description
    t2h = PeriodicTask.objects.get(name="activity reminders T-2h")
    assert json.loads(t2h.kwargs) == {"hours_before": 2}
    # Equal timings share one schedule row.
    assert CrontabSchedule.objects.filter(minute="*/10", hour="*").count() == 1


def test_sync_never_overwrites_an_admins_edits(db):
    registered = {s.task for s in SCHEDULES}
    sync_schedules(registered=registered)
    digest = PeriodicTask.objects.get(name="monthly digest")
    digest.enabled = False
    digest.crontab = CrontabSchedule.objects.create(minute="0", hour="7", day_of_month="2", timezone="Asia/Shanghai")
    digest.description = "改到每月2日"
    digest.save()

    report = sync_schedules(registered=registered)

    assert "monthly digest" in report.kept and report.created == []
    digest.refresh_from_db()
    assert (digest.enabled, digest.crontab.hour, digest.description) == (False, "7", "改到每月2日")


def test_the_sweeper_created_by_the_migration_is_kept_not_duplicated(db):
    sweeper_migration.create_schedule(apps, None)  # what notifications/migrations/0002 did (a flush may undo it)

    report = sync_schedules(registered={s.task for s in SCHEDULES})

    assert "outbox sweeper" in report.kept
    assert PeriodicTask.objects.filter(task="notifications.tasks.sweep_outbox").count() == 1
    assert IntervalSchedule.objects.filter(every=60, period=IntervalSchedule.SECONDS).count() == 1


def test_a_task_not_written_yet_is_skipped_until_it_exists(db):
    pending = Schedule(name="future work", task="demands.tasks.not_yet", every_seconds=300, description="以后")

    assert sync_schedules([pending], registered=set()).skipped == ["future work"]
    assert not PeriodicTask.objects.filter(name="future work").exists()
    assert sync_schedules([pending], registered={"demands.tasks.not_yet"}).created == ["future work"]


def test_the_command_reports_what_it_did(db):
    out = StringIO()
    call_command("sync_schedules", stdout=out)
    call_command("sync_schedules", stdout=out)

    text = out.getvalue()
    assert "created: monthly digest" in text
    assert "0 created" in text
    assert PeriodicTask.objects.filter(name="training session reminders T-24h").count() == 1

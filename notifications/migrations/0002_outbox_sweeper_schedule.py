"""The beat schedule of the outbox sweeper: `notifications.tasks.sweep_outbox` every 60 seconds.

It lives in the database (django-celery-beat), so an administrator can change or pause it in the admin.
"""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "outbox sweeper"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "notifications.tasks.sweep_outbox",
            "interval": every_minute,
            "enabled": True,
            "description": "重新派发仍待发送的通知（消息队列中断后不丢消息）",
        },
    )
    _tell_running_beat(apps)


def delete_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME).delete()
    IntervalSchedule.objects.filter(every=60, period="seconds", periodictask__isnull=True).delete()
    _tell_running_beat(apps)


def _tell_running_beat(apps):
    # Historical models send no signals: bump the change marker the database scheduler polls.
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]

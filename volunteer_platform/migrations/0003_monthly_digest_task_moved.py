"""The monthly digest is composed by the site (volunteer_platform.services) since its figures come from every app:
its scheduled task moved from members.tasks to volunteer_platform.tasks. Beat's entry, created by sync_schedules
and perhaps edited by an admin, keeps its schedule and gets the new task name."""

from django.db import migrations

OLD, NEW = "members.tasks.plan_monthly_digest", "volunteer_platform.tasks.plan_monthly_digest"


def rename(apps, old: str, new: str) -> None:
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task=old).update(task=new)


class Migration(migrations.Migration):
    dependencies = [
        ("volunteer_platform", "0002_job_failures"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(
            lambda apps, _schema: rename(apps, OLD, NEW), lambda apps, _schema: rename(apps, NEW, OLD)
        ),
    ]

"""The recurring-activity task is registered only as projects.tasks.generate_recurring_activities now (its old name,
projects.tasks.generate_activities, is gone). A beat entry an admin made under the old name keeps its schedule and
gets the new task name."""

from django.db import migrations

OLD, NEW = "projects.tasks.generate_activities", "projects.tasks.generate_recurring_activities"


def rename(apps, old: str, new: str) -> None:
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task=old).update(task=new)


class Migration(migrations.Migration):
    dependencies = [
        ("volunteer_platform", "0003_monthly_digest_task_moved"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(
            lambda apps, _schema: rename(apps, OLD, NEW), lambda apps, _schema: rename(apps, NEW, OLD)
        ),
    ]

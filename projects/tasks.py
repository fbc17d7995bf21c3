"""Scheduled work of the projects app (volunteer_platform/schedules.py): thin tasks that take ids and call a service."""

from celery import shared_task

from . import services


@shared_task
def plan_activity_reminders(hours_before: int) -> int:
    return services.activity_reminders_plan(hours_before=hours_before)


@shared_task
def send_activity_reminders(ids: list[int], hours_before: int) -> int:
    return services.activity_reminders_send(signup_ids=ids, hours_before=hours_before)


@shared_task
def promote_waitlists() -> int:
    return services.waitlists_promote()


@shared_task
def generate_recurring_activities(weeks: int = services.GENERATE_WEEKS) -> int:
    """Keep every recurring project's activities generated `weeks` ahead (idempotent: safe to run twice)."""
    return services.activities_generate_all(weeks=weeks)


@shared_task
def plan_activity_surveys() -> int:
    return services.activity_surveys_plan()


@shared_task
def send_activity_surveys(ids: list[int]) -> int:
    return services.activity_surveys_send(signup_ids=ids)

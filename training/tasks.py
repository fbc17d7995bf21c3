"""Scheduled work of the training app (volunteer_platform/schedules.py): thin tasks that take ids and call a service."""

from celery import shared_task

from . import services


@shared_task
def plan_session_reminders() -> int:
    return services.session_reminders_plan()


@shared_task
def send_session_reminders(ids: list[int]) -> int:
    return services.session_reminders_send(enrollment_ids=ids)


@shared_task
def plan_training_shortfall() -> int:
    return services.training_shortfall_plan()


@shared_task
def send_training_shortfall(ids: list[int], year: int, month: int) -> int:
    return services.training_shortfall_send(member_ids=ids, year=year, month=month)

"""Scheduled work of the incentives app (volunteer_platform/schedules.py): thin tasks that take ids and call a
service."""

from datetime import date

from celery import shared_task

from . import services


@shared_task
def recompute_draft_ratings() -> int:
    return services.draft_runs_recompute()


@shared_task
def plan_publicity_notices() -> int:
    return services.publicity_notices_plan()


@shared_task
def send_publicity_last_day(ids: list[int], today: str) -> int:
    return services.publicity_last_day_send(rating_ids=ids, today=date.fromisoformat(today))

"""Scheduled work of the members app (volunteer_platform/schedules.py): thin tasks that take ids and call a service."""

from celery import shared_task

from . import services


@shared_task
def plan_service_cards() -> int:
    return services.service_cards_plan()


@shared_task
def send_service_cards(ids: list[int], year: int, quarter: int) -> int:
    return services.service_cards_send(organization_ids=ids, year=year, quarter=quarter)


@shared_task
def rebuild_service_years() -> list[int]:
    return services.service_years_rebuild_due()

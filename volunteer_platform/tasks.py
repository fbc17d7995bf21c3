"""Scheduled work of the site (volunteer_platform/schedules.py): thin tasks that call a service."""

from celery import shared_task

from . import services


@shared_task
def refresh_dashboard_snapshots() -> int:
    return services.dashboard_snapshots_refresh()

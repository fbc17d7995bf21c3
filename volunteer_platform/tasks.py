"""Scheduled work of the site (volunteer_platform/schedules.py): thin tasks that call a service."""

from celery import shared_task

from . import reconcile, services


@shared_task
def refresh_dashboard_snapshots() -> int:
    return services.dashboard_snapshots_refresh()


@shared_task(soft_time_limit=1800, time_limit=1900)
def reconcile_weekly() -> int:
    """Check every derived figure against the records (no repair) and tell the platform admins what disagrees."""
    return reconcile.run_and_tell_admins()

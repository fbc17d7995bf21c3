"""Scheduled work of the site (volunteer_platform/schedules.py): thin tasks that call a service."""

from celery import shared_task

from core.db import replica_reads

from . import reconcile, services


@shared_task
def refresh_dashboard_snapshots() -> int:
    return replica_reads()(services.dashboard_snapshots_refresh)()


@shared_task
def plan_monthly_digest() -> int:
    return services.monthly_digest_plan()


@shared_task
def send_monthly_digest(ids: list[int], year: int, month: int) -> int:
    return services.monthly_digest_send(organization_ids=ids, year=year, month=month)


@shared_task(soft_time_limit=1800, time_limit=1900)
def reconcile_weekly() -> int:
    """Check every derived figure against the records (no repair) and tell the platform admins what disagrees."""
    return reconcile.run_and_tell_admins()


# Building a report reads a whole period twice (the period and the one before) and lays out two documents: longer
# than the default limits on a large subtree.
@shared_task(soft_time_limit=900, time_limit=960)
def build_report(report_id: int) -> str:
    from .services import report_build

    return report_build(report_id=report_id)

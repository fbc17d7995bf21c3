"""Celery tasks of the audit app: thin wrappers around services, safe to run twice."""

from celery import shared_task

from . import services


@shared_task
def purge_audit_events() -> int:
    """Daily: delete audit events older than AUDIT_RETENTION_DAYS (volunteer_platform/schedules.py)."""
    return services.audit_events_purge()

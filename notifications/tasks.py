"""Celery tasks: thin wrappers that take ids and call a service (acks_late and time limits come from settings)."""

from celery import shared_task

# services.py imports this module too (it queues these tasks): both import the module, never its names.
from . import services


@shared_task
def dispatch_notification(notification_id: int) -> bool:
    return services.notification_dispatch(notification_id=notification_id)


@shared_task
def dispatch_notifications(notification_ids: list[int]) -> int:
    """Dispatch a batch (from notify_many); each row in its own transaction, so a crash half-way loses nothing and
    the redelivered batch skips what was sent."""
    return sum(services.notification_dispatch(notification_id=pk) for pk in notification_ids)


@shared_task
def sweep_outbox(older_than_seconds: int = 60) -> int:
    return services.notification_sweep(older_than_seconds=older_than_seconds)

"""Celery tasks: thin wrappers that take ids and call a service (acks_late and time limits come from settings)."""

from celery import shared_task

from . import services


@shared_task
def dispatch_notification(notification_id: int) -> bool:
    return services.notification_dispatch(notification_id=notification_id)


@shared_task
def sweep_outbox() -> int:
    return services.notification_sweep()

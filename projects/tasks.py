"""Celery tasks: thin wrappers that take ids and call a service. Step 7 puts them on the beat schedule."""

from celery import shared_task

from . import services


@shared_task
def generate_activities(weeks: int = services.GENERATE_WEEKS) -> int:
    """Keep every recurring project's activities generated `weeks` ahead (idempotent: safe to run twice)."""
    return services.activities_generate_all(weeks=weeks)

"""Celery tasks of the news app: thin wrappers that take ids and call a service."""

from celery import shared_task

# services.py imports this module too (it queues plan_broadcast): both import the module, never its names.
from . import services


@shared_task
def plan_broadcast(broadcast_id: int) -> int:
    return services.broadcast_plan(broadcast_id=broadcast_id)


@shared_task
def send_broadcast_chunk(ids: list[int], broadcast_id: int) -> int:
    return services.broadcast_chunk_send(broadcast_id=broadcast_id, member_ids=ids)

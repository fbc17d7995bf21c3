"""The bench's chunk task (a worker started by bench/reminders/run.py imports this module)."""

from celery import shared_task
from django.contrib.auth import get_user_model

from notifications.services import notify_many, user_messages


@shared_task
def remind_chunk(ids: list[int], campaign: str) -> int:
    """An activity reminder to each user: in-app and SMS (a phone derived from the id), as projects will send."""
    messages = []
    for user in get_user_model().objects.filter(pk__in=ids).only("pk").order_by("pk"):
        messages += user_messages(
            user_id=user.pk,
            kind="activity_reminder",
            template="welcome",
            dedupe_key=f"bench:{campaign}:{user.pk}",
            context={"name": "党员"},
            phone=f"139{user.pk:08d}",
        )
    return notify_many(messages)

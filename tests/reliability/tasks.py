"""Test-only tasks a real worker imports (celery_worker_factory(include=[__name__]))."""

from celery import shared_task
from django.contrib.auth import get_user_model

from notifications.services import Message, notify_many


@shared_task
def sms_chunk(ids: list[int], campaign: str, prefix: str = "138") -> int:
    """A fan-out chunk as an app writes one: one activity reminder by SMS to each user, phone derived from the id."""
    users = get_user_model().objects.filter(pk__in=ids).order_by("pk")
    return notify_many(
        Message(
            template="welcome",
            channel="sms",
            dedupe_key=f"{campaign}:{user.pk}",
            user_id=user.pk,
            phone=f"{prefix}{user.pk:08d}",
            context={"name": user.username},
            kind="activity_reminder",
        )
        for user in users
    )

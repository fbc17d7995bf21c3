"""Test-only tasks a real worker imports (celery_worker_factory(include=[__name__]))."""

import time

import redis
from celery import shared_task
from django.conf import settings


@shared_task
def hold(key: str, seconds: float) -> None:
    """A stand-in for a long export: it says in Redis when it starts and when it ends, and in between works (sleeps)
    for `seconds` or until the test sets `<key>:release`."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.set(f"{key}:started", time.time())
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not client.exists(f"{key}:release"):
        time.sleep(0.05)
    client.set(f"{key}:finished", time.time())

"""Test-only tasks a real worker imports (celery_worker_factory(include=[__name__]))."""

import logging

from celery import shared_task

from volunteer_platform.observability import get_request_id


@shared_task
def fail_loudly(reason: str) -> None:
    """Fails for good (no retry): the task_failure signal must store a JobFailure carrying the request id."""
    logging.getLogger(__name__).warning("about to fail with request id %s", get_request_id())
    raise RuntimeError(reason)


@shared_task
def current_request_id() -> str | None:
    return get_request_id()

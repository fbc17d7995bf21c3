"""Request ids (middleware → logs → Celery tasks) and task failures in the admin (observability.py)."""

import logging
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import wait_until
from volunteer_platform import observability
from volunteer_platform.models import JobFailure

pytestmark = pytest.mark.django_db


class _Collect(logging.Handler):
    """A handler that applies the production filter, as settings.LOGGING's console handler does."""

    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(observability.RequestIdFilter())

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def request_log():
    handler = _Collect()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


def test_a_request_gets_a_new_id_in_its_response_and_its_log_lines(client, request_log):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    request_id = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert [r.request_id for r in request_log] == [request_id]  # django.request's "Not Found" line
    assert client.get("/no-such-page/")["X-Request-ID"] != request_id
    assert observability.get_request_id() is None  # nothing leaks out of the request


def test_the_id_nginx_sent_is_kept(client, request_log):
    nginx_id = "4f1c0a9b8e7d6c5b4a39281706f5e4d3"

    response = client.get("/no-such-page/", headers={"X-Request-ID": nginx_id})

    assert response["X-Request-ID"] == nginx_id
    assert request_log[0].request_id == nginx_id


@pytest.mark.parametrize("forged", ["short", "a" * 65, "abc def ghi", "abcdefgh\nFAKE LOG LINE", "abcdefgh;rm"])
def test_an_unsafe_incoming_id_is_replaced(client, forged):
    response = client.get("/healthz", headers={"X-Request-ID": forged})

    assert response["X-Request-ID"] != forged
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_log_records_outside_a_request_say_so():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    observability.RequestIdFilter().filter(record)
    assert record.request_id == "-"


def test_the_json_format_carries_the_request_id():
    import json

    token = observability.set_request_id("req-12345678")
    try:
        record = logging.LogRecord("demands", logging.WARNING, __file__, 1, "心愿 %s", ("已提交",), None)
        observability.RequestIdFilter().filter(record)
    finally:
        observability.reset_request_id(token)
    line = json.loads(observability.JSONFormatter().format(record))
    assert line["request_id"] == "req-12345678"
    assert line["message"] == "心愿 已提交"
    assert line["level"] == "WARNING"


def test_publishing_puts_the_current_id_into_the_task_headers():
    headers = {}
    observability.add_request_id_to_headers(headers=headers)
    assert headers == {}  # no request, no header

    token = observability.set_request_id("req-abcdef12")
    try:
        observability.add_request_id_to_headers(headers=headers)
    finally:
        observability.reset_request_id(token)
    assert headers == {"request_id": "req-abcdef12"}


def test_an_eager_task_inside_a_request_leaves_the_request_id_in_place():
    """Tasks run eagerly in tests and with CELERY_TASK_ALWAYS_EAGER: prerun/postrun must restore, not clear."""
    from tests.site.observability_tasks import current_request_id

    token = observability.set_request_id("req-outer-0001")
    try:
        assert current_request_id.delay().get() == "req-outer-0001"
        assert observability.get_request_id() == "req-outer-0001"
    finally:
        observability.reset_request_id(token)


def test_a_failure_is_recorded_and_old_ones_pruned(settings):
    from volunteer_platform.services import task_failure_record

    settings.JOB_FAILURE_RETENTION_DAYS = 30
    old = task_failure_record(task_id="t-old", task_name="x", exception=ValueError("old"))
    JobFailure.objects.filter(pk=old.pk).update(failed_at=timezone.now() - timedelta(days=31))

    new = task_failure_record(
        task_id="t-new",
        task_name="notifications.tasks.dispatch_notification",
        exception=KeyError("missing"),
        args=[42],
        kwargs={},
        traceback="Traceback …",
        request_id="req-12345678",
        hostname="worker1@web2",
    )

    assert list(JobFailure.objects.values_list("task_id", flat=True)) == ["t-new"]
    assert new.exception_type == "KeyError"
    assert new.arguments == "args=[42] kwargs={}"


def test_the_admin_lists_failures_read_only(admin_client):
    failure = JobFailure.objects.create(task_id="t-1", task_name="demands.tasks.escalate", exception_type="KeyError")

    listing = admin_client.get("/admin/volunteer_platform/jobfailure/?q=t-1")
    assert listing.status_code == 200
    assert "demands.tasks.escalate" in listing.content.decode()
    assert admin_client.get("/admin/volunteer_platform/jobfailure/add/").status_code == 403
    detail = admin_client.get(f"/admin/volunteer_platform/jobfailure/{failure.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()  # view only


@pytest.mark.redis
@pytest.mark.postgres
def test_a_real_worker_carries_the_request_id_and_records_the_failure(celery_worker_factory):
    """Published from a "request" on the web side, failed in a worker process: the failure row carries the id."""
    from tests.site.observability_tasks import fail_loudly

    celery_worker_factory(include=["tests.site.observability_tasks"])
    token = observability.set_request_id("req-from-web-0042")
    try:
        result = fail_loudly.delay("储存已满")
    finally:
        observability.reset_request_id(token)

    failure = wait_until(lambda: JobFailure.objects.filter(task_id=result.id).first())
    assert failure.task_name == "tests.site.observability_tasks.fail_loudly"
    assert failure.request_id == "req-from-web-0042"
    assert failure.exception_type == "RuntimeError"
    assert failure.message == "储存已满"
    assert "RuntimeError" in failure.traceback
    assert failure.hostname.startswith("test-worker-")

"""Request ids in every log line, carried from a web request into the Celery tasks it enqueues, and task failures
kept where an admin sees them (docs/deploy.md "Logs and failures").

- `RequestIdMiddleware` (first in MIDDLEWARE) takes nginx's `X-Request-ID` when it is short and made of safe
  characters, or makes one, keeps it in a contextvar for the request and answers it in the `X-Request-ID` header.
- `RequestIdFilter` (in settings.LOGGING, on every handler) puts the current id on each record as `request_id`
  ("-" outside a request or task), so web, worker and beat logs all have the field.
- The Celery signals below put the id into the headers of each task published while it is set, restore it in the
  worker while the task runs (a task without one, e.g. from beat, uses its own task id, so the tasks *it* enqueues
  share an id), and clear it afterwards. They are connected by volunteer_platform/celery.py, which both the web
  processes and the workers import.
- `record_task_failure` (on `task_failure`) writes a `TaskFailure` row: the admin shows failures without a result
  backend storing every success.

This module imports no model at import time: the logging configuration loads it before the apps are ready.
"""

import json
import logging
import re
import uuid
from contextvars import ContextVar, Token

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_META = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")
# nginx's $request_id is 32 hex digits; a UUID with dashes is 36. Anything else a client sends is replaced, so a
# forged header can neither inject text into a log line nor make one id very long.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# The custom task header (Celery message protocol 2 copies custom headers onto `task.request`).
TASK_HEADER = "request_id"

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
logger = logging.getLogger(__name__)


def get_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> Token:
    return _request_id.set(value)


def reset_request_id(token: Token) -> None:
    _request_id.reset(token)


def clean_request_id(value: str | None) -> str | None:
    """`value` when it is an acceptable id, else None."""
    if value and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Give every request an id (nginx's when valid), visible to logging for its duration and in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # From META, not request.headers, which builds a dict of every header for the one read (bench/RESULTS.md).
        request_id = clean_request_id(request.META.get(_REQUEST_ID_META)) or new_request_id()
        request.request_id = request_id
        # Not reset on the way out: Django logs a 4xx/5xx response ("Not Found: …") after the middleware chain has
        # returned, and that line needs the id too. `request_finished` (sent when the server closes the response)
        # clears it; the next request in this thread sets its own anyway.
        set_request_id(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


def clear_request_id_after_response(**_kwargs) -> None:
    """request_finished (connected in apps.py): the request's log lines are written, forget its id."""
    set_request_id(None)


class RequestIdFilter(logging.Filter):
    """Adds `record.request_id` (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = get_request_id() or "-"
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object per line (LOG_FORMAT=json), for journald → a log collector: time, level, logger, message,
    request_id and, when present, the exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "process": record.process,
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


# --- Celery signal handlers (connected in volunteer_platform/celery.py) -------------------------------------------

# Task id -> the token that restores the context the task started in. A prefork child runs one task at a time; the
# dict also covers tasks run eagerly inside a request, where the request's id must come back afterwards.
_task_tokens: dict[str, Token] = {}


def add_request_id_to_headers(headers=None, **_kwargs) -> None:
    """before_task_publish: the current id travels in the message headers."""
    request_id = get_request_id()
    if request_id and headers is not None:
        headers.setdefault(TASK_HEADER, request_id)


def restore_request_id(task_id=None, task=None, **_kwargs) -> None:
    """task_prerun: the publisher's id (or, for a task nobody's request enqueued, its own task id)."""
    incoming = clean_request_id(getattr(task.request, TASK_HEADER, None)) if task is not None else None
    request_id = incoming or get_request_id() or task_id
    if task_id is not None:
        _task_tokens[task_id] = set_request_id(request_id)


def clear_request_id(task_id=None, **_kwargs) -> None:
    """task_postrun: back to the context before the task (no id in a worker)."""
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        try:
            reset_request_id(token)
        except ValueError:  # created in another context (cannot happen in prefork/solo); just clear
            set_request_id(None)


def record_task_failure(sender=None, task_id=None, exception=None, args=None, kwargs=None, einfo=None, **_kw):
    """task_failure: store the failure for the admin (volunteer_platform.TaskFailure). Never raises: a failure to
    record (the database is what failed, say) is logged instead."""
    try:
        from .services import task_failure_record

        request = getattr(sender, "request", None)
        task_failure_record(
            task_id=task_id or "",
            task_name=getattr(sender, "name", "") or "",
            exception=exception,
            args=args,
            kwargs=kwargs,
            traceback=str(einfo) if einfo is not None else "",
            request_id=get_request_id() or "",
            hostname=getattr(request, "hostname", "") or "",
        )
    except Exception:
        logger.exception("could not record the failure of task %s", task_id)

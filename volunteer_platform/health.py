"""Health probes for /healthz: each answers (ok, detail) quickly and never raises.

The detail names the backend when it is up and the exception class when it is down, never the message: an
exception's text may hold a host name or a password from a URL, and /healthz is public.
"""

import tempfile
from pathlib import Path

from django.conf import settings
from django.db import connection
from kombu import Connection

from core.db import replica_state as _replica_state
from notifications.selectors import oldest_due_age_seconds


def database_state() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down", and the reason is reported
        return False, exc.__class__.__name__
    return True, connection.vendor


def broker_state() -> tuple[bool, str]:
    try:
        url = settings.CELERY_BROKER_URL
        scheme = url.split("://", 1)[0]
        if scheme == "filesystem":
            return _filesystem_broker_state()
        timeout = settings.CELERY_BROKER_CONNECTION_TIMEOUT
        options = {"socket_timeout": timeout} if scheme in ("redis", "rediss") else {}
        with Connection(url, connect_timeout=timeout, transport_options=options) as conn:
            # One attempt: kombu sleeps two seconds before a retry, and a load balancer wants a prompt answer.
            conn.ensure_connection(max_retries=0, timeout=timeout)
    except Exception as exc:  # noqa: BLE001
        return False, exc.__class__.__name__
    return True, scheme


def _filesystem_broker_state() -> tuple[bool, str]:
    """The embedded broker is up when its queue folder takes a file.

    The probe file has a unique name (two processes may probe at once) that does not end in `.msg`, so a worker
    never mistakes it for a message.
    """
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".healthz-", suffix=".tmp") as probe:
            probe.write(b"ok")
            probe.flush()
    except OSError as exc:
        return False, f"filesystem: {exc.__class__.__name__}"
    return True, "filesystem"


def replica_state() -> dict | None:
    """The read replica (core/db.py), or None without one. Informational, like the outbox: without the replica the
    figures are read from the primary, so the site is degraded (slower figures, more load on the primary), not
    down, and /healthz keeps its 200; a monitor alerts on `ok`. Checked now, not as this process last saw it."""
    state = _replica_state(force=True)
    if state.status == "absent":
        return None
    body: dict = {"ok": state.usable, "status": state.status, "reads_from": "replica" if state.usable else "primary"}
    if state.lag_seconds is not None:
        body["lag_seconds"] = state.lag_seconds
    if state.detail:
        body["detail"] = state.detail
    return body


def outbox_state() -> dict:
    """The outbox's backlog: how long the oldest due pending notification has waited, in seconds (0 when nothing
    is due). Informational: a backlog means slow delivery, not a broken site, so it never turns /healthz red; a
    monitor alerts on the number. `None` when the database cannot answer (already reported above)."""
    try:
        age = oldest_due_age_seconds()
    except Exception as exc:  # noqa: BLE001 - the probe must answer, whatever happened
        return {"oldest_pending_age_seconds": None, "detail": exc.__class__.__name__}
    return {"oldest_pending_age_seconds": age or 0}

"""Health probes for /healthz: each answers (ok, detail) and never raises."""

from pathlib import Path

from django.conf import settings
from django.db import connection
from kombu import Connection


def database_state() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down", and the reason is reported
        return False, exc.__class__.__name__
    return True, connection.vendor


def broker_state() -> tuple[bool, str]:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        probe = folder / ".healthz"
        try:
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            return False, f"filesystem: {exc.__class__.__name__}"
        return True, "filesystem"
    try:
        with Connection(url, connect_timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT) as conn:
            conn.ensure_connection(max_retries=1, timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT)
    except Exception as exc:  # noqa: BLE001
        return False, exc.__class__.__name__
    return True, url.split("://", 1)[0]

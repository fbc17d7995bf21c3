"""The reliability tests: real workers on Redis, sharing the PostgreSQL test database, killed and restarted.

Every worker here runs with a 5-second visibility timeout (a message its worker died with is handed out again after
5 s), the recording SMS backend (tests/reliability/backends.py), a 1-second retry base and 3 attempts at most.
"""

import contextlib
import time

import pytest
from django.db import connection

from tests.reliability.backends import TABLES

VISIBILITY_TIMEOUT = 5
RETRY_BASE_SECONDS = 1
MAX_ATTEMPTS = 3
WORKER_ENV = {
    "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
    "TEST_SMS_BACKEND": "tests.reliability.backends.RecordingSMSBackend",
    "NOTIFICATION_RETRY_BASE_SECONDS": str(RETRY_BASE_SECONDS),
    "NOTIFICATION_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
}


@pytest.fixture
def delivery_log(transactional_db):
    """The attempt and delivery tables of the recording backend (outside Django's models, so created here)."""
    with connection.cursor() as cursor:
        for ddl in TABLES.values():
            cursor.execute(ddl)
        cursor.execute(f"TRUNCATE {', '.join(TABLES)}")
    yield DeliveryLog()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {', '.join(TABLES)}")


class DeliveryLog:
    def _one(self, sql, params=()):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

    def delivered(self, prefix: str = "") -> int:
        return self._one("SELECT count(*) FROM reliability_delivery WHERE reference LIKE %s", [prefix + "%"])

    def by_worker(self) -> dict[int, int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT worker_pid, count(*) FROM reliability_delivery GROUP BY worker_pid")
            return dict(cursor.fetchall())

    def attempt_times(self, reference: str) -> list[float]:
        """Seconds since the first attempt, for each attempt of one message."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT extract(epoch FROM at) FROM reliability_attempt WHERE reference = %s ORDER BY id", [reference]
            )
            times = [float(row[0]) for row in cursor.fetchall()]
        return [t - times[0] for t in times]


@pytest.fixture
def start_worker(celery_worker_factory, delivery_log):
    """start_worker() → a real worker with WORKER_ENV that also knows tests/reliability/tasks.py."""

    def start():
        return celery_worker_factory(env=WORKER_ENV, include=["tests.reliability.tasks"])

    return start


@contextlib.contextmanager
def broker_unreachable():
    """Point this process's publishing at a port where nothing listens (Redis "stopped" for the web process only;
    the shared Redis server and the worker are left alone), then back."""
    from volunteer_platform.celery import app

    def reset_pools():
        app._pool = None
        app.amqp._producer_pool = None

    real_url = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    reset_pools()
    try:
        yield
    finally:
        app.conf.broker_url = real_url
        reset_pools()


def settle(seconds: float) -> None:
    """Let the workers run on for a while (to see that nothing more happens)."""
    time.sleep(seconds)

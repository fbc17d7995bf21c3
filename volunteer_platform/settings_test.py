"""Settings for the test suite: the real ones, made fast and isolated.

The database is `DATABASE_URL` when set, otherwise PostgreSQL on 127.0.0.1:5432 when it answers, otherwise SQLite.
Redis is `REDIS_URL` when set, otherwise 127.0.0.1:6379 when it answers. What was found is kept in
`TEST_SERVICES`; tests marked `postgres`, `redis` or `browser` are skipped (or, with REQUIRE_SERVICES=1,
failed) when their service is missing — see tests/conftest.py.
"""

import hashlib
import os
import socket
from urllib.parse import urlsplit

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("EMAIL_URL", "consolemail://")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "9pSwuN1b0vjh7LQWWZJq6uRYz0PIoMM0wcpz7sBPnFM=")
os.environ.setdefault("FIELD_HMAC_KEY", "test-only-hmac-key")


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parsed = urlsplit(url)
    return parsed.hostname or "127.0.0.1", parsed.port or default_port


TEST_SERVICES: dict[str, str] = {}  # service name -> why it is missing (absent key = available)

if "DATABASE_URL" not in os.environ and _answers("127.0.0.1", 5432):
    os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/volunteer_platform"
_database_url = os.environ.get("DATABASE_URL", "")
if not _database_url:
    TEST_SERVICES["postgres"] = "no DATABASE_URL and nothing answers on 127.0.0.1:5432; the suite runs on SQLite"
elif not _database_url.startswith(("postgres", "pgsql")):
    TEST_SERVICES["postgres"] = f"DATABASE_URL is not PostgreSQL ({_database_url.split(':')[0]})"
elif not _answers(*_host_port(_database_url, 5432)):
    TEST_SERVICES["postgres"] = "PostgreSQL at DATABASE_URL does not answer"

if "REDIS_URL" not in os.environ and _answers("127.0.0.1", 6379):
    os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/15"
# Tests run in parallel (pytest-xdist: `make test` runs a worker per core and one more); each worker process gets
# its own Redis databases, counted down from the one given, so one worker's Celery broker and cache never see
# another's messages. Two apart, since the cache takes the next one (CACHE_REDIS_URL's default): worker 0 uses 15
# and 0, worker 1 13 and 14. Done once per worker: the processes a test starts (a real Celery worker, a dev server)
# inherit the environment with the worker's database already in REDIS_URL, and must not count down again.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _xdist_worker.startswith("gw") and os.environ.get("REDIS_URL") and not os.environ.get("TEST_REDIS_DB_CHOSEN"):
    _parts = urlsplit(os.environ["REDIS_URL"])
    _db = int((_parts.path or "/0").lstrip("/") or 0)
    _db = (_db - 2 * int(_xdist_worker[2:])) % 16
    os.environ["REDIS_URL"] = _parts._replace(path=f"/{_db}").geturl()
    os.environ["TEST_REDIS_DB_CHOSEN"] = "1"
_redis_url = os.environ.get("REDIS_URL", "")
if not _redis_url:
    TEST_SERVICES["redis"] = "no REDIS_URL and nothing answers on 127.0.0.1:6379"
elif not _answers(*_host_port(_redis_url, 6379)):
    TEST_SERVICES["redis"] = "Redis at REDIS_URL does not answer"

# A Celery worker a test starts (tests/conftest.py: celery_worker_factory) runs at the test's time, not the real
# one, and ticks on from there: a test at a fixed or moved clock (TESTS_NOW, `clock`) and its worker agree on what
# is past and what is due. The test passes its time and the system's monotonic clock at launch, so the seconds the
# worker took to start are counted too.
if os.environ.get("TESTS_WORKER_CLOCK"):
    import time
    from datetime import datetime, timedelta

    import time_machine

    _instant, _monotonic_then = os.environ["TESTS_WORKER_CLOCK"].rsplit("@", 1)
    _started = timedelta(seconds=time.monotonic() - float(_monotonic_then))
    time_machine.travel(datetime.fromisoformat(_instant) + _started, tick=True).start()
    time.time()  # time-machine ticks from the first reading, not from start(): read now, not at the first task

from .settings import *  # noqa: E402,F403
from .settings import VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# A real worker started by a test may be given another backend (tests/reliability records deliveries in the DB).
SMS_BACKEND = env.str("TEST_SMS_BACKEND", default="notifications.sms.LocmemSMSBackend")  # noqa: F405
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The suite's platform admin signs in with a password alone; tests/site/test_second_factor.py turns the requirement on.
SECOND_FACTOR_FOR_ADMINS = False
# Tasks run in the test process unless a test starts a real worker (tests/conftest.py: celery_worker).
CELERY_TASK_ALWAYS_EAGER = env.bool("TEST_CELERY_EAGER", default=True)  # noqa: F405
CELERY_TASK_EAGER_PROPAGATES = True
if CELERY_BROKER_URL.startswith("redis"):  # noqa: F405
    # A worker looks for messages a killed worker left unacknowledged every second, not every 100 s, so a test that
    # shortens the visibility timeout (CELERY_VISIBILITY_TIMEOUT) sees them handed out again promptly.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
MEDIA_ROOT = VAR_DIR / ("test-media" + (f"-{_xdist_worker}" if _xdist_worker else ""))
# Tests render pages without running collectstatic first: plain static names, no manifest (settings.py hashes them).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory, so that a real Celery worker process (tests/conftest.py) sees the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}  # noqa: F405
else:
    # Two checkouts testing against one PostgreSQL server must not share (and drop) each other's test database: its
    # name carries a digest of this checkout's path (pytest-xdist then appends each worker's suffix).
    _checkout = hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:8]  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{_checkout}"}  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
LOGGING["loggers"]["audit"]["level"] = "WARNING"  # noqa: F405 (tests that read the audit log set INFO)
# WeChat sign-in is on, with made-up credentials, so the tables of pages (access, budgets, hostile input) see its
# pages; WeChat's API is a closed port unless a test starts the fake (tests/members/test_wechat.py).
WECHAT_MP_APP_ID, WECHAT_MP_APP_SECRET = "wx-test-official-account", "test-mp-secret"
WECHAT_OPEN_APP_ID, WECHAT_OPEN_APP_SECRET = "wx-test-website", "test-open-secret"
WECHAT_MINI_APP_ID, WECHAT_MINI_APP_SECRET = "wx-test-mini-program", "test-mini-secret"
WECHAT_API_URL = "http://127.0.0.1:9"
WECHAT_TIMEOUT_SECONDS = 2

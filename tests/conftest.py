"""Test harness shared by every app's tests.

- Markers `postgres`, `redis`, `browser` say which real service a test needs. When it is missing the test is
  skipped, and the run ends with one line per skipped group saying why; with REQUIRE_SERVICES=1 (set by .ci/run)
  such a test fails instead.
- Personas (tests/personas.py, loaded here for every test): the street's tree `org_tree` with branch A and B,
  `secretary_a` / `secretary_b` / `east_secretary`, `member_a` / `member_b`, `platform_admin`, `member_user`,
  `staff_without_scope`, `anonymous`. A test or conftest names them as arguments and imports none of them.
- `clock`: the test's time (time-machine), standing at CLOCK_START until moved; the one way a test sets the time.
  TESTS_NOW=<ISO instant> starts every test there instead of at the real time.
- `page` / `phone_page`: Playwright on the system Chromium against `live_server`.
- `celery_worker`: a real Celery worker process on Redis, sharing the test database; `celery_worker_factory`
  starts several, with options (environment, extra task modules, concurrency).
"""

import functools
import os
import re
import socket
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

# Playwright's sync API runs an event loop in this thread; Django must still allow ORM calls in it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytest_plugins = ["tests.personas"]

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") not in ("", "0", "false", "no")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVICE_MARKERS = ("postgres", "redis", "browser", "pg_server")
# The PostgreSQL server programs a test runs itself (tests/site/test_replica.py: its own primary and replica).
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
_skipped_groups: dict[str, list[tuple[str, str]]] = defaultdict(list)  # service -> (test, why)


def _missing_reason(service: str) -> str | None:
    from django.conf import settings

    if service == "browser":
        if not Path(CHROMIUM).exists():
            return f"{CHROMIUM} not found (apt-get install chromium chromium-driver fonts-noto-cjk)"
        if not _has_chinese_font():
            # Without one, Chinese is drawn as boxes of another width: layouts and what is read on screen mislead.
            return "no Chinese font for Chromium (apt-get install fonts-noto-cjk)"
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            return "the playwright package is not installed"
        return None
    if service == "pg_server":
        return _missing_server_programs()
    return settings.TEST_SERVICES.get(service)


def _missing_server_programs() -> str | None:
    for program in ("initdb", "pg_ctl", "pg_basebackup", "pg_dump", "psql"):
        if not (PG_BIN / program).exists():
            return f"{PG_BIN / program} not found (apt-get install postgresql-15, or PG_BIN=<its bin folder>)"
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: the test runs it as the postgres account
        import pwd
        import shutil

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres account to run the server as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is not installed"
    return None


@functools.cache
def _has_chinese_font() -> bool:
    try:
        found = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(found.stdout.strip())


def pytest_runtest_setup(item):
    for service in SERVICE_MARKERS:
        if item.get_closest_marker(service) is None:
            continue
        reason = _missing_reason(service)
        if reason is None:
            continue
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but {service} is unavailable: {reason}", pytrace=False)
        pytest.skip(f"needs {service}: {reason}")


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: without the plugin (-p no:xdist) there is none
def pytest_xdist_make_scheduler(config, log):
    """Tests go to whichever worker is free, except a module whose tests share rows made once for the module
    (tests/personas.py: `module_rows` or `street_with` — the demo, the permission tables; the dashboard's
    `shared_street`): all its tests go to one
    worker, so the rows are made once. (pytest-xdist's own `--dist loadgroup` marks do not group under pytest 9:
    it renames the test ids, which pytest 9 no longer lets it do.)"""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    root = Path(config.rootpath)

    @functools.cache
    def source(path: str) -> str:
        try:
            return (root / path).read_text(encoding="utf-8")
        except OSError:
            return ""

    def shares_rows(path: str) -> bool:
        return any(
            word in source(path) for word in ("module_rows(", "street_with(", "shared_street", "streaming_replica")
        )

    slow_words = ("mark.browser", "live_server", "celery_worker", "transaction=True", "streaming_replica")

    def is_slow(path: str) -> bool:
        """Browser, live-server and real-worker tests take seconds each, where most take a tenth of one."""
        return any(word in source(path) for word in slow_words)

    class SharedRowsScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if shares_rows(path) else nodeid

        def schedule(self) -> None:
            """As LoadScopeScheduling (the modules that share rows first, the largest first), then the tests of the
            slow files before the others: a browser test left for the end kept one worker busy while the others
            had nothing left to do."""
            first = self.collection is None
            super().schedule()
            if first and self.workqueue:
                pending = sorted(
                    self.workqueue.items(),
                    key=lambda unit: (-len(unit[1]), not is_slow(unit[0].split("::", 1)[0])),
                )
                self.workqueue.clear()
                self.workqueue.update(pending)

    return SharedRowsScheduling(config, log)


_SKIP_MESSAGE = re.compile(r"(?:Skipped: )?needs (\w+): (.*)")


def pytest_runtest_logreport(report):
    """Collect the skips for missing services from the reports — in the process that prints the summary, which
    with pytest-xdist (`make test` runs in parallel) is not the one that ran the test."""
    if report.skipped and isinstance(report.longrepr, tuple):
        found = _SKIP_MESSAGE.match(str(report.longrepr[2]))
        if found:
            _skipped_groups[found[1]].append((report.nodeid, found[2]))


def pytest_terminal_summary(terminalreporter):
    if not _skipped_groups:
        return
    terminalreporter.section("skipped for missing services")
    for service, skipped in sorted(_skipped_groups.items()):
        terminalreporter.write_line(
            f"SKIPPED {len(skipped)} test(s) marked '{service}': {skipped[0][1]}"
            " (set REQUIRE_SERVICES=1 to make this a failure)"
        )


# --- Common state ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _compiled_translations(django_test_environment):
    """The .mo files are build products (not in git): compile them once, as a deployment does, before any page."""
    from django.conf import settings
    from django.core.management import call_command
    from django.test.signals import setting_changed

    call_command("compiletranslations", allow_incomplete=True, verbosity=0)
    # Forget catalogues loaded before the .mo files existed (the same reset Django does when LOCALE_PATHS changes).
    setting_changed.send(sender=None, setting="LOCALE_PATHS", value=settings.LOCALE_PATHS, enter=False)


@pytest.fixture(scope="session", autouse=True)
def _axes_aware_client_login():
    """django-axes (on in every test) needs the request in authenticate(), and the test client's login() passes
    none. As axes' documentation advises, give it one: a bare request from 127.0.0.1. Failed logins through
    `client.login` therefore count towards a lockout like real ones (tests/audit/test_sign_in.py)."""
    from django.http import HttpRequest
    from django.test.client import ClientMixin

    original = ClientMixin.login

    def login(self, **credentials):
        if "request" not in credentials:
            request = HttpRequest()
            request.META["REMOTE_ADDR"] = "127.0.0.1"
            credentials["request"] = request
        return original(self, **credentials)

    ClientMixin.login = login
    yield
    ClientMixin.login = original


@pytest.fixture(scope="session")
def django_db_setup(
    request,
    django_test_environment,
    django_db_blocker,
    django_db_keepdb,
    django_db_createdb,
    django_db_modify_db_settings,
):
    """Under pytest-xdist on PostgreSQL, each worker's database is a copy of one migrated per run
    (tests/databases.py); otherwise as pytest-django makes it."""
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    from tests import emptying

    workerinput = getattr(request.config, "workerinput", None)
    keepdb = django_db_keepdb and not django_db_createdb
    if workerinput is None or keepdb or connection.vendor != "postgresql" or len(settings.DATABASES) != 1:
        with django_db_blocker.unblock():
            config = setup_databases(verbosity=request.config.option.verbose, interactive=False, keepdb=keepdb)
            emptying.remember_seed()  # the migrations' rows, written back after each emptying (tests/emptying.py)
        yield
        if not keepdb:
            with django_db_blocker.unblock():
                teardown_databases(config, verbosity=request.config.option.verbose)
        return

    from tests.databases import create_from_template

    with django_db_blocker.unblock():
        original = create_from_template(connection, run=workerinput["testrunuid"], var_dir=settings.VAR_DIR)
    yield
    with django_db_blocker.unblock():
        # A connection some thread of this worker's tests left open (idle, its last statement a ROLLBACK: seen at
        # the end of tests/projects + dashboard + budgets with --create-db, not traced to one test) makes the DROP
        # fail with "being accessed by other users". The database goes away now: end those sessions first.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.creation.destroy_test_db(original, verbosity=0)


@pytest.fixture(scope="session", autouse=True)
def _empty_database_after_transactional_tests():
    """After a transactional test, only the tables holding rows are emptied, not all truncated (tests/emptying.py)."""
    from tests import emptying

    emptying.install()
    yield
    emptying.uninstall()


@pytest.fixture(autouse=True)
def _default_language():
    """A request leaves its language active in the thread: start every test in the default language."""
    from django.conf import settings
    from django.utils import translation

    with translation.override(settings.LANGUAGE_CODE):
        yield


@pytest.fixture(autouse=True)
def _celery_joins_allowed():
    """Celery's process-wide "a join would block" flag is what a worker sets; a test that left it set made every
    later eager `.delay().get()` on its pytest worker fail with "Never call result.get() within a task!" (seen when
    the slow tests began to run first). Each test starts with it off."""
    from celery import _state

    _state._set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _clean_cache():
    """Rate limits and cached pages must not leak from one test to the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def sms_outbox():
    """The messages LocmemSMSBackend sent during this test (the list lives in the module, so clear it)."""
    from notifications import sms

    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


# --- Time -----------------------------------------------------------------------------------------------------

# A Thursday noon in the site's time zone: outside the residents' SMS quiet hours, far from midnight and the weekend.
CLOCK_START = datetime(2026, 12, 10, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
# TESTS_NOW=2026-12-13T23:59:30+08:00 starts every test at that instant, ticking (time-machine): a run that shows no
# test depends on the day, the weekday or the hour it happens to run at.
TESTS_NOW = os.environ.get("TESTS_NOW", "")


class Clock:
    """The time of a test, standing still until the test moves it (time-machine): timezone.now(), time.time(),
    date.today() all read it — in this process and its threads (live_server). A real Celery worker
    (celery_worker_factory) starts at the test's time and ticks on from there; the browser keeps real time."""

    def __init__(self, traveller):
        self._traveller = traveller

    @property
    def now(self) -> datetime:
        from django.utils import timezone

        return timezone.now()

    @now.setter
    def now(self, value: datetime) -> None:
        self.move_to(value)

    def move_to(self, value: datetime) -> None:
        if value.tzinfo is None:
            raise ValueError("the clock takes an aware datetime")
        # In UTC: time-machine sets the process's TZ to a destination's zone, which a subprocess would inherit.
        self._traveller.move_to(value.astimezone(UTC))

    def advance(self, by: float | timedelta) -> None:
        """Time passes: `by` seconds, or a timedelta."""
        self._traveller.shift(by if isinstance(by, timedelta) else timedelta(seconds=by))

    def back(self, by: timedelta):
        """`with clock.back(timedelta(days=8)): …` runs the block `by` earlier (rows it makes, services it calls,
        are of that time), then the clock returns to where it stood (tests/timing.py)."""
        from tests.timing import earlier

        return earlier(by)

    def set_local(self, hour: int, minute: int = 0) -> None:
        """Today (the clock's day in the site's time zone) at hour:minute."""
        from django.utils import timezone

        self.now = timezone.localtime(self.now).replace(hour=hour, minute=minute, second=0, microsecond=0)


@pytest.fixture
def clock():
    """Time stands at CLOCK_START until the test moves it: `clock.now = …`, `clock.advance(seconds)`,
    `clock.set_local(hour)`; `clock.now` is timezone.now()."""
    traveller = time_machine.travel(CLOCK_START.astimezone(UTC), tick=False)
    coordinates = traveller.start()
    try:
        yield Clock(coordinates)
    finally:
        traveller.stop()


def pytest_collection_modifyitems(items):
    """A test that asks for the clock gets it right after the autouse fixtures, before the others: the rows its
    fixtures make (personas included) are made at the clock's time, never at the real one."""
    for item in items:
        names = getattr(item, "fixturenames", None)
        if not names or "clock" not in names:
            continue
        autouse = set(item.session._fixturemanager._getautousenames(item))
        names.remove("clock")
        names.insert(max((i + 1 for i, name in enumerate(names) if name in autouse), default=0), "clock")


@pytest.fixture(autouse=True)
def _tests_now():
    """With TESTS_NOW set, every test starts at that instant and time runs on from there."""
    if not TESTS_NOW:
        yield
        return
    with time_machine.travel(datetime.fromisoformat(TESTS_NOW).astimezone(UTC), tick=True):
        yield


# --- Browser --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _playwright_browser():
    if _missing_reason("browser"):
        pytest.skip("browser unavailable")  # pytest_runtest_setup has already reported (or failed) this
    from playwright.sync_api import expect, sync_playwright

    # An assertion waits as long as an action (10 s, _new_page): under make test's load a form's POST, its redirect
    # and the next page took over expect's own 5 s once (the language switch of test_browser_redirects).
    expect.set_options(timeout=10_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def _new_page(browser, live_server, **context_options):
    context = browser.new_context(base_url=live_server.url, locale="zh-CN", **context_options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    return context, page


@pytest.fixture
def page(_playwright_browser, live_server):
    """A desktop-sized page; `page.goto("/")` opens the live server."""
    context, page = _new_page(_playwright_browser, live_server, viewport={"width": 1280, "height": 900})
    yield page
    context.close()


@pytest.fixture
def phone_page(_playwright_browser, live_server):
    """A phone-sized page (390×844, touch), for the residents' and members' journeys."""
    context, page = _new_page(
        _playwright_browser,
        live_server,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    yield page
    context.close()


def login_in_browser(page, username: str, password: str) -> None:
    """Sign in through the real login form."""
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form#login-form [type=submit]")
    page.wait_for_load_state()


# --- Real Celery worker ---------------------------------------------------------------------------------------


@pytest.fixture
def celery_worker_factory(transactional_db, settings):
    """Start real worker processes on Redis that share the test database; tasks are no longer eager.

    Yields `start(env=None, include=(), concurrency=1, queues=())`, which starts one more worker and returns its
    Popen once it answers a ping (a test may SIGKILL it and start another). `env` adds environment variables for
    that worker (e.g. CELERY_VISIBILITY_TIMEOUT, TEST_SMS_BACKEND, NOTIFICATION_RETRY_BASE_SECONDS); `include` names
    extra modules whose tasks it must know (test-only tasks); `concurrency` > 1 uses the prefork pool; `queues`
    limits it to those queues, as a production worker per kind of work. The test must be marked `redis` (and
    `postgres` when it relies on row locks). Before and after, the queue is purged and the
    messages a killed worker left unacknowledged are dropped, so nothing leaks into the next test.
    """
    from django.db import connection

    from volunteer_platform.celery import app

    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("celery_worker needs the Redis broker")
    base_env = dict(os.environ)
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        base_env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        base_env["DATABASE_URL"] = (
            f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    base_env.update(
        DJANGO_SETTINGS_MODULE="volunteer_platform.settings_test",
        TEST_CELERY_EAGER="false",
        REDIS_URL=settings.REDIS_URL,
    )
    procs: list[subprocess.Popen] = []

    def start(*, env: dict | None = None, include=(), concurrency: int = 1, queues=()) -> subprocess.Popen:
        hostname = f"test-worker-{os.getpid()}-{len(procs)}@%h"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "volunteer_platform",
            "worker",
            f"--hostname={hostname}",
            "--pool=solo" if concurrency == 1 else f"--concurrency={concurrency}",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ]
        if include:
            command.append(f"--include={','.join(include)}")
        if queues:  # only these queues (settings.CELERY_TASK_QUEUE_NAMES); without, all of them
            command.append(f"--queues={','.join(queues)}")
        # The worker starts at the test's time and runs on from there (volunteer_platform/settings_test.py).
        from django.utils import timezone

        at_start = {"TESTS_WORKER_CLOCK": f"{timezone.now().isoformat()}@{time.monotonic()}"}
        proc = subprocess.Popen(
            command, env={**base_env, **at_start, **(env or {})}, cwd=Path(__file__).resolve().parent.parent
        )
        procs.append(proc)
        _wait_for_worker(app, proc, hostname.replace("%h", socket.gethostname()))
        return proc

    _drop_queued_messages(app)
    app.conf.task_always_eager = False
    try:
        yield start
    finally:
        app.conf.task_always_eager = True
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _drop_queued_messages(app)


@pytest.fixture
def celery_worker(celery_worker_factory):
    """One real worker with the default settings (see celery_worker_factory); yields its Popen."""
    return celery_worker_factory()


def _drop_queued_messages(app) -> None:
    """Purge the queue and forget messages left unacknowledged by a killed worker (kombu's Redis transport keeps
    them in the `unacked` hash and would hand them to the next worker). Only this run's Redis database."""
    app.control.purge()
    with app.connection_for_write() as conn:
        client = conn.default_channel.client
        client.delete("unacked", "unacked_index", "unacked_mutex")


def _wait_for_worker(app, proc, hostname: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {proc.returncode}")
        if app.control.ping(destination=[hostname], timeout=0.5):
            return
    raise RuntimeError("celery worker did not answer a ping in time")


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1):
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")


__all__ = ["login_in_browser", "wait_until"]

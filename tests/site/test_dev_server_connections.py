"""`make run` on PostgreSQL holds a bounded number of database connections.

runserver answers each client connection in a thread of its own and never reuses it; with CONN_MAX_AGE above 0
each thread would keep its database connection for as long as its client keeps the socket open, and a finished
thread's until the garbage collector comes by, until PostgreSQL answers "too many clients". The web server of
`make run` (rundev.py) runs with CONN_MAX_AGE=0; gunicorn in production keeps its connections (its sync workers
reuse them)."""

import http.client
import os
import socket
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from tests.site.test_deploy import operator_environment, run_python
from volunteer_platform.management.commands import rundev

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 200
KEPT_OPEN = 20  # connections a few browsers keep open


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sessions() -> int:
    """PostgreSQL's sessions on the test database, this test's own included."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # the view is read once per transaction otherwise
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def _make_run_environment(var_dir: Path) -> dict[str, str]:
    """What `make run DATABASE_URL=…` gives manage.py: DEBUG on, the development settings (manage.py's default),
    the test database; the embedded broker and cache under a folder of the test's own."""
    db = connection.settings_dict
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    (var_dir / "broker" / "queue").mkdir(parents=True)  # the embedded broker's folder, which /healthz probes
    return {
        **keep,
        "DEBUG": "true",
        "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
        f"{db['NAME']}",
        "VAR_DIR": str(var_dir),
        "PYTHONUNBUFFERED": "1",
    }


def _wait_for(port: int, process: subprocess.Popen, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the dev server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                answer.read()
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the dev server did not answer")


def _get_on(client: http.client.HTTPConnection) -> int:
    client.request("GET", "/healthz")  # a SELECT 1 and the outbox's age: every request queries
    answer = client.getresponse()
    answer.read()
    return answer.status


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as answer:
        answer.read()
        return answer.status


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_dev_server_of_make_run_holds_a_bounded_number_of_connections(tmp_path):
    port = _free_port()
    command = rundev.commands("127.0.0.1", str(port))["web"]
    env = rundev.environment("web", _make_run_environment(tmp_path))
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        _wait_for(port, server)
        own = _sessions()
        # Browsers (and the sweep's client) keep their connections open between requests: runserver keeps a
        # thread for each, and each thread its database connection, unless it is closed after every request.
        clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(KEPT_OPEN)]
        try:
            for number in range(REQUESTS // 2):
                assert _get_on(clients[number % KEPT_OPEN]) == 200
            assert _sessions() - own <= 5
        finally:
            for client in clients:
                client.close()
        # …and others open a new connection for each request, several at a time.
        url = f"http://127.0.0.1:{port}/healthz"
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(_get, [url] * (REQUESTS // 2)))
        assert statuses == [200] * (REQUESTS // 2)
        time.sleep(0.5)  # the last threads finish
        assert _sessions() - own <= 5
    finally:
        os.killpg(server.pid, 15)  # runserver and its autoreloader's child
        server.wait(10)


def test_persistent_connections_only_under_the_production_settings():
    """The development settings (runserver, manage.py) close a connection after each request; the production ones
    (gunicorn, Celery: deploy/env.example) keep it."""

    def conn_max_age(env: dict[str, str]) -> int:
        code = "import django; django.setup(); from django.conf import settings as s; print(s.DATABASES['default']"
        result = run_python(code + "['CONN_MAX_AGE'])", env)
        assert result.returncode == 0, result.stderr
        return int(result.stdout.strip().splitlines()[-1])

    assert conn_max_age(operator_environment()) == 60
    assert conn_max_age(operator_environment(CONN_MAX_AGE="120")) == 120
    development = operator_environment(DJANGO_SETTINGS_MODULE="volunteer_platform.settings_dev")
    del development["DEBUG"]  # settings_dev turns it on
    assert conn_max_age(development) == 0

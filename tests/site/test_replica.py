"""The read replica (core/db.py) against a real streaming replica.

The module starts its own small PostgreSQL primary (initdb into a temporary folder: trust on 127.0.0.1, replication
allowed, wal_level=replica) holding a copy of the test database (pg_dump), and a streaming replica of it
(`pg_basebackup -R`) on another port; Django's `default` points at that primary and a `replica` alias at the replica
for the module's tests, and both clusters are stopped and removed after them. The system cluster is not used for
this: its pg_hba.conf allows no replication, and the suite does not edit system configuration.

Rows are committed (a replica sees only committed rows), made once for the module (`build_street`) and never rolled
back: the clusters go away with the module.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.db import connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from core import db
from members.models import Member
from tests.conftest import PG_BIN
from tests.members.factories import MemberFactory
from tests.personas import build_street
from volunteer_platform.models import Plan, Task

pytestmark = [pytest.mark.postgres, pytest.mark.pg_server]


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: as the postgres account then.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(_as_postgres(command), check=True, capture_output=True, text=True, timeout=120, **kwargs)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Cluster:
    folder: Path
    port: int

    def pg_ctl(self, *args: str) -> None:
        _run([str(PG_BIN / "pg_ctl"), "-D", str(self.folder), "-l", f"{self.folder}.log", "-w", "-t", "60", *args])

    def start(self) -> None:
        self.pg_ctl("start", "-o", f"-p {self.port}")

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast")

    def sql(self, statement: str, database: str = "postgres") -> str:
        found = subprocess.run(
            [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database]
            + ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return found.stdout.strip()


def _wait_streaming(replica: Cluster, primary: Cluster) -> None:
    """Until the replica streams from the primary and has replayed everything the primary wrote."""
    deadline = time.monotonic() + 30
    target = primary.sql("SELECT pg_current_wal_lsn()")
    while time.monotonic() < deadline:
        try:
            state = replica.sql(
                "SELECT (SELECT status FROM pg_stat_wal_receiver) = 'streaming'"
                f" AND pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
            )
        except subprocess.CalledProcessError:
            state = ""
        if state == "t":
            return
        time.sleep(0.1)
    raise AssertionError(f"the replica does not stream: {Path(f'{replica.folder}.log').read_text()[-2000:]}")


@pytest.fixture(scope="module")
def streaming_replica(django_db_setup, django_db_blocker) -> Iterator[tuple[Cluster, Cluster]]:
    """A primary with the test database's schema and rows, its streaming replica, and Django pointed at both."""
    top = Path(tempfile.mkdtemp(prefix="vp-replica-"))
    if os.geteuid() == 0:
        shutil.chown(top, "postgres", "postgres")
    primary, replica = Cluster(top / "primary", _free_port()), Cluster(top / "replica", _free_port())
    started: list[Cluster] = []
    default = connections["default"]
    saved = default.settings_dict
    try:
        _run([str(PG_BIN / "initdb"), "-D", str(primary.folder), "-U", "postgres", "-A", "trust", "-E", "UTF8", "-N"])
        conf = "\n".join(
            [
                "listen_addresses = '127.0.0.1'",
                f"unix_socket_directories = '{top}'",
                "wal_level = replica",
                "max_wal_senders = 4",
                "hot_standby = on",
                "fsync = off",  # a throwaway cluster: speed over durability
                "full_page_writes = off",
                "shared_buffers = 32MB",
                "max_connections = 40",
            ]
        )
        _run(["sh", "-c", f"cat >> {primary.folder}/postgresql.conf"], input=conf + "\n")
        hba = "local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n"
        _run(["sh", "-c", f"cat > {primary.folder}/pg_hba.conf"], input=hba)
        primary.start()
        started.append(primary)
        primary.sql("CREATE DATABASE vp")
        with django_db_blocker.unblock():
            source = saved["NAME"]
        dump = subprocess.run(
            [str(PG_BIN / "pg_dump"), "-h", saved["HOST"] or "127.0.0.1", "-p", str(saved["PORT"] or 5432)]
            + ["-U", saved["USER"] or "postgres", "--no-owner", "--no-privileges", source],
            check=True,
            capture_output=True,
            timeout=120,
            env={**os.environ, "PGPASSWORD": saved.get("PASSWORD") or ""},
        ).stdout
        subprocess.run(
            [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres", "-d", "vp"]
            + ["-X", "-q", "-v", "ON_ERROR_STOP=1"],
            input=dump,
            check=True,
            capture_output=True,
            timeout=120,
        )
        _run(
            [str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"]
            + ["-D", str(replica.folder), "-R", "-X", "stream", "-c", "fast", "--no-sync"]
        )
        replica.start()
        started.append(replica)
        _wait_streaming(replica, primary)

        default.close()
        on_primary = {**saved, "NAME": "vp", "HOST": "127.0.0.1", "PORT": str(primary.port), "PASSWORD": ""}
        on_primary["USER"] = "postgres"
        default.settings_dict = connections.settings["default"] = on_primary
        connections.settings[db.REPLICA] = {
            **on_primary,
            "PORT": str(replica.port),
            "OPTIONS": {**on_primary.get("OPTIONS", {}), "connect_timeout": 1},
            "TEST": {**on_primary["TEST"], "MIRROR": "default"},
        }
        with (
            django_db_blocker.unblock(),
            override_settings(DATABASE_ROUTERS=["core.db.ReplicaRouter"], REPLICA_CHECK_SECONDS=60),
        ):
            db.forget_replica_state()
            yield primary, replica
    finally:
        for alias in (db.REPLICA, "default"):
            if alias in connections.settings:
                connections[alias].close()
        if db.REPLICA in connections.settings:
            del connections[db.REPLICA]
            del connections.settings[db.REPLICA]
        default.settings_dict = connections.settings["default"] = saved
        db.forget_replica_state()
        for cluster in reversed(started):
            with suppress(subprocess.CalledProcessError):
                cluster.stop()
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def street(streaming_replica):
    primary, replica = streaming_replica
    made = build_street()
    plan = Plan.objects.create(organization=made.org_tree.branch_a, year=2026, title="东一支部服务计划")
    made.task = Task.objects.create(
        plan=plan, title="走访空巢老人", assignee_member=made.secretary_a.member, due_on=date(2099, 1, 1)
    )
    _wait_streaming(replica, primary)
    return made


@pytest.fixture
def replica_cluster(streaming_replica, street, settings) -> Iterator[tuple[Cluster, Cluster]]:
    """Each test starts with a streaming, caught-up replica, its state checked afresh, a generous lag threshold."""
    primary, replica = streaming_replica
    settings.REPLICA_MAX_LAG_SECONDS = 3600
    db.forget_replica_state()
    yield primary, replica
    if replica.sql("SELECT pg_is_wal_replay_paused()") == "t":
        replica.sql("SELECT pg_wal_replay_resume()")
    _wait_streaming(replica, primary)
    db.forget_replica_state()


@contextmanager
def replay_paused(replica: Cluster) -> Iterator[None]:
    replica.sql("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        replica.sql("SELECT pg_wal_replay_resume()")


def branch_a_members(street) -> int:
    return Member.objects.filter(organization=street.org_tree.branch_a).count()


def test_figures_are_read_from_the_replica_and_writes_go_to_the_primary(replica_cluster, street, client):
    primary, replica = replica_cluster
    before = branch_a_members(street)
    with replay_paused(replica):
        MemberFactory(organization=street.org_tree.branch_a)  # committed on the primary, not replayed yet

        assert branch_a_members(street) == before + 1  # outside replica_reads(): the primary
        with db.replica_reads():
            assert branch_a_members(street) == before  # the replica's copy, a write behind
            MemberFactory(organization=street.org_tree.branch_a)
            # Written in this block: its later reads go to the primary, which has the write.
            assert branch_a_members(street) == before + 2

        client.force_login(street.secretary_a)
        with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
            response = client.get("/dashboard/")
    assert response.status_code == 200
    assert len(on_replica) > 3  # the figures' queries (and the lag check) went to the replica
    assert db.replica_state().status == "ok"


def test_a_person_who_wrote_reads_from_the_primary_for_a_few_seconds(replica_cluster, street, client, clock):
    client.force_login(street.secretary_a)
    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
        assert client.get("/dashboard/").status_code == 200
    assert len(on_replica) > 0  # before writing: the replica

    primary, replica = replica_cluster
    with replay_paused(replica):  # the replica does not have the note: only the primary can show it
        response = client.post(f"/dashboard/tasks/{street.task.pk}/", {"status": "", "text": "已走访三户"})
        assert response.status_code == 302
        assert street.task.notes.filter(text="已走访三户").exists()
        cookie = response.cookies["vp_primary"]
        assert cookie["max-age"] == 10 and cookie["httponly"]

        with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
            assert client.get("/dashboard/").status_code == 200
        assert len(on_replica) == 0  # within REPLICA_STICKY_SECONDS: the primary
        with db.replica_reads():  # while a reader who did not write gets the replica's copy
            assert not street.task.notes.filter(text="已走访三户").exists()
    _wait_streaming(replica, primary)

    clock.advance(11)  # the cookie's instant has passed (a browser would have dropped it by now)
    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
        assert client.get("/dashboard/").status_code == 200
    assert len(on_replica) > 0

    # A page that only reads leaves no cookie; a forged one far in the future pins nothing.
    assert "vp_primary" not in client.get("/dashboard/").cookies
    client.cookies["vp_primary"] = str(time.time() + 10**6)
    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
        assert client.get("/dashboard/").status_code == 200
    assert len(on_replica) > 0


def test_a_lagging_replica_is_left_for_the_primary_until_it_catches_up(replica_cluster, street, client, settings):
    primary, replica = replica_cluster
    settings.REPLICA_MAX_LAG_SECONDS = 0.5
    before = branch_a_members(street)
    with replay_paused(replica):
        MemberFactory(organization=street.org_tree.branch_a)
        time.sleep(1.0)  # the primary's write waits on the replica, unreplayed, longer than the threshold
        db.forget_replica_state()

        with db.replica_reads():
            assert branch_a_members(street) == before + 1  # the primary: the replica is too far behind
        state = db.replica_state()
        assert state.status == "lagging" and state.lag_seconds is not None and state.lag_seconds > 0.5

        body = client.get("/healthz").json()
        assert client.get("/healthz").status_code == 200
        assert body["status"] == "ok"  # degraded, not down
        assert body["replica"]["status"] == "lagging"
        assert body["replica"]["reads_from"] == "primary"
        assert body["replica"]["lag_seconds"] > 0.5

    _wait_streaming(replica, primary)
    db.forget_replica_state()
    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica, db.replica_reads():
        assert branch_a_members(street) == before + 1
    assert len(on_replica) > 0  # caught up: the replica again
    assert client.get("/healthz").json()["replica"] == {
        "ok": True,
        "status": "ok",
        "reads_from": "replica",
        "lag_seconds": 0.0,
    }


def test_a_replica_that_goes_away_leaves_the_figures_to_the_primary(replica_cluster, street, client):
    primary, replica = replica_cluster
    client.force_login(street.secretary_a)
    assert db.replica_state(force=True).status == "ok"
    assert client.get("/dashboard/").status_code == 200  # a kept connection to the replica

    replica.stop()
    try:
        # The process still holds "ok" from its last check: the dashboard's first read fails on the replica,
        # the view runs again on the primary.
        assert db.replica_state().status == "ok"
        with CaptureQueriesContext(connections["default"]) as on_primary:
            response = client.get("/dashboard/")
        assert response.status_code == 200
        assert "东一支部" in response.content.decode()
        assert len(on_primary) > 3
        assert db.replica_state().status == "unreachable"

        started = time.monotonic()
        export = client.get("/dashboard/export/figures.xlsx")
        assert export.status_code == 200
        assert time.monotonic() - started < 5  # no connect attempt per query: the state is kept for the process
        # The export wrote its audit record: this person's next pages read the primary for a while.
        assert "vp_primary" in export.cookies
        del client.cookies["vp_primary"]

        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
        assert response.json()["replica"] == {
            "ok": False,
            "status": "unreachable",
            "reads_from": "primary",
            "detail": "OperationalError",
        }
    finally:
        replica.start()
    _wait_streaming(replica, primary)

    assert client.get("/healthz").json()["replica"]["status"] == "ok"  # checked afresh: back
    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
        assert client.get("/dashboard/").status_code == 200
    assert len(on_replica) > 0  # used again


def test_the_snapshot_refresh_and_reconcile_read_from_the_replica(replica_cluster, street, settings):
    from django.core.management import call_command

    from volunteer_platform import tasks

    settings.DASHBOARD_SNAPSHOT_MIN_MEMBERS = 1
    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
        assert tasks.refresh_dashboard_snapshots() > 0
    assert len(on_replica) > 3

    quiet = StringIO()
    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
        call_command("reconcile", "--quiet", stdout=quiet)
    assert len(on_replica) > 10  # checking only: the replica

    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
        call_command("reconcile", "--quiet", "--fix", stdout=quiet)
    assert len(on_replica) == 0  # repairs are computed from the primary


def test_a_replica_cut_off_from_its_primary_is_not_used(replica_cluster, street, client):
    """Cut off, a replica replays nothing new and its lag reads 0: it is the missing stream that tells."""
    primary, replica = replica_cluster
    conninfo = replica.sql("SHOW primary_conninfo")
    replica.sql("ALTER SYSTEM SET primary_conninfo = ''")
    replica.sql("SELECT pg_reload_conf()")
    try:
        deadline = time.monotonic() + 20
        while db.replica_state(force=True).status != "not_streaming" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert db.replica_state().status == "not_streaming"
        with CaptureQueriesContext(connections[db.REPLICA]) as on_replica, db.replica_reads():
            branch_a_members(street)
        assert len(on_replica) == 0
        assert client.get("/healthz").json()["replica"]["reads_from"] == "primary"
    finally:
        replica.sql(f"ALTER SYSTEM SET primary_conninfo = '{conninfo.replace(chr(39), chr(39) * 2)}'")
        replica.sql("SELECT pg_reload_conf()")


def test_a_report_is_built_from_the_replica(replica_cluster, street):
    """The quarterly and annual reports read their figures where the dashboard does; the report's row and files
    are written on the primary."""
    from volunteer_platform import services
    from volunteer_platform.models import Report

    report = Report.objects.create(organization=street.org_tree.branch_a, kind=Report.Kind.ANNUAL, year=2026)
    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
        assert services.report_build(report_id=report.pk) == Report.Status.READY
    assert len(on_replica) > 10
    assert not any(q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE")) for q in on_replica)
    report.refresh_from_db()
    assert report.status == Report.Status.READY and report.pdf.name

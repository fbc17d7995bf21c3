"""DATABASE_REPLICA_URL (core/db.py): without it nothing of the replica is installed; with it, an alias that fails
fast and is never made a test database, the router and the middleware. The replica itself:
tests/site/test_replica.py."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import connections
from django.test.utils import CaptureQueriesContext

from core import db
from core.middleware import ReadYourWritesMiddleware
from members.models import Member

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import json; from django.conf import settings; r = settings.DATABASES['replica'];"
    "print(json.dumps({'host': r['HOST'], 'port': r['PORT'], 'options': r['OPTIONS'], 'test': r['TEST'],"
    " 'routers': settings.DATABASE_ROUTERS, 'middleware': settings.MIDDLEWARE}))"
)


def settings_with(**env) -> subprocess.CompletedProcess:
    kept = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + SHOW],
        cwd=ROOT,
        env={**kept, "DJANGO_SETTINGS_MODULE": "volunteer_platform.settings_test", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.django_db
def test_without_a_replica_every_read_goes_to_the_one_database(client):
    assert list(settings.DATABASES) == ["default"]
    assert settings.DATABASE_ROUTERS == []
    assert db.replica_state().status == "absent"
    with pytest.raises(MiddlewareNotUsed):
        ReadYourWritesMiddleware(lambda request: None)

    with CaptureQueriesContext(connections["default"]) as on_default, db.replica_reads():
        Member.objects.count()
    assert len(on_default) == 1

    response = client.get("/healthz")
    assert response.status_code == 200
    assert "replica" not in response.json()


def test_the_replica_url_adds_an_alias_that_fails_fast_the_router_and_the_middleware():
    result = settings_with(DATABASE_REPLICA_URL="postgres://reader:s3cret@10.0.0.12:5433/volunteer_platform")

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert (shown["host"], shown["port"]) == ("10.0.0.12", 5433)
    assert shown["options"]["connect_timeout"] == 2
    assert shown["test"]["MIRROR"] == "default"  # never created, migrated or flushed as a test database
    assert shown["routers"] == ["core.db.ReplicaRouter"]
    assert "core.middleware.ReadYourWritesMiddleware" in shown["middleware"]

    shown = json.loads(
        settings_with(DATABASE_REPLICA_URL="postgres://r@h/d", DATABASE_REPLICA_CONNECT_TIMEOUT="1").stdout
    )
    assert shown["options"]["connect_timeout"] == 1


def test_a_replica_url_that_is_not_postgresql_is_refused():
    result = settings_with(DATABASE_REPLICA_URL="sqlite:////tmp/replica.sqlite3")

    assert result.returncode != 0
    assert "DATABASE_REPLICA_URL must be a PostgreSQL streaming replica" in result.stderr


def test_the_router_never_migrates_the_replica():
    router = db.ReplicaRouter()
    assert router.allow_migrate(db.REPLICA, "members") is False
    assert router.allow_migrate("default", "members") is None
    assert router.db_for_write(Member) == "default"


def test_without_the_server_programs_the_replica_tests_say_why(monkeypatch, tmp_path):
    from tests import conftest

    monkeypatch.setattr(conftest, "PG_BIN", tmp_path)
    assert conftest._missing_server_programs() == (
        f"{tmp_path / 'initdb'} not found (apt-get install postgresql-15, or PG_BIN=<its bin folder>)"
    )

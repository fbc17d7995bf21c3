"""The cache and Celery's broker live in separate Redis instances in deploy/: the cache may evict
when full (allkeys-lru, a maxmemory), the broker never (noeviction, persistent). The settings read the cache's
address from CACHE_REDIS_URL and the broker's from REDIS_URL; without CACHE_REDIS_URL (a developer's machine) the
cache takes REDIS_URL's next database."""

import shutil
import socket
import subprocess
import time
from urllib.parse import urlsplit

import pytest

from core.redis_urls import next_redis_database
from tests.site.test_deploy import DEPLOY, example_entries, operator_environment, run_python

REDIS = DEPLOY / "redis"
PROBE = """import django; django.setup()
from django.conf import settings
print(settings.CACHES["default"]["BACKEND"], settings.CACHES["default"].get("LOCATION", ""))
print(settings.CELERY_BROKER_URL)
"""


def _settings(**env) -> tuple[str, str]:
    result = run_python(PROBE, operator_environment(**env))
    assert result.returncode == 0, result.stderr
    cache, broker = result.stdout.splitlines()[-2:]
    return cache, broker


def test_the_example_puts_cache_and_broker_on_two_instances():
    cache, broker = _settings()
    assert cache == "volunteer_platform.redis_cache.RedisCache redis://127.0.0.1:6380/0"
    assert broker == "redis://127.0.0.1:6379/0"
    entries = example_entries()
    assert str(urlsplit(entries["CACHE_REDIS_URL"]).port) == _directive(REDIS / "redis-cache.conf", "port") == "6380"
    assert urlsplit(entries["REDIS_URL"]).port == 6379  # Debian's own instance, which broker.conf is included in


def test_without_cache_redis_url_the_cache_takes_the_next_database():
    env = operator_environment()
    del env["CACHE_REDIS_URL"]
    result = run_python(PROBE, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == [
        "volunteer_platform.redis_cache.RedisCache redis://127.0.0.1:6379/1",
        "redis://127.0.0.1:6379/0",
    ]
    cache, _broker = _settings(REDIS_URL="", CACHE_REDIS_URL="")  # no Redis at all: the file cache, as before
    assert cache.startswith("django.core.cache.backends.filebased.FileBasedCache ")


def test_the_next_database():
    assert next_redis_database("") == ""
    assert next_redis_database("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/1"
    assert next_redis_database("redis://127.0.0.1:6379") == "redis://127.0.0.1:6379/1"
    assert next_redis_database("rediss://:p%40ss@10.0.0.5:6380/15") == "rediss://:p%40ss@10.0.0.5:6380/0"
    assert next_redis_database("unix:///run/redis.sock?db=2") == "unix:///run/redis.sock?db=2"  # kept as named


def _directive(path, name: str) -> str:
    values = [line.split(None, 1)[1] for line in path.read_text().splitlines() if line.split(None, 1)[:1] == [name]]
    assert len(values) == 1, (path, name, values)
    return values[0]


def test_the_configurations_say_what_the_deploy_guide_says():
    assert _directive(REDIS / "redis-cache.conf", "maxmemory-policy") == "allkeys-lru"
    assert _directive(REDIS / "redis-cache.conf", "appendonly") == "no"
    assert _directive(REDIS / "broker.conf", "maxmemory-policy") == "noeviction"
    assert _directive(REDIS / "broker.conf", "appendonly") == "yes"
    guide = (DEPLOY.parent / "docs" / "deploy.md").read_text(encoding="utf-8")
    for text in ("deploy/redis/broker.conf", "deploy/redis/redis-cache.conf", "redis-server@cache", "CACHE_REDIS_URL"):
        assert text in guide
    for unit in (DEPLOY / "systemd").glob("volunteer-*.service"):
        assert "redis-server@cache.service" in unit.read_text(encoding="utf-8"), unit.name


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server program")
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("redis-cache.conf", {"maxmemory-policy": "allkeys-lru", "maxmemory": "536870912", "save": ""}),
        ("broker.conf", {"maxmemory-policy": "noeviction", "appendonly": "yes", "appendfsync": "everysec"}),
    ],
)
def test_redis_starts_with_each_configuration(tmp_path, name, expected):
    """The files are real Redis configurations: a redis-server started with one (on a free port, in a folder of the
    test's own) answers with its settings."""
    import redis

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    overrides = ["--port", str(port), "--pidfile", str(tmp_path / "redis.pid"), "--logfile", "", "--dir", str(tmp_path)]
    server = subprocess.Popen(
        ["redis-server", str(REDIS / name), *overrides, "--daemonize", "no"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        client = redis.Redis(port=port, socket_timeout=2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert server.poll() is None, server.stdout.read().decode()
                assert time.monotonic() < deadline
                time.sleep(0.05)
        for setting, value in expected.items():
            assert client.config_get(setting)[setting] == value, setting
    finally:
        server.terminate()
        server.wait(10)

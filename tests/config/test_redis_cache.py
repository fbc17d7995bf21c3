"""The production cache backend (volunteer_platform/redis_cache.py): Django's Redis cache, with one client per
connection pool kept instead of one made per operation."""

import os

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCacheClient as DjangoClient

from volunteer_platform.redis_cache import RedisCache

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {"BACKEND": "volunteer_platform.redis_cache.RedisCache", "LOCATION": settings.REDIS_URL}
    }
    cache = caches.create_connection("default")
    cache.clear()
    yield cache
    cache.clear()


def test_it_works_as_the_django_cache_and_keeps_one_client(redis_cache):
    assert isinstance(redis_cache, RedisCache)
    client = redis_cache._cache.get_client()
    assert redis_cache._cache.get_client(write=True) is client  # one server: reads and writes share the pool
    with pytest.MonkeyPatch.context() as patch:
        made = []
        patch.setattr(DjangoClient, "get_client", lambda *a, **k: made.append(1))  # Django's would make one each
        redis_cache.set("a", {"x": 1}, 30)
        redis_cache.set_many({"b": 2, "c": "三"}, 30)
        assert redis_cache.get("a") == {"x": 1}
        assert redis_cache.get_many(["a", "b", "c", "missing"]) == {"a": {"x": 1}, "b": 2, "c": "三"}
        assert redis_cache.incr("b") == 3
        redis_cache.delete_many(["a", "b"])
        assert redis_cache.get_many(["a", "b", "c"]) == {"c": "三"}
        assert not made
    assert redis_cache._cache.get_client() is client


def test_a_forked_process_uses_its_own_connections(redis_cache):
    """gunicorn forks its workers: a client made before the fork must not share a socket with the parent."""
    redis_cache.set("before", 1, 30)
    parent_connection = redis_cache._cache.get_client().connection_pool._created_connections
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it read, then leave without running pytest's teardown
        try:
            ok = redis_cache.get("before") == 1 and redis_cache.incr("before") == 2
            os.write(write, b"ok" if ok else b"no")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 2) == b"ok"
    assert redis_cache.get("before") == 2
    assert redis_cache._cache.get_client().connection_pool._created_connections == parent_connection

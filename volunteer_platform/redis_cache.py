"""Django's Redis cache backend, with one `redis.Redis` client per connection pool instead of one per operation.

Why: Django's `RedisCacheClient.get_client()` builds a new `redis.Redis` for every cache operation, and each one
fills its table of ~170 response callbacks — about a third of what a cached public page costs over the bare view,
paid again for every session read and page-cache read of a signed-in page. A client
is only a handle on its pool (thread-safe, and redis-py's pool notices a fork and starts its own connections), so
it is made once per pool and reused. Everything else — pools, serializer, options — is Django's.
"""

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient

"""Fixed-window rate limits in the shared Django cache (Redis in production, so every process counts together).

A limit is a setting holding (how many, per how many seconds). `hit` counts one attempt and says whether it is
allowed and, when not, in how many seconds the window ends. `peek` asks without counting. Keys hold a hash of the
identifier (an IP address, a phone's blind index, a tracking code), never the identifier itself.
"""

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from core.net import client_ip as audit_client_ip


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window ends (0 when allowed)


def limit(name: str) -> tuple[int, int]:
    """The limit the setting `name` holds (each is defined, with what it counts, in settings.py)."""
    count, seconds = getattr(settings, name)
    return count, seconds


def _key(name: str, identifier: str, window: int, now: float) -> tuple[str, int]:
    bucket = int(now // window)
    digest = hashlib.sha256(identifier.encode()).hexdigest()[:32]
    return f"rl:{name}:{digest}:{bucket}", (bucket + 1) * window - int(now)


def peek(name: str, identifier: str) -> Verdict:
    count, window = limit(name)
    key, remaining = _key(name, identifier, window, time.time())
    used = cache.get(key, 0)
    return Verdict(True, 0) if used < count else Verdict(False, max(remaining, 1))


def hit(name: str, identifier: str) -> Verdict:
    """Count one attempt; refused attempts are counted too (they cost the caller nothing more)."""
    count, window = limit(name)
    key, remaining = _key(name, identifier, window, time.time())
    cache.add(key, 0, timeout=window + 5)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + 5)
        used = 1
    return Verdict(True, 0) if used <= count else Verdict(False, max(remaining, 1))


def client_ip(request) -> str:
    """The client's address, read behind the trusted reverse proxies (`TRUSTED_PROXY_COUNT`, see core.net) — the
    same answer the audit trail and django-axes get, so a forged X-Forwarded-For cannot dodge a limit."""
    return audit_client_ip(request) or "unknown"

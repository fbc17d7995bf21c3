"""Fixed-window rate limits in the shared Django cache (Redis in production, so every process counts together).

A limit is (how many, per how many seconds). `hit` counts one attempt and says whether it is allowed and, when not,
in how many seconds the window ends. `peek` asks without counting. Keys hold a hash of the identifier (an IP
address, a phone's blind index, a tracking code), never the identifier itself.
"""

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from core.net import client_ip as audit_client_ip

# Defaults; each can be overridden in settings as a (count, seconds) pair.
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    # Submissions of the public form from one address (every POST counts, valid or not).
    "WISH_SUBMIT_IP_LIMIT": (10, 3600),
    # Wishes accepted from one mobile number.
    "WISH_SUBMIT_PHONE_LIMIT": (3, 86400),
    # Tracking look-ups from one address.
    "WISH_TRACK_IP_LIMIT": (20, 900),
    # Wrong phone digits for one tracking code (known or not, so the answer never tells which).
    "WISH_TRACK_CODE_LIMIT": (5, 3600),
    # Rating-link POSTs, and opened links that match no wish, from one address (guessing tokens).
    "WISH_FEEDBACK_IP_LIMIT": (30, 900),
    # Check-in attempts of one member at one activity (a 6-digit code must not be guessable in its window).
    "CHECKIN_ATTEMPT_LIMIT": (10, 3600),
    # Failed sign-ins from one address, whatever the usernames (password spraying; django-axes locks one username
    # per address after AXES_FAILURE_LIMIT). High enough for a community centre's shared address.
    "SIGN_IN_IP_LIMIT": (30, 900),
}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window ends (0 when allowed)


def limit(name: str) -> tuple[int, int]:
    return tuple(getattr(settings, name, DEFAULT_LIMITS[name]))


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

"""Redis addresses for the settings: plain text, no Django (volunteer_platform/settings.py imports it first)."""

import re
from urllib.parse import urlsplit

DATABASES = 16  # Redis's default `databases`


def next_redis_database(url: str) -> str:
    """`url` with the next database number of the same server (redis://h:6379/0 → redis://h:6379/1, /15 → /0):
    the cache's default place beside the broker's on one Redis. '' for ''; a URL that names its database otherwise
    (a socket's `?db=`) is kept as it is."""
    if not url:
        return ""
    parts = urlsplit(url)
    number = parts.path.strip("/") or "0"
    if parts.scheme not in ("redis", "rediss") or parts.query or not re.fullmatch(r"[0-9]{1,2}", number):
        return url
    return parts._replace(path=f"/{(int(number) + 1) % DATABASES}").geturl()

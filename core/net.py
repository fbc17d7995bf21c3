"""Which address a request comes from: the audit trail and django-axes (AXES_CLIENT_IP_CALLABLE) ask here.

`TRUSTED_PROXY_COUNT` (settings, from the environment) is how many reverse proxies stand in front of Django, each
appending the address it saw to X-Forwarded-For. 0 (the default) trusts no proxy: the address is REMOTE_ADDR and
the header is ignored, since anybody can send it. With N proxies the client is the N-th address from the right of
X-Forwarded-For — the entry our own outermost proxy appended; what the client wrote to the left of it is ignored.
A header shorter than N or an entry that is not an address falls back to REMOTE_ADDR.
"""

import ipaddress

from django.conf import settings


def _valid(value: str) -> str | None:
    """The address in its normal form, or None for anything else (also a scoped IPv6 address, fe80::1%eth0,
    which no client on the internet has and the database's inet type refuses)."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    return None if getattr(address, "scope_id", None) else str(address)


def client_ip(request) -> str | None:
    """The client's IP address as text, or None when the request carries none (a bare HttpRequest in tests)."""
    cached = getattr(request, "_audit_client_ip", "")
    if cached != "":
        return cached
    remote = _valid(request.META.get("REMOTE_ADDR", "") or "")
    ip = remote
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            ip = _valid(forwarded[-proxies]) or remote
    request._audit_client_ip = ip
    return ip

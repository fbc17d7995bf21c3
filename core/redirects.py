"""Where a view sends a person back to: a `next` (or any redirect target) that came with the request.

`next` is only ever a path on this site. `django.shortcuts.redirect(value)` would try a bare word such as
`undefined` as a view name (NoReverseMatch: a 500), and `url_has_allowed_host_and_scheme` alone passes it as a
relative URL; here anything but an absolute path on this host — control characters, NUL, backslashes, a
scheme-relative `//host`, an over-long value — is ignored and the view's own fallback is used instead.
"""

import re
from urllib.parse import urlsplit

from django.http import HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

# Longer than any path of ours with its query string; a longer `next` is not one we wrote.
MAX_NEXT_LENGTH = 2000
# C0 controls, DEL and C1 controls (browsers drop or rewrite them, so the URL checked is not the URL followed), and
# the backslash (some browsers read "/\evil.example" as "//evil.example").
_REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")


def safe_next_url(request, value) -> str | None:
    """`value` if it is a path on this site that is safe to redirect to, else None.

    Accepted: a string of at most MAX_NEXT_LENGTH characters, starting with a single "/", without control characters
    or backslashes, that Django's own check finds on this host (HTTPS required when the request came over HTTPS).
    """
    if not isinstance(value, str) or not value or len(value) > MAX_NEXT_LENGTH:
        return None
    if not value.startswith("/") or value.startswith("//") or _REFUSED.search(value):
        return None
    host, secure = request.get_host(), request.is_secure()
    return value if url_has_allowed_host_and_scheme(value, allowed_hosts={host}, require_https=secure) else None


def referer_path(request) -> str | None:
    """The page the request came from (its Referer), as a path, when that page is on this site; else None."""
    parts = urlsplit(request.META.get("HTTP_REFERER", ""))
    if not parts.netloc or parts.netloc != request.get_host():
        return None
    return safe_next_url(request, parts.path + (f"?{parts.query}" if parts.query else ""))


def redirect_next(request, fallback, *fallback_args, field: str = "next", **fallback_kwargs) -> HttpResponseRedirect:
    """A redirect to the request's `next` (POST first, then the query string) when it is safe, else to `fallback`:
    a view name (reversed with the given arguments), a model with get_absolute_url() or a path the code chose —
    never anything the request supplied."""
    value = request.POST.get(field) if request.method == "POST" else None
    url = safe_next_url(request, value if value is not None else request.GET.get(field))
    if url is None:
        url = resolve_url(fallback, *fallback_args, **fallback_kwargs)
    return HttpResponseRedirect(url)

"""What a whole-page cache keys a page by: the page's own address and the query parameters its view reads, each in
one canonical spelling (used by core.public_cache and core.member_cache).

Keyed by the whole query string, every parameter would make an entry of its own, and anyone could fill the shared
Redis with `/projects/?utm=<random>`. So:

- each cached view names the parameters it reads, with a parser for each (`params={"page": page_number, …}`);
  the key holds only those, in their canonical spelling, and every other parameter is ignored;
- the view is run with a request holding only those too (`request.GET`, and the query string the templates
  print: the sign-in link's `next`, the language form, the pagination links), so a page cannot show anything
  its key leaves out;
- a parser returns the value's canonical spelling; None when the value means nothing (the view then sees the
  parameter absent, which is how it treats such a value anyway: a page number that is no number is page 1);
  or it raises NotCacheable when the value means something but earns no entry (a page beyond MAX_PAGE, a date
  that a form answers with an error): such a page is rendered from the request as it came and not stored;
- the address must be the canonical one: the path the view's arguments reverse to (`/activities/0001/` is
  rendered, not stored) and a host named exactly in ALLOWED_HOSTS, with no port or the server's own (pages print
  absolute links).
"""

import functools
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.http import QueryDict
from django.http.request import split_domain_port
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils.encoding import escape_uri_path

# A page number past this is rendered, not stored: Paginator shows its last page for any bigger number, and each
# spelling would otherwise be an entry of its own.
MAX_PAGE = 50

Parser = Callable[[str], str | None]


class NotCacheable(Exception):
    """The request names a page that is rendered for it and not stored."""


def page_number(value: str) -> str | None:
    """A page of a list (Paginator.get_page, the dashboard's follow-up list): what `int()` reads, as both do; page 1
    (None) for anything that is no number; not stored beyond MAX_PAGE or below 1 (Paginator shows the last page)."""
    try:
        number = int(value)
    except ValueError:
        return None
    if 1 <= number <= MAX_PAGE:
        return str(number)
    raise NotCacheable


_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits, small enough for a BIGINT (as core.params.parse_id)


def an_id(value: str) -> str | None:
    """A row's id (a ModelChoiceField's value): a positive number in ASCII digits, else absent."""
    if not _ID.fullmatch(value):
        return None
    return str(int(value)) if int(value) else None


_CURSOR = re.compile(r"[A-Za-z0-9_=%-]{1,200}")  # DRF's cursor: URL-safe base64 of a short position


def cursor(value: str) -> str | None:
    """A cursor page's position (the JSON API's lists), as sent; anything else is absent (the first page)."""
    return value if _CURSOR.fullmatch(value) else None


def choice(values: Iterable[str]) -> Parser:
    """One of a fixed list (a TextChoices' values), else absent."""
    allowed = frozenset(values)
    return lambda value: value if value in allowed else None


def flag(value: str) -> str | None:
    """A check box (BooleanField): off is absent; any other value is on, spelled "on" (what the form reads)."""
    return None if value.lower() in ("", "false", "0") else "on"


def iso_date(value: str) -> str | None:
    """A date in ISO 8601 (`date.fromisoformat`), spelled YYYY-MM-DD; an empty value stays empty (a form's unset
    field, which views read as no date), anything else is absent."""
    if value == "":
        return ""
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        return None


def integer(value: str) -> str | None:
    """A whole number (a year, a month) as `int()` reads it, else absent."""
    try:
        return str(int(value))
    except ValueError:
        return None


def strict(parser: Parser) -> Parser:
    """`parser`, but a value it does not know is rendered, not stored (instead of being taken as absent): for a view
    that answers a bad value itself (an error on its form, a message, a 404)."""

    def parse(value: str) -> str | None:
        canonical = parser(value)
        if canonical is None:
            raise NotCacheable
        return canonical

    return parse


def check(params: Mapping[str, Parser]) -> dict[str, Parser]:
    """A view's declaration, checked when it is decorated."""
    for name, parser in params.items():
        if not isinstance(name, str) or not name or not callable(parser):
            raise TypeError(f"page parameters are names with parsers: {name!r}: {parser!r}")
    return dict(sorted(params.items()))


@dataclass(frozen=True)
class Page:
    """A cacheable request, canonically: its address and the query its view reads."""

    location: str
    query: QueryDict

    def digest(self) -> str:
        text = f"{self.location}?{self.query.urlencode()}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def page_of(request, params: Mapping[str, Parser]) -> Page:
    """The canonical page `request` asks for (see the module docstring); NotCacheable when it has none."""
    query = QueryDict(mutable=True)
    for name, parser in params.items():
        value = request.GET.get(name)
        if value is None:
            continue
        canonical = parser(value)
        if canonical is not None:
            query[name] = canonical
    query._mutable = False
    return Page(f"{request.scheme}://{_canonical_host(request)}{_canonical_path(request)}", query)


def _canonical_path(request) -> str:
    match = request.resolver_match
    if match is None:
        raise NotCacheable
    try:
        path = _reverse(get_script_prefix(), match.view_name, tuple(match.args), tuple(sorted(match.kwargs.items())))
    except TypeError:  # a converter's value that cannot be a key: such a page is not stored
        raise NotCacheable from None
    if path is None or path != escape_uri_path(request.path):
        raise NotCacheable
    return path


@functools.lru_cache(maxsize=4096)  # a hit is served in well under a millisecond; reverse() took 15 µs of it
def _reverse(prefix: str, view_name: str, args: tuple, kwargs: tuple) -> str | None:
    """The view's path for these arguments (`prefix`, the script prefix reverse() puts in front, is in the key)."""
    try:
        return reverse(view_name, args=args, kwargs=dict(kwargs))
    except NoReverseMatch:
        return None


def _exact_hosts() -> frozenset[str]:
    hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not hosts:
        hosts = ["localhost", "127.0.0.1", "[::1]"]  # Django's own defaults, but for the ".localhost" pattern
    return frozenset(h.lower() for h in hosts if h and not h.startswith(".") and h != "*")


def _canonical_host(request) -> str:
    host = request.get_host()
    domain, port = split_domain_port(host)
    if domain not in _exact_hosts() or host != (f"{domain}:{port}" if port else domain):
        raise NotCacheable
    if port and port != str(request.META.get("SERVER_PORT", "")):
        raise NotCacheable
    return host


@contextmanager
def reading_only(request, query: QueryDict):
    """Run the view inside with `request` holding `query` alone: `request.GET` and the query string that
    `get_full_path()` prints. Put back afterwards, for the middleware (access log, audit) that reads the request."""
    saved_get, saved_string = request.GET, request.META.get("QUERY_STRING")
    request.GET = query
    request.META["QUERY_STRING"] = query.urlencode()
    try:
        yield
    finally:
        request.GET = saved_get
        if saved_string is None:
            request.META.pop("QUERY_STRING", None)
        else:
            request.META["QUERY_STRING"] = saved_string

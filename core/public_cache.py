"""Whole-page cache of the public pages for anonymous visitors, in the shared cache (Redis in production).

What an anonymous visitor sees on the home page, the wish wall, /projects/, a brand page or an activity page is the
same for everyone with the same address and language, so it is rendered once and served from the cache until
something it shows changes. It lives in core, below every app whose pages use it (demands, projects, the site).

- A page belongs to groups ("wishes", "projects"). Each group has a version in the cache; a page's key holds the
  versions of its groups, so `changed(group)` — it bumps the version at once and again after the commit
  (`transaction.on_commit`) — makes every page of the group miss, without finding them.
- Who calls `changed`: the model signals of every model the group's pages show (`watch`, connected by the app that
  owns the model in its `receivers` module), so every save and delete — a service, the admin, the shell — counts and
  no service has to remember it; a write that sends no signal (`QuerySet.update`, `bulk_create`) alone in its
  transaction calls `changed` itself.
  A timeout bounds what no service announces (an admin renaming a category); a page that knows when the clock
  changes it (an activity starting) says so (`stale_at`) and is not served from that moment.
- Finer than a group, a page may also show objects (`public_page(..., objects=…)`): an activity's page shows the
  activity ("activity", pk), a brand page its project ("project", slug), the wall its community's published wishes
  ("wall", community id, or "all" unfiltered). Each object has a version too, and a watch that names the objects a
  row is shown as (`watch(..., objects=…)`) gives new versions to those alone: a sign-up drops the page of its
  activity and of its project, not every project page; a wish that was never on the wall drops nothing.
  Measured on the district (bench/RESULTS.md): with every sign-up dropping the group, real visitors of the project
  pages got the uncached page's 2 % of the ceiling instead of the cached page's 50 %.
- A page is keyed by its canonical address and the query parameters its view declares, in their canonical
  spelling (`public_page(..., params={"page": page_number})`, core/page_params.py); the view is run with only
  those, and every other parameter is ignored. So `/projects/?utm=<random>` is the entry of `/projects/`, and an
  entry per value exists only for what the view reads. Besides, each view stores at most PARAM_VARIANTS new
  entries with parameters per its timeout (the filters' combinations are many): past that they are rendered, not
  stored, until the window ends.
- Only anonymous GETs without a session or messages cookie use it; signed-in pages differ per person. With
  settings.PAGE_CACHES off (the bench's uncached pass) no page is served from or stored in it.
- The CSRF token of the page's forms (the language switcher) is per visitor: the cached copy holds a placeholder,
  replaced by the visitor's own token on every hit, so their POSTs pass and the CSRF cookie is set as usual.
- A response is stored only when it is a 200 that added no message.
- A page is stored with the release of the code that rendered it (`release()`): after a deploy every page misses
  once, so no page of the old templates (naming static files the new release no longer has) is served.
"""

import functools
import hashlib
import re
import uuid
from datetime import datetime
from functools import wraps
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.translation import get_language

from core import page_params

GROUPS = frozenset({"wishes", "projects", "news"})
# The kinds of objects a page may show (`objects=`), with what identifies one.
OBJECT_KINDS = frozenset({"activity", "project", "wall"})  # activity pk; project slug; community id or "all"
DEFAULT_TIMEOUT = 300
# Entries with query parameters one view may add per DEFAULT_TIMEOUT (so at most twice that many live at once).
PARAM_VARIANTS = 300
# How long a version lives unless changed again: an object's version (one per activity ever shown) must not stay in
# Redis for ever; one that expired is started again on the next visit, which costs that page one miss.
VERSION_TIMEOUT = 7 * 24 * 3600
PLACEHOLDER = "__PUBLIC_CACHE_CSRF__"
# Every page a page cache could serve says whether it did (hit) or rendered it (miss): the bench counts the hit rate
# under writes from it, and an operator sees it in the browser's tools.
CACHE_HEADER = "X-Page-Cache"
_CSRF_VALUE = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]*(")')


def _version_key(group: str) -> str:
    return f"public-page:version:{group}"


def _object_key(kind: str, ident) -> str:
    return f"public-page:version:{kind}:{ident}"


def _bump(keys: list[str]) -> None:
    """New versions for `keys`: now, and once more after the current transaction commits (see `changed`)."""

    def bump():
        cache.set_many({key: uuid.uuid4().hex[:12] for key in keys}, timeout=VERSION_TIMEOUT)

    bump()
    transaction.on_commit(bump)


def objects_changed(*objects: tuple[str, object]) -> None:
    """The pages that show `objects` ((kind, identity) pairs, OBJECT_KINDS) show something that changed: give those
    objects new versions (as `changed` does for groups), so those pages alone miss."""
    unknown = {kind for kind, _ident in objects} - OBJECT_KINDS
    if unknown:
        raise ValueError(f"unknown public page objects: {sorted(unknown)}")
    if objects:
        _bump([_object_key(kind, ident) for kind, ident in objects])


def changed(*groups: str) -> None:
    """The pages of `groups` show something that changed: give the groups new versions so their cached pages are
    not used again — now, and once more after the current transaction commits (at once outside one). The second
    bump drops a page a concurrent request rendered from the old rows between the first bump and the commit; the
    first keeps a page from outliving the change when no commit follows the write in this process (the tests'
    transactions)."""
    unknown = set(groups) - GROUPS
    if unknown:
        raise ValueError(f"unknown public page groups: {sorted(unknown)}")
    _bump([_version_key(g) for g in groups])


def watch(model, group: str, *, ignore: frozenset[str] = frozenset(), objects=None) -> None:
    """The pages of `group` show `model`'s rows: every save or deletion of one gives the group a new version — except
    a save whose `update_fields` are all in `ignore` (fields no public page shows: a check-in time). With `objects`
    (a function of the row: the (kind, identity) pairs of the pages that show it, OBJECT_KINDS), only those pages
    get new versions, not the group; an empty answer drops nothing (a row no public page shows)."""
    if group not in GROUPS:
        raise ValueError(f"unknown public page group: {group}")

    def receiver(sender, instance, update_fields=None, **kwargs):
        if update_fields is not None and set(update_fields) <= ignore:
            return
        if objects is None:
            changed(group)
        else:
            objects_changed(*objects(instance))

    uid = f"public_cache:{model._meta.label}:{group}"
    post_save.connect(receiver, sender=model, weak=False, dispatch_uid=uid)
    post_delete.connect(receiver, sender=model, weak=False, dispatch_uid=uid)


def current_versions(keys: list[str], found: dict | None = None, timeout: int | None = None) -> str:
    """The current versions stored under `keys` as one string (`found`: what a get_many already read); a missing
    version (first use, evicted, or dropped by a change) is started here. A concurrent starter may win, which only
    costs a miss. Shared with `core.member_cache`."""
    found = {k: found[k] for k in keys if k in found} if found is not None else cache.get_many(keys)
    missing = {k: uuid.uuid4().hex[:12] for k in keys if k not in found}
    if missing:
        cache.set_many(missing, timeout=timeout)
        found |= missing
    return ".".join(found[k] for k in keys)


# What `release()` reads when the environment names no release: the code, the templates, the translations and
# the collected static files' manifest (their hashed names, which the pages link to).
RELEASE_SUFFIXES = frozenset({".py", ".html", ".txt", ".mo"})
RELEASE_SKIP = frozenset({"node_modules", "var", "static", "bench", "tests", "docs"})


@functools.cache
def release() -> str:
    """The release of the code this process runs, the same in every worker of one deploy: settings.RELEASE (the
    RELEASE environment variable, set by a deploy that knows its revision), else a digest of the names and contents
    of the code, templates and compiled translations under BASE_DIR and of the static files' manifest (read once
    per process: about 360 files, a few tens of milliseconds)."""
    if settings.RELEASE:
        return str(settings.RELEASE)
    digest = hashlib.sha256()
    root = Path(settings.BASE_DIR)
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    for path in [*sorted(_release_files(root)), *([manifest] if manifest.is_file() else [])]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _release_files(folder: Path):
    for entry in folder.iterdir():
        if entry.is_dir():
            if entry.name not in RELEASE_SKIP and not entry.name.startswith((".", "__")):
                yield from _release_files(entry)
        elif entry.suffix in RELEASE_SUFFIXES:
            yield entry


def serve(
    request,
    view,
    args,
    kwargs,
    *,
    key: str,
    version_keys: list[str],
    timeout: int,
    version_timeout=None,
    storable=None,
    page: page_params.Page,
    variants_key: str,
    variants: int,
):
    """The page stored under `key` when it was stored under the versions in force now, else the view's answer
    (stored when it is a 200 that added no message, and `storable(response)` holds if given). One round trip reads
    the page and its versions (profiled: a second GET for the versions cost a tenth of a hit). The CSRF token of
    the page's forms is per visitor: the stored copy holds a placeholder, replaced by the visitor's own token on
    every hit. The view sees only `page.query` (page_params.reading_only); a new entry with a query counts
    against `variants` entries per `timeout` under `variants_key`. Shared with `core.member_cache`."""
    found = cache.get_many([key, *version_keys])
    versions = f"{release()}.{current_versions(version_keys, found, version_timeout)}"
    hit = found.get(key)
    if hit is not None and hit[0] == versions and (hit[3] is None or timezone.now() < hit[3]):
        _stored_versions, content_type, body, _stale_at = hit
        if PLACEHOLDER.encode() in body:
            body = body.replace(PLACEHOLDER.encode(), get_token(request).encode())
        response = HttpResponse(body, content_type=content_type)
        response[CACHE_HEADER] = "hit"
        return response
    with page_params.reading_only(request, page.query):
        response = view(request, *args, **kwargs)
        if callable(getattr(response, "render", None)):
            response = response.render()  # a TemplateResponse renders what the view saw, not later
    storage = getattr(request, "_messages", None)
    if (
        response.status_code == 200
        and not response.streaming
        and not getattr(storage, "added_new", False)
        and (storable is None or storable(response))
        and (hit is not None or not page.query or _within(variants_key, variants, timeout))
    ):
        body = _CSRF_VALUE.sub(rb"\g<1>" + PLACEHOLDER.encode() + rb"\g<2>", response.content)
        until = getattr(response, "public_cache_stale_at", None)
        cache.set(key, (versions, response["Content-Type"], body, until), timeout)
    response[CACHE_HEADER] = "miss"
    return response


def _within(variants_key: str, variants: int, timeout: int) -> bool:
    """Count one more entry under `variants_key` (a window of `timeout` seconds from its first): within `variants`?"""
    cache.add(variants_key, 0, timeout)
    try:
        return cache.incr(variants_key) <= variants
    except ValueError:  # the window ended between the two calls
        return True


def stale_at(response, moment: datetime | None) -> None:
    """`response` shows something the clock changes at `moment` (an activity's sign-up opening or closing, its
    start): its cached copy is not served from then on. None: nothing does."""
    response.public_cache_stale_at = moment


def _cacheable_request(request) -> bool:
    return (
        settings.PAGE_CACHES
        and request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and "messages" not in request.COOKIES
        and not request.user.is_authenticated
    )


def public_page(*groups: str, timeout: int = DEFAULT_TIMEOUT, params: dict | None = None, objects=None):
    """Serve the decorated view from the cache for anonymous visitors (see the module docstring). `params` names
    every query parameter the view reads, with its parser (core/page_params.py); the view sees no other. `objects`,
    a function of the page's canonical query and the view's URL arguments, names the (kind, identity) pairs the page
    shows (read without a query: from the address alone); a change to one of them drops the page."""
    unknown = set(groups) - GROUPS
    if unknown:
        raise ValueError(f"unknown public page groups: {sorted(unknown)}")
    declared = page_params.check(params or {})

    def decorator(view):
        name = f"{view.__module__}.{view.__qualname__}"

        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not _cacheable_request(request):
                return view(request, *args, **kwargs)
            try:
                page = page_params.page_of(request, declared)
            except page_params.NotCacheable:
                return view(request, *args, **kwargs)
            return serve(
                request,
                view,
                args,
                kwargs,
                key=f"public-page:{name}:{get_language()}:{page.digest()}",
                version_keys=[
                    *(_version_key(g) for g in groups),
                    *(_object_key(kind, ident) for kind, ident in (objects(page.query, kwargs) if objects else ())),
                ],
                timeout=timeout,
                version_timeout=VERSION_TIMEOUT,
                page=page,
                variants_key=f"public-page:variants:{name}",
                variants=PARAM_VARIANTS,
            )

        return wrapper

    return decorator

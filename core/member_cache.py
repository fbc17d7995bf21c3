"""Per-person whole-page cache of the member portal's busiest pages: /me/, /me/records/ and /me/points/ (and of
the secretaries' dashboard when it is served from a snapshot: volunteer_platform/dashboard_views.py).

Why: the cost of these pages is spread over many parts (rendering, the profile, feedback, stars), so no single
query or template fix makes them cheap; but what a member sees on them changes only when something about them is
written, and they look far more often than that. So the page is rendered once and served from the shared cache
until a write concerns that person.

- **Key**: the view, the user, the language, today's date (the pages compare dates with today: objection
  deadlines, "this year"), the canonical address and the query parameters the view declares, canonically
  (`member_page(params={"page": page_number})`, core/page_params.py: the view sees no other parameter, so
  `?utm=<random>` is the page without it). At most PARAM_VARIANTS entries with parameters per person and view
  per TIMEOUT. The stored copy carries the person's version and the version of everyone's pages, and is used only
  while both are still current.
- **Versions**: `users_changed` / `members_changed` drop a person's version, now and once more after the commit
  (the second drop discards a page that a concurrent request rendered from the old rows before the commit);
  `everyone_changed` does the same for what every page shows (names of organizations, communities, tags, rules,
  catalogue items, rating runs).
- **Who calls them**: the model signals of every model these pages show (`watch`, connected by the app that owns
  the model in its `receivers` module), so every save and delete — services, the admin, the shell — counts; the
  services' bulk writes (`QuerySet.update`, `bulk_create`, `bulk_update`), which send no signals, call them
  themselves. A timeout bounds anything else.
- **Used** only for GET/HEAD of a signed-in user with no message waiting; **stored** only for a 200 that added no
  message. The CSRF token of the page's forms is swapped per request, as on the public pages (`public_cache`).
- On a hit the request costs the session, the user and one cache round trip: no member lookup, no rendering.
"""

from collections.abc import Callable, Iterable
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone
from django.utils.translation import get_language

from core import page_params
from core.public_cache import serve

TIMEOUT = 300
# A person's version outlives their pages; when it expires their next visit only misses once.
DAY = 24 * 3600
# Entries with query parameters (a list's pages, a period) one person may add to one view per TIMEOUT.
PARAM_VARIANTS = 30
_PREFIX = "member-page"
_EVERYONE = f"{_PREFIX}:version:*"


def _user_version_key(user_id) -> str:
    return f"{_PREFIX}:version:{user_id}"


def _drop_now_and_after_commit(keys: list[str]) -> None:
    if not keys:
        return
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def users_changed(user_ids: Iterable) -> None:
    """Something these users' portal pages show has changed (see the module docstring)."""
    _drop_now_and_after_commit([_user_version_key(pk) for pk in sorted({pk for pk in user_ids if pk is not None})])


# How to find the accounts of members given by id: core knows no member, so the members app registers this in its
# AppConfig.ready() (members/receivers.py).
_accounts_of_members: Callable[[set], Iterable] | None = None


def accounts_of_members(finder: Callable[[set], Iterable]) -> None:
    """Register how `members_changed` finds the accounts of members given by id."""
    global _accounts_of_members
    _accounts_of_members = finder


def members_changed(member_ids: Iterable) -> None:
    """`users_changed` for members given by id (one query to find their accounts)."""
    ids = {pk for pk in member_ids if pk is not None}
    if not ids:
        return
    if _accounts_of_members is None:
        raise RuntimeError("no finder of members' accounts is registered (members/receivers.py does it)")
    users_changed(_accounts_of_members(ids))


def everyone_changed() -> None:
    """Something every portal page may show (a name) has changed."""
    _drop_now_and_after_commit([_EVERYONE])


def _member_user_id(instance, field: str):
    """The account of the member that `instance.<field>` points to, without a query when the member is loaded."""
    descriptor = getattr(type(instance), field)
    if descriptor.is_cached(instance):
        member = getattr(instance, field)
        return None if member is None else member.user_id
    member_id = getattr(instance, f"{field}_id")
    if member_id is None:
        return None
    person_model = descriptor.field.related_model
    return person_model._default_manager.filter(pk=member_id).values_list("user_id", flat=True).first()


def watch(
    model,
    *,
    member: str | None = None,
    user: Callable | None = None,
    everyone: bool = False,
    when: Callable | None = None,
) -> None:
    """Drop the cached portal pages that a saved or deleted `model` row changes: the member's it points to by the
    foreign key named `member`, the account(s) `user(instance)` returns, or everyone's; only for rows where
    `when(instance)` holds, if given."""

    def receiver(sender, instance, **kwargs):
        if when is not None and not when(instance):
            return
        if everyone:
            everyone_changed()
        elif member is not None:
            users_changed([_member_user_id(instance, member)])
        else:
            found = user(instance)
            users_changed(found if isinstance(found, list | tuple | set) else [found])

    uid = f"member_cache:{model._meta.label}"
    post_save.connect(receiver, sender=model, weak=False, dispatch_uid=uid)
    post_delete.connect(receiver, sender=model, weak=False, dispatch_uid=uid)


def _watch_m2m(through, *, person_is_source: bool, person: Callable, others: Callable) -> None:
    """Drop the pages of the people whose many-to-many link through `through` changes, from either side: when the
    row changed is a person's (the field is declared on the person's model when `person_is_source`), the accounts
    `person(instance)` names; when it is the other side's, `others(pk_set)` for the people added or removed, or
    everyone's when that row was cleared of all its links."""

    def receiver(sender, instance, action, reverse, pk_set, **kwargs):
        if action not in ("post_add", "post_remove", "pre_clear"):
            return
        if reverse != person_is_source:
            users_changed(person(instance))
        elif pk_set:
            others(pk_set)
        else:
            everyone_changed()

    m2m_changed.connect(receiver, sender=through, weak=False, dispatch_uid=f"member_cache:{through._meta.label}")


def watch_member_m2m(through) -> None:
    """Drop the pages of the members whose many-to-many field through `through` (Member.skills, …) changes."""
    _watch_m2m(through, person_is_source=True, person=lambda member: [member.user_id], others=members_changed)


def watch_user_m2m(through) -> None:
    """Drop the pages of the accounts added to or removed from a many-to-many field to users through `through`
    (Organization.admins: a dashboard's scope)."""
    _watch_m2m(through, person_is_source=False, person=lambda user: [user.pk], others=users_changed)


def _cacheable_request(request) -> bool:
    return (
        settings.PAGE_CACHES
        and request.method in ("GET", "HEAD")
        and request.user.is_authenticated
        and not request.COOKIES.get("messages")  # (a deleted cookie may come back empty)
        and "_messages" not in request.session
    )


def member_page(
    view=None,
    *,
    versions: tuple[str, ...] = (),
    storable: Callable | None = None,
    params: dict | None = None,
):
    """Serve the decorated portal view from the per-person cache (see the module docstring). Put it outside the
    decorator that looks the member up, so a hit skips that lookup; a signed-out request passes through to the
    view's own login redirect.

    `params` names every query parameter the view reads, with its parser (core/page_params.py); the view sees no
    other. Also usable as `member_page(versions=..., storable=...)` by a page that depends on more than the
    person: `versions` names further version keys the stored copy is tied to (a snapshot's, say), and only a
    response for which `storable(response)` holds is stored."""
    if view is None:
        return lambda view: member_page(view, versions=versions, storable=storable, params=params)
    name = f"{view.__module__}.{view.__qualname__}"
    declared = page_params.check(params or {})

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not _cacheable_request(request):
            return view(request, *args, **kwargs)
        try:
            page = page_params.page_of(request, declared)
        except page_params.NotCacheable:
            return view(request, *args, **kwargs)
        user_id = request.user.pk
        return serve(
            request,
            view,
            args,
            kwargs,
            key=f"{_PREFIX}:{name}:{user_id}:{get_language()}:{timezone.localdate().isoformat()}:{page.digest()}",
            version_keys=[_user_version_key(user_id), _EVERYONE, *versions],
            timeout=TIMEOUT,
            version_timeout=DAY,
            storable=storable,
            page=page,
            variants_key=f"{_PREFIX}:variants:{name}:{user_id}",
            variants=PARAM_VARIANTS,
        )

    return wrapper

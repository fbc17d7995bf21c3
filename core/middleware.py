"""The site's own middleware of the lowest floor: no domain in it.

NulInQueryMiddleware: a NUL byte in a query parameter is a bad request (400), before any view reads it (paths are
the URL converters' and the views' to refuse: a token with a NUL is simply unknown).

PostgreSQL refuses NUL in text: a value that reaches a query as it is (the admin's list filters and search, a view
reading request.GET without a form) answered 500. No link of ours carries one. Form fields (POST) are checked by
the forms themselves (core/forms.py), with a message on the form.
"""

import time

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.core.exceptions import BadRequest, MiddlewareNotUsed
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject, empty

from core import db


class NulInQueryMiddleware:
    """A NUL in a query parameter: 400 (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Only "%00" or a raw NUL decodes to a NUL (an overlong UTF-8 form decodes to U+FFFD): most requests are
        # passed on without parsing their query string here.
        query = request.META.get("QUERY_STRING", "")
        if "%00" not in query and "\x00" not in query:
            return self.get_response(request)
        if any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()):
            raise BadRequest("NUL in the query string")
        return self.get_response(request)


class LazyMessageMiddleware(MessageMiddleware):
    """Django's MessageMiddleware, its storage made when first used. Django's makes it for every request, and its
    cookie part signs with a key derived anew each time (bench/profile_middleware.py: 7 % of the ceiling's time);
    a redirect, a download or an answer without the page template never reads or adds a message. An untouched
    storage has nothing to write back: Django's own `update` writes only what was read or added."""

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = request.__dict__.get("_messages")
        if type(messages) is SimpleLazyObject and messages._wrapped is empty:
            return response
        return super().process_response(request, response)


def _prefixed_urls(request) -> bool:
    return is_language_prefix_patterns_used(getattr(request, "urlconf", settings.ROOT_URLCONF))[0]


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Django's LocaleMiddleware, without looking for a language in the path when no URL pattern is prefixed with
    one (ours are not: the language comes from the cookie and Accept-Language). Django looks twice a request, and a
    path such as /projects/ raises and catches an uncached LookupError each time: 20 of the 110 µs the whole stack
    added to the ceiling view (bench/profile_middleware.py). With prefixed patterns Django's own code runs."""

    def process_request(self, request):
        if _prefixed_urls(request):
            return super().process_request(request)
        translation.activate(translation.get_language_from_request(request))
        request.LANGUAGE_CODE = translation.get_language()
        return None

    def process_response(self, request, response):
        if _prefixed_urls(request):
            return super().process_response(request, response)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


class ReadYourWritesMiddleware:
    """With a read replica (core/db.py): a person who wrote reads from the primary for REPLICA_STICKY_SECONDS.

    A request that wrote (an INSERT, UPDATE or DELETE sent to the primary) gets a cookie
    holding the instant until which that person's requests are pinned to the primary; a request carrying it, still
    current, reads nothing from the replica. Not signed: a forged one only sends its bearer's own reads to the
    primary, which is where they go without a replica. Without a replica the middleware takes itself out."""

    def __init__(self, get_response):
        if not db.replica_configured():
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        sticky = settings.REPLICA_STICKY_SECONDS
        now = time.time()
        try:
            until = float(request.COOKIES.get(settings.REPLICA_STICKY_COOKIE, "0"))
        except ValueError:
            until = 0.0
        pinned = now < until <= now + sticky
        with db.request_scope(pinned=pinned):
            response = self.get_response(request)
            wrote = db.scope_wrote()
        if wrote:
            response.set_cookie(
                settings.REPLICA_STICKY_COOKIE,
                f"{now + sticky:.3f}",
                max_age=sticky,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response

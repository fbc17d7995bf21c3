"""The site's own middleware of the lowest floor: no domain in it.

NulInQueryMiddleware: a NUL byte in a query parameter is a bad request (400), before any view reads it (paths are
the URL converters' and the views' to refuse: a token with a NUL is simply unknown).

PostgreSQL refuses NUL in text: a value that reaches a query as it is (the admin's list filters and search, a view
reading request.GET without a form) answered 500. No link of ours carries one. Form fields (POST) are checked by
the forms themselves (core/forms.py), with a message on the form.
"""

from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.core.exceptions import BadRequest
from django.utils.functional import SimpleLazyObject, empty


class NulInQueryMiddleware:
    """A NUL in a query parameter: 400 (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
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

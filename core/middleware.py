"""A NUL byte in a query parameter is a bad request (400), before any view reads it (paths are the URL converters'
and the views' to refuse: a token with a NUL is simply unknown).

PostgreSQL refuses NUL in text: a value that reaches a query as it is (the admin's list filters and search, a view
reading request.GET without a form) answered 500. No link of ours carries one. Form fields (POST) are checked by
the forms themselves (core/forms.py), with a message on the form.
"""

from django.core.exceptions import BadRequest


class NulInQueryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()):
            raise BadRequest("NUL in the query string")
        return self.get_response(request)

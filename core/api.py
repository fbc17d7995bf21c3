"""Plumbing of the JSON API /api/v1/ (no domain): one error format, the forms' validation reused, cursor pages,
ETags, the 429 answer, and the schema of a Django form.

The API is a thin layer beside each app's views (DESIGN.md): an API view validates its input with the same Django
form as the page (so the messages are the same, in Chinese, field by field), calls the same service, and answers
with a serializer that only shapes the output. Every error has one shape:

    {"detail": "<the first message>", "code": "invalid", "errors": {"<field>": ["<message>", …]}}

where "errors" holds the field errors of a 400 (the form's non-field errors under "non_field_errors") and is empty
otherwise; "code" is one of invalid, not_authenticated, authentication_failed, permission_denied, not_found,
method_not_allowed, throttled, parse_error, unsupported_media_type, not_acceptable, error, and for the mini-program's
sign-in bind_required (409, with a bind ticket) and wechat_unavailable (502).
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from functools import wraps
from typing import cast

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponseNotModified
from django.utils.cache import get_conditional_response
from django.utils.translation import gettext as _
from rest_framework import exceptions, pagination, serializers, status
from rest_framework.response import Response
from rest_framework.utils import encoders
from rest_framework.views import exception_handler as drf_exception_handler

NON_FIELD = "non_field_errors"


def error_body(detail: str, code: str, errors: Mapping[str, list[str]] | None = None) -> dict:
    return {"detail": str(detail), "code": code, "errors": dict(errors or {})}


def _errors_of(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            (NON_FIELD if name == NON_FIELD_ERRORS else name): [str(m) for m in DjangoValidationError(errors).messages]
            for name, errors in exc.error_dict.items()
        }
    return {NON_FIELD: [str(m) for m in exc.messages]}


def _first(errors: Mapping[str, list[str]]) -> str:
    for messages in errors.values():
        if messages:
            return messages[0]
    return _("输入有误。")


def invalid(errors: Mapping[str, list[str]]) -> Response:
    return Response(error_body(_first(errors), "invalid", errors), status=status.HTTP_400_BAD_REQUEST)


def form_invalid(form: forms.BaseForm) -> Response:
    """The 400 of a form that did not validate: the form's own messages, field by field."""
    errors = {
        (NON_FIELD if name == NON_FIELD_ERRORS else name): [str(m) for m in msgs] for name, msgs in form.errors.items()
    }
    return invalid(errors)


def service_invalid(exc: DjangoValidationError) -> Response:
    """The 400 of a service's ValidationError (a rule of the domain: a full activity, a wish already claimed …)."""
    return invalid(_errors_of(exc))


def too_many(retry_after: int) -> Response:
    """The 429 of a rate limit (core.ratelimit), with the wait in Retry-After and in the message."""
    minutes = max(1, -(-retry_after // 60))
    response = Response(
        error_body(_("操作太频繁，请 %(minutes)d 分钟后再试。") % {"minutes": minutes}, "throttled"),
        status=status.HTTP_429_TOO_MANY_REQUESTS,
    )
    response["Retry-After"] = str(retry_after)
    return response


def _drf_errors(detail) -> dict[str, list[str]]:
    if isinstance(detail, Mapping):
        out: dict[str, list[str]] = {}
        for name, value in detail.items():
            items = value if isinstance(value, list) else [value]
            out[name] = [str(item) for item in items if not isinstance(item, Mapping | list)] or [_("输入有误。")]
        return out
    if isinstance(detail, list):
        return {NON_FIELD: [str(item) for item in detail]}
    return {NON_FIELD: [str(detail)]}


def exception_handler(exc, context):
    """Every error of the API in the one format; a service's ValidationError that reaches here is a 400."""
    if isinstance(exc, DjangoValidationError):
        return service_invalid(exc)
    if isinstance(exc, Http404):
        return Response(error_body(_("找不到。"), "not_found"), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, PermissionDenied):
        detail = str(exc) or _("没有权限。")
        return Response(error_body(detail, "permission_denied"), status=status.HTTP_403_FORBIDDEN)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _drf_errors(exc.detail)
        response.data = error_body(_first(errors), "invalid", errors)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        detail = exc.detail if isinstance(exc.detail, str) else _first(_drf_errors(exc.detail))
        response.data = error_body(detail, code)
    return response


def conditional(request, response: Response) -> Response:
    """An ETag on a GET's JSON, and 304 when the client's If-None-Match holds it: a client polling a list costs the
    network nothing when nothing changed (the server still builds the page: the tag is the hash of its data)."""
    if request.method not in ("GET", "HEAD") or response.status_code != 200:
        return response
    payload = json.dumps(response.data, cls=encoders.JSONEncoder, ensure_ascii=False, sort_keys=True)
    tag = f'"{hashlib.sha256(payload.encode()).hexdigest()[:32]}"'
    response["ETag"] = tag
    conditional_response = get_conditional_response(request, etag=tag)
    if conditional_response is not None:
        not_modified = Response(status=status.HTTP_304_NOT_MODIFIED)
        not_modified["ETag"] = tag
        return not_modified
    return response


def etagged(view):
    """ETag / If-None-Match outside a page cache (core.public_cache): the tag is the hash of the answer's bytes, so
    a list served from the cache gets the same tag as when it was built."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if request.method not in ("GET", "HEAD") or response.status_code != 200 or response.streaming:
            return response
        if callable(getattr(response, "render", None)):
            response = response.render()
        tag = f'"{hashlib.sha256(response.content).hexdigest()[:32]}"'
        response["ETag"] = tag
        if get_conditional_response(request, etag=tag) is not None:
            not_modified = HttpResponseNotModified()
            not_modified["ETag"] = tag
            return not_modified
        return response

    return wrapper


class CursorPage(pagination.CursorPagination):
    """Cursor pages (stable while rows arrive; no COUNT). A view sets `ordering` to a unique, indexed order."""

    page_size_query_param = None
    ordering = "-pk"

    def __init__(self, *, ordering: str | tuple[str, ...] = "-pk", page_size: int = 20):
        self.ordering = ordering  # type: ignore[assignment]  # DRF takes a field or a tuple of fields
        self.page_size = page_size


def form_data(request) -> dict:
    """A request's body as a form's data: JSON or a form post alike (lists kept where a field takes several)."""
    data = request.data
    if hasattr(data, "lists"):
        return {key: values if len(values) > 1 else values[0] for key, values in data.lists()}
    return dict(data) if isinstance(data, Mapping) else {}


# --- Schema -------------------------------------------------------------------------------------------------------


def _choices(field: forms.ChoiceField) -> list:
    """The field's choices without the empty one (a form's placeholder, not a value)."""
    return [choice for choice in cast(Iterable, field.choices) if choice[0] != ""]


def _field_for(field: forms.Field) -> serializers.Field:
    common = {"required": field.required, "help_text": str(field.help_text or field.label or "")}
    if isinstance(field, forms.ModelMultipleChoiceField):
        return serializers.ListField(child=serializers.IntegerField(), **common)
    if isinstance(field, forms.ModelChoiceField):
        return serializers.IntegerField(**common)
    if isinstance(field, forms.BooleanField):
        return serializers.BooleanField(**common)
    if isinstance(field, forms.IntegerField):
        return serializers.IntegerField(min_value=field.min_value, max_value=field.max_value, **common)
    if isinstance(field, forms.DecimalField):
        return serializers.DecimalField(
            max_digits=field.max_digits, decimal_places=field.decimal_places, coerce_to_string=True, **common
        )
    if isinstance(field, forms.DateTimeField):
        return serializers.DateTimeField(**common)
    if isinstance(field, forms.DateField):
        return serializers.DateField(**common)
    if isinstance(field, forms.FileField):
        return serializers.ListField(child=serializers.FileField(), **common)
    if isinstance(field, forms.MultipleChoiceField):
        return serializers.ListField(child=serializers.ChoiceField(choices=_choices(field)), **common)
    if isinstance(field, forms.ChoiceField):
        return serializers.ChoiceField(choices=_choices(field), **common)
    if isinstance(field, forms.CharField):
        return serializers.CharField(
            max_length=field.max_length, min_length=field.min_length, allow_blank=not field.required, **common
        )
    return serializers.CharField(**common)


def form_schema(form_class: type[forms.BaseForm], name: str, *, exclude: tuple[str, ...] = ()) -> type:
    """A serializer that describes `form_class`'s fields in the OpenAPI schema. It documents; the form validates."""
    fields: dict[str, forms.Field] = form_class.base_fields  # type: ignore[attr-defined]  # every Form class has them
    attrs = {n: _field_for(f) for n, f in fields.items() if n not in exclude}
    return type(name, (serializers.Serializer,), attrs)


class ErrorSerializer(serializers.Serializer):
    """The one error format (module docstring)."""

    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


_PAGES: dict[str, type] = {}


def cursor_page(serializer_class: type[serializers.Serializer]) -> type:
    """The schema of a cursor page of `serializer_class` (what CursorPage answers): next, previous, results."""
    name = f"{serializer_class.__name__.removesuffix('Serializer')}Page"
    if name not in _PAGES:
        _PAGES[name] = type(
            name,
            (serializers.Serializer,),
            {
                "next": serializers.URLField(allow_null=True, help_text="the next page, or null"),
                "previous": serializers.URLField(allow_null=True, help_text="the previous page, or null"),
                "results": serializer_class(many=True),
            },
        )
    return _PAGES[name]

"""The API's device tokens as a Django REST framework authentication: `Authorization: Bearer <token>`.

A token is looked up by its SHA-256 (audit.ApiToken); a revoked or expired token, or one of an inactive account,
is refused with 401 and the same message, so a client only learns that it must sign in again."""

from datetime import timedelta
from functools import wraps

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .models import ApiToken
from .services import api_token_hash

# last_used_at is written at most this often per token: a read must not cost an UPDATE.
LAST_USED_STEP = timedelta(hours=1)
TOKEN_INVALID = _("令牌无效或已过期，请重新登录。")


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        found = getattr(getattr(request, "_request", request), "_device_token", None)
        if found is not None:  # token_user already read it for this request
            return found
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(TOKEN_INVALID)
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(TOKEN_INVALID) from None
        now = timezone.now()
        # By the unique hash alone, the rest checked here: the query a hit of a kept page pays on every request
        # (its ORM compilation was most of the time the API's /me/ took on a hit).
        try:
            row = ApiToken.objects.select_related("user").get(token_hash=api_token_hash(token))
        except ApiToken.DoesNotExist:
            raise exceptions.AuthenticationFailed(TOKEN_INVALID) from None
        if row.revoked_at is not None or row.expires_at <= now or not row.user.is_active:
            raise exceptions.AuthenticationFailed(TOKEN_INVALID)
        if row.last_used_at is None or row.last_used_at < now - LAST_USED_STEP:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        return row.user, row

    def authenticate_header(self, request):
        return self.keyword


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    target_class = DeviceTokenAuthentication
    name = "deviceToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "POST /api/v1/auth/token/ → token"}


def token_user(view):
    """Put the device token's user on the Django request before `view` runs, for a per-person page cache
    (core.member_cache) in front of an API view: a hit then costs the token's query and one cache round trip. No
    or a bad token leaves the request as it is (the API view answers 401 itself)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            found = DeviceTokenAuthentication().authenticate(request)
        except exceptions.AuthenticationFailed:
            found = None
        if found is not None:
            request.user = found[0]
            request._device_token = found  # DeviceTokenAuthentication answers from it: one query, not two
        return view(request, *args, **kwargs)

    return wrapper

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from django.conf import settings
from django.http import HttpResponseNotAllowed
from django.shortcuts import render
from django.urls import reverse

from core import ratelimit


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware with one exception: under /admin/ inline style *attributes* are allowed
    (style-src-attr), because admin add-ons (django-import-export, django-simple-history) and the organisation
    tree's indentation use them. Scripts and <style> elements stay 'self' everywhere."""

    _admin_prefix: str | None = None

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if self._admin_prefix is None:
            type(self)._admin_prefix = reverse("admin:index")
        if not report_only and request.path_info.startswith(self._admin_prefix):
            parts.update = {**(parts.update or {}), "style-src-attr": [UNSAFE_INLINE]}
        return parts


class AllowedMethodsMiddleware:
    """Every method but the few the site uses (settings.ALLOWED_HTTP_METHODS: GET, HEAD, POST) answers 405 before
    any view runs: a function view would otherwise render its page for TRACE, PUT or a made-up method."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.allowed = tuple(settings.ALLOWED_HTTP_METHODS)

    def __call__(self, request):
        if request.method not in self.allowed:
            return HttpResponseNotAllowed(self.allowed)
        return self.get_response(request)


class SignInAddressLimitMiddleware:
    """Password spraying: one address trying a password on many accounts. django-axes locks one username per
    address; this refuses any sign-in from an address after SIGN_IN_IP_LIMIT failed ones in its window, on the
    site's and the admin's sign-in pages alike (429, the lockout page). Failures are counted by receivers.py
    (Django's `user_login_failed`); the address is the one the audit trail and django-axes read (core.net)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.paths: tuple[str, ...] | None = None  # reversed at the first POST (the URLconf is loaded by then)

    def __call__(self, request):
        if request.method == "POST":
            if self.paths is None:
                self.paths = (reverse("login"), reverse("admin:login"))
            if request.path_info in self.paths:
                verdict = ratelimit.peek("SIGN_IN_IP_LIMIT", ratelimit.client_ip(request))
                if not verdict.allowed:
                    context = {"by_address": True, "retry_minutes": max(1, -(-verdict.retry_after // 60))}
                    response = render(request, settings.AXES_LOCKOUT_TEMPLATE, context, status=429)
                    response["Retry-After"] = str(verdict.retry_after)
                    return response
        return self.get_response(request)

from dataclasses import asdict
from urllib.parse import urlencode

from csp.constants import HEADER, UNSAFE_INLINE
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse

from core import ratelimit

# A response a view's decorator gave a policy of its own (django-csp's @csp_update, @csp_replace, @csp).
_OVERRIDES = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware with one exception: under /admin/ inline style *attributes* are allowed
    (style-src-attr), because admin add-ons (django-import-export, django-simple-history) and the organisation
    tree's indentation use them. Scripts and <style> elements stay 'self' everywhere.

    A response that asks for nothing of its own (no nonce, no decorator's policy; no report-only policy configured)
    gets the header built once per process for the site and once for the admin: django-csp builds both policies
    again for every response, a sixth of the bench ceiling's time in the stack (bench/profile_middleware.py)."""

    _admin_prefix: str | None = None
    _built: dict[bool, str] = {}  # under the admin -> the header; emptied when the settings change
    _settings_allow: bool | None = None  # read once too, again after a settings change

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and self._is_admin(request):
            parts.update = {**(parts.update or {}), "style-src-attr": [UNSAFE_INLINE]}
        return parts

    @classmethod
    def _settings_allow_building_once(cls) -> bool:
        """No report-only policy, no excluded paths, DEBUG off (django-csp leaves Django's debug pages without a
        policy)."""
        if cls._settings_allow is None:
            cls._settings_allow = not (
                getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
                or (settings.CONTENT_SECURITY_POLICY or {}).get("EXCLUDE_URL_PREFIXES")
                or settings.DEBUG
            )
        return cls._settings_allow

    def _is_admin(self, request) -> bool:
        if self._admin_prefix is None:
            type(self)._admin_prefix = reverse("admin:index")
        return request.path_info.startswith(self._admin_prefix)

    def process_response(self, request, response):
        if (
            request.__dict__.get("_csp_nonce") is not None
            or any(hasattr(response, name) for name in _OVERRIDES)
            or not self._settings_allow_building_once()
        ):
            return super().process_response(request, response)
        admin = self._is_admin(request)
        if admin not in self._built:
            self._built[admin] = build_policy(**asdict(self.get_policy_parts(request, response)))
        if self._built[admin] and HEADER not in response and not getattr(response, "_csp_exempt", False):
            response[HEADER] = self._built[admin]
        # As django-csp: a nonce asked for after the header is written is an error, not a silent hole.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response


@receiver(setting_changed)
def _forget_built_policies(*, setting, **kwargs):
    if setting.startswith("CONTENT_SECURITY_POLICY") or setting == "DEBUG":
        CSPMiddleware._built.clear()
        CSPMiddleware._settings_allow = None


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


# What the signed-in account owes: "verify" or "setup" (receivers._second_factor_owed sets it at sign-in; the
# second-factor pages remove it once it is given).
SECOND_FACTOR_SESSION_KEY = "_second_factor_owed"


class SecondFactorMiddleware:
    """An account that owes its second factor is sent to give it (or, a platform admin without one, to set it up)
    from every page but those pages, sign-out, the language switch and the health check. It reads the session only:
    an anonymous request without a session cookie costs a dictionary lookup."""

    _open_prefixes: tuple[str, ...] | None = None

    def __init__(self, get_response):
        self.get_response = get_response

    @classmethod
    def _open(cls) -> tuple[str, ...]:
        if cls._open_prefixes is None:
            cls._open_prefixes = (
                reverse("second_factor"),  # …/setup/ and the rest are under it
                reverse("logout"),
                reverse("set_language"),
                reverse("healthz"),
                settings.STATIC_URL,
            )
        return cls._open_prefixes

    def __call__(self, request):
        owed = request.session.get(SECOND_FACTOR_SESSION_KEY) if request.COOKIES else None
        if owed and not request.path_info.startswith(self._open()):
            target = reverse("second_factor_setup" if owed == "setup" else "second_factor")
            if request.method == "GET":
                target += "?" + urlencode({"next": request.get_full_path()})
            return redirect(target)
        return self.get_response(request)

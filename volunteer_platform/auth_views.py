"""Sign-in and sign-out: Django's views, following a `next` only when it is a path on this site (core/redirects.py);
and signing in or setting a new password with a code texted to the member's phone (members.services.sign_in_codes).

Django's own check lets a bare word through as a relative URL (`undefined` → /accounts/login/undefined); here
anything but a path falls back to LOGIN_REDIRECT_URL / LOGOUT_REDIRECT_URL, and the sign-in page does not carry it.

The code pages answer a number no account has exactly as a known one (the same page, the same next step), and count
their limits (settings SIGN_IN_CODE_*_LIMIT) by number and by address whether the number is known or not.
"""

import base64
import math

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from audit.models import AuditEvent
from audit.services import audit_record
from core import ratelimit
from core.crypto import blind_index, mask_phone
from core.forms import add_service_errors
from core.qr import qr_svg
from core.redirects import safe_next_url
from members import services as member_services
from members import wechat
from members.models import SignInCodePurpose
from members.selectors import member_for

from . import selectors, services
from .forms import CodeForm, CodeRequestForm, PasswordResetCodeForm, SecondFactorForm, SignInForm
from .middleware import SECOND_FACTOR_SESSION_KEY

SETUP_KEY_SESSION_KEY = "_second_factor_key"  # the key the setup page shows, until it is confirmed
CODE_SESSION_KEY = "_sign_in_code"  # {"phone": the normalized number, "purpose": …, "next": a safe path or ""}
# The backend a code sign-in is recorded with (the one a password sign-in with the phone goes through).
CODE_BACKEND = "members.backends.PhoneOrUsernameBackend"
# The page that asks for a code of each purpose (a code page without a code asked goes back there).
CODE_REQUEST_PAGES: dict[str, str] = {
    SignInCodePurpose.SIGN_IN: "sign_in_code",
    SignInCodePurpose.PASSWORD_RESET: "password_reset",
    SignInCodePurpose.WECHAT_BIND: "wechat_bind",
}


def landing_url(request) -> str:
    """Where a sign-in without a `next` lands: whoever manages an organization on its 工作台 (the dashboard),
    a member on 我的 (/me/), anyone else on the home page."""
    user = request.user
    if selectors.dashboard_root(user) is not None:
        return reverse("dashboard:index")
    if member_for(user) is not None:
        return reverse("members:me")
    return reverse("home")


class _SafeNextMixin:
    def get_redirect_url(self):
        name = self.redirect_field_name
        value = self.request.POST.get(name, self.request.GET.get(name))
        return safe_next_url(self.request, value) or ""


class SignInView(_SafeNextMixin, auth_views.LoginView):
    authentication_form = SignInForm

    def get_default_redirect_url(self):
        return landing_url(self.request)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["wechat_app"] = wechat.app_for(self.request.headers.get("User-Agent", ""))
        return context


class SignOutView(_SafeNextMixin, auth_views.LogoutView):
    pass


# --- SMS codes --------------------------------------------------------------------------------------------------


def _too_many(form, retry_after: int) -> int:
    form.add_error(
        None,
        ValidationError(
            _("操作过于频繁，请 %(minutes)d 分钟后再试。"),
            code="too_many",
            params={"minutes": max(1, math.ceil(retry_after / 60))},
        ),
    )
    return 429


def _limits_allow(phone: str) -> ratelimit.Verdict:
    """Count a code sent to `phone` against its limits, unless one of them is already used up (then count nothing)."""
    key = blind_index(phone)
    for name in ("SIGN_IN_CODE_RESEND_LIMIT", "SIGN_IN_CODE_PHONE_LIMIT"):
        verdict = ratelimit.peek(name, key)
        if not verdict.allowed:
            return verdict
    for name in ("SIGN_IN_CODE_RESEND_LIMIT", "SIGN_IN_CODE_PHONE_LIMIT"):
        ratelimit.hit(name, key)
    return ratelimit.Verdict(True, 0)


def _code_request(request, *, purpose: str, confirm: str, template: str):
    form = CodeRequestForm(request.POST if request.method == "POST" else None)
    status = 200
    next_url = safe_next_url(request, request.POST.get("next", request.GET.get("next"))) or ""
    if request.method == "POST":
        verdict = ratelimit.hit("SIGN_IN_CODE_IP_LIMIT", ratelimit.client_ip(request))
        if not verdict.allowed:
            status = _too_many(form, verdict.retry_after)
        elif form.is_valid():
            phone = form.cleaned_data["phone"]
            verdict = _limits_allow(phone)
            if not verdict.allowed:
                status = _too_many(form, verdict.retry_after)
            else:
                member_services.sign_in_code_request(phone=phone, purpose=purpose)
                request.session[CODE_SESSION_KEY] = {"phone": phone, "purpose": purpose, "next": next_url}
                return redirect(confirm)
    return render(request, template, {"form": form, "next": next_url}, status=status)


def _code_state(request, purpose: str) -> dict | None:
    state = request.session.get(CODE_SESSION_KEY)
    if not isinstance(state, dict) or state.get("purpose") != purpose or not state.get("phone"):
        return None
    return state


def _code_confirm(request, *, purpose: str, form_class, template: str, check):
    """The code page of `purpose`: `check(request, state, form)` returns the response of a right code, or adds the
    service's errors to the form and returns None."""
    state = _code_state(request, purpose)
    if state is None:
        return redirect(CODE_REQUEST_PAGES[purpose])
    form = form_class(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        verdict = ratelimit.hit("SIGN_IN_CODE_CHECK_IP_LIMIT", ratelimit.client_ip(request))
        if not verdict.allowed:
            status = _too_many(form, verdict.retry_after)
        elif form.is_valid():
            response = check(request, state, form)
            if response is not None:
                return response
    context = {"form": form, "masked_phone": mask_phone(state["phone"]), "minutes": _ttl_minutes()}
    return render(request, template, context, status=status)


def _ttl_minutes() -> int:
    return settings.SIGN_IN_CODE_TTL_SECONDS // 60


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_code(request):
    """Sign in with a code texted to the member's phone: the number."""
    return _code_request(
        request,
        purpose=SignInCodePurpose.SIGN_IN,
        confirm="sign_in_code_confirm",
        template="registration/sign_in_code.html",
    )


def _sign_in(request, state, form):
    try:
        user = member_services.sign_in_code_check(phone=state["phone"], code=form.cleaned_data["code"])
    except ValidationError as exc:
        add_service_errors(form, exc, field="code")
        return None
    del request.session[CODE_SESSION_KEY]
    login(request, user, backend=CODE_BACKEND)
    return redirect(safe_next_url(request, state.get("next")) or landing_url(request))


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_code_confirm(request):
    """Sign in with a code: the code."""
    return _code_confirm(
        request,
        purpose=SignInCodePurpose.SIGN_IN,
        form_class=CodeForm,
        template="registration/sign_in_code_confirm.html",
        check=_sign_in,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset(request):
    """Forgotten password: the number the code goes to."""
    return _code_request(
        request,
        purpose=SignInCodePurpose.PASSWORD_RESET,
        confirm="password_reset_confirm",
        template="registration/password_reset_code.html",
    )


def _reset(request, state, form):
    try:
        user = member_services.password_reset_with_code(
            phone=state["phone"], code=form.cleaned_data["code"], password=form.cleaned_data["new_password1"]
        )
    except ValidationError as exc:
        add_service_errors(form, exc, field="code")
        return None
    del request.session[CODE_SESSION_KEY]
    audit_record(action=AuditEvent.Action.PASSWORD_RESET, request=request, user=user, obj=user)
    login(request, user, backend=CODE_BACKEND)
    messages.success(request, _("密码已重设，您已登录。其他设备上的登录已失效。"))
    return redirect(landing_url(request))


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset_confirm(request):
    """Forgotten password: the code and the new password."""
    return _code_confirm(
        request,
        purpose=SignInCodePurpose.PASSWORD_RESET,
        form_class=PasswordResetCodeForm,
        template="registration/password_reset_code_confirm.html",
        check=_reset,
    )


# --- Second factor ----------------------------------------------------------------------------------------------


def _next_or_landing(request) -> str:
    return safe_next_url(request, request.POST.get("next", request.GET.get("next"))) or landing_url(request)


def _second_factor_given(request, device) -> None:
    django_otp.login(request, device)
    # The key stays: login() gave the session a new one at the first step, and audit.UserSession knows it by that
    # key (to end it when the account is deactivated or its second factor reset).
    request.session.pop(SECOND_FACTOR_SESSION_KEY, None)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def second_factor(request):
    """The second step of signing in: a code of the authenticator app or a recovery code."""
    owed = request.session.get(SECOND_FACTOR_SESSION_KEY)
    if owed == "setup":
        return redirect(f"{reverse('second_factor_setup')}?{request.META.get('QUERY_STRING', '')}")
    if not owed:
        return redirect(_next_or_landing(request))
    form = SecondFactorForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        verdict = ratelimit.hit("SECOND_FACTOR_IP_LIMIT", ratelimit.client_ip(request))
        if not verdict.allowed:
            status = _too_many(form, verdict.retry_after)
        elif form.is_valid():
            try:
                device = services.second_factor_check(user=request.user, token=form.cleaned_data["token"])
            except ValidationError as exc:
                add_service_errors(form, exc, field="token")
            else:
                _second_factor_given(request, device)
                return redirect(_next_or_landing(request))
    context = {"form": form, "next": safe_next_url(request, request.GET.get("next")) or ""}
    return render(request, "registration/second_factor.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def second_factor_setup(request):
    """Set up the second factor (or see that it is on, and turn it off where allowed)."""
    totp, _static = selectors.second_factor_devices(request.user)
    required = selectors.second_factor_required(request.user)
    if totp is not None:
        context = {"form": SecondFactorForm(), "required": required, "device": totp}
        return render(request, "registration/second_factor_on.html", context)
    key = request.session.get(SETUP_KEY_SESSION_KEY)
    if not isinstance(key, str) or len(key) != 40:
        key = request.session[SETUP_KEY_SESSION_KEY] = random_hex(20)  # shown until set up; stored on success only
    form = SecondFactorForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = services.second_factor_confirm(user=request.user, key=key, token=form.cleaned_data["token"])
        except ValidationError as exc:
            add_service_errors(form, exc, field="token")
        else:
            del request.session[SETUP_KEY_SESSION_KEY]
            _second_factor_given(request, device)
            context = {"codes": codes, "continue_url": _next_or_landing(request)}
            return render(request, "registration/second_factor_codes.html", context)
    device = TOTPDevice(user=request.user, key=key)
    secret = base64.b32encode(device.bin_key).decode()
    context = {
        "form": form,
        "qr": mark_safe(qr_svg(device.config_url, box_size=8, inline=True)),  # our own SVG markup of the key's URL
        "key": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "required": required,
        "next": safe_next_url(request, request.GET.get("next")) or "",
    }
    return render(request, "registration/second_factor_setup.html", context)


@never_cache
@login_required
@require_POST
def second_factor_turn_off(request):
    form = SecondFactorForm(request.POST)
    if form.is_valid():
        try:
            services.second_factor_turn_off(user=request.user, token=form.cleaned_data["token"])
        except ValidationError as exc:
            add_service_errors(form, exc, field="token")
        else:
            request.session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)
            messages.success(request, _("两步验证已关闭。"))
            return redirect("second_factor_setup")
    totp, _static = selectors.second_factor_devices(request.user)
    required = selectors.second_factor_required(request.user)
    context = {"form": form, "required": required, "device": totp}
    return render(request, "registration/second_factor_on.html", context, status=200)

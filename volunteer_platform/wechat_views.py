"""Signing in with WeChat: 网页授权 inside WeChat's browser, 扫码登录 on a PC (members/wechat.py is the client,
members/services/wechat.py the rules; docs/security.md, "WeChat sign-in").

`wechat_start` keeps a random state in the session and sends the browser to WeChat; `wechat_callback` takes the
state back once (compared in constant time, then forgotten), trades the code for the person's identity and signs in
the account it is bound to. An identity bound to none waits in the session (WECHAT_BIND_SECONDS) while the member
proves the phone on file with an SMS code (`wechat_bind`, `wechat_bind_confirm`: the pages and limits of the SMS-code
sign-in, purpose WECHAT_BIND); a number no member has answers like a known one, and no account is ever made.
Sign-in goes through Django's login(), so the session record, the audit event and the second factor follow.
With no WeChat app set up (settings WECHAT_*_APP_ID/SECRET) every page here answers 404.
"""

import logging
import secrets
import time
from dataclasses import asdict

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import ratelimit
from core.forms import add_service_errors
from core.params import parse_id
from core.redirects import safe_next_url
from members import services as member_services
from members import wechat
from members.models import SignInCodePurpose

from .auth_views import CODE_BACKEND, CODE_SESSION_KEY, _code_confirm, _code_request, landing_url
from .forms import CodeForm

logger = logging.getLogger(__name__)

STATE_SESSION_KEY = "_wechat_state"  # {"state": random, "app": …, "next": a safe path or ""}, until the callback
IDENTITY_SESSION_KEY = "_wechat_identity"  # an identity waiting to be bound: Identity's fields, "next", "until"


def _configured_or_404() -> None:
    if not wechat.any_configured():
        raise Http404


def _failed(request, reason: str, *, status: int):
    return render(request, "registration/wechat_failed.html", {"reason": reason}, status=status)


@never_cache
@require_GET
def wechat_start(request):
    """Send the browser to WeChat: the official account's 网页授权 inside WeChat, the website app's QR code
    elsewhere."""
    _configured_or_404()
    user_agent = request.headers.get("User-Agent", "")
    app = wechat.app_for(user_agent)
    if app is None:
        if wechat.is_wechat_browser(user_agent):
            reason = _("微信内暂不能用微信登录。请用短信验证码登录，或在电脑浏览器中打开本站扫码登录。")
        else:
            reason = _("请在微信中打开本站，再用微信登录；或用短信验证码登录。")
        return _failed(request, reason, status=400)
    state = secrets.token_urlsafe(24)
    next_url = safe_next_url(request, request.GET.get("next")) or ""
    request.session[STATE_SESSION_KEY] = {"state": state, "app": app, "next": next_url}
    redirect_uri = request.build_absolute_uri(reverse("wechat_callback"))
    return HttpResponseRedirect(wechat.authorize_url(app=app, redirect_uri=redirect_uri, state=state))


def _state_matches(started, given) -> bool:
    if not isinstance(started, dict) or not isinstance(given, str) or not given:
        return False
    expected = started.get("state")
    if not isinstance(expected, str) or wechat.credentials(started.get("app", "")) is None:
        return False
    return secrets.compare_digest(given.encode(), expected.encode())


@never_cache
@require_GET
def wechat_callback(request):
    """WeChat sends the browser back here with a code and our state."""
    _configured_or_404()
    started = request.session.pop(STATE_SESSION_KEY, None)  # a state works once, whatever happens next
    if not _state_matches(started, request.GET.get("state")):
        return _failed(request, _("这次微信登录已失效，或不是从本站发起的。请重新用微信登录。"), status=400)
    code = request.GET.get("code", "")
    if not code:
        return _failed(request, _("您没有同意微信授权，未能登录。"), status=400)
    verdict = ratelimit.hit("WECHAT_CALLBACK_IP_LIMIT", ratelimit.client_ip(request))
    if not verdict.allowed:
        return _failed(request, _("操作过于频繁，请稍后再试。"), status=429)
    try:
        identity = wechat.fetch_identity(app=started["app"], code=code[:128])
    except wechat.WeChatError as exc:
        logger.warning("WeChat sign-in refused: errcode %s", exc.errcode)  # never the code or WeChat's message
        if exc.code_refused:
            return _failed(request, _("微信授权已过期或已经用过。请重新用微信登录。"), status=400)
        return _failed(request, _("暂时无法连接微信，请稍后再试，或用短信验证码登录。"), status=502)
    user = member_services.wechat_sign_in(identity=identity)
    next_url = started.get("next") or ""
    if user is not None:
        request.session.pop(IDENTITY_SESSION_KEY, None)
        login(request, user, backend=CODE_BACKEND)
        return redirect(safe_next_url(request, next_url) or landing_url(request))
    until = int(time.time()) + settings.WECHAT_BIND_SECONDS
    request.session[IDENTITY_SESSION_KEY] = {**asdict(identity), "next": next_url, "until": until}
    return redirect("wechat_bind")


def _waiting_identity(request) -> wechat.Identity | None:
    data = request.session.get(IDENTITY_SESSION_KEY)
    if not isinstance(data, dict) or not isinstance(data.get("until"), int) or data["until"] < time.time():
        return None
    try:
        return wechat.Identity(
            app=data["app"], openid=data["openid"], unionid=data["unionid"], nickname=data["nickname"]
        )
    except KeyError:
        return None


def _no_identity(request):
    request.session.pop(IDENTITY_SESSION_KEY, None)
    messages.info(request, _("请先用微信登录，再绑定账号。"))
    return redirect("login")


@never_cache
@require_http_methods(["GET", "POST"])
def wechat_bind(request):
    """A WeChat no account has yet: the number of the member who binds it."""
    _configured_or_404()
    if _waiting_identity(request) is None:
        return _no_identity(request)
    return _code_request(
        request,
        purpose=SignInCodePurpose.WECHAT_BIND,
        confirm="wechat_bind_confirm",
        template="registration/wechat_bind.html",
    )


def _bind(request, state, form):
    identity = _waiting_identity(request)
    if identity is None:
        form.add_error(None, ValidationError(_("微信登录已超时，请重新用微信登录。"), code="wechat_expired"))
        return None
    try:
        user = member_services.wechat_bind_with_code(
            identity=identity, phone=state["phone"], code=form.cleaned_data["code"]
        )
    except ValidationError as exc:
        add_service_errors(form, exc, field="code" if exc.code == "wrong_code" else None)
        return None
    next_url = request.session.pop(IDENTITY_SESSION_KEY, {}).get("next")
    del request.session[CODE_SESSION_KEY]
    login(request, user, backend=CODE_BACKEND)
    messages.success(request, _("微信已绑定，以后可以用微信直接登录。"))
    return redirect(safe_next_url(request, next_url) or landing_url(request))


@never_cache
@require_http_methods(["GET", "POST"])
def wechat_bind_confirm(request):
    """A WeChat no account has yet: the SMS code, then bound and signed in."""
    _configured_or_404()
    return _code_confirm(
        request,
        purpose=SignInCodePurpose.WECHAT_BIND,
        form_class=CodeForm,
        template="registration/wechat_bind_confirm.html",
        check=_bind,
    )


@never_cache
@login_required
@require_POST
def wechat_unbind(request):
    """Remove one of the signed-in account's WeChat bindings (from /me/); 404 for any other binding. Works even
    with WeChat sign-in turned off: a member can always remove it."""
    binding_id = parse_id(request.POST.get("binding"))
    if binding_id is None or not member_services.wechat_unbind(user=request.user, binding_id=binding_id):
        raise Http404
    messages.success(request, _("已解除微信绑定。"))
    return redirect("members:me")

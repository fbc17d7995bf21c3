"""The mini-program's sign-in (/api/v1/auth/wechat/): the code of wx.login() → a device token, the first time
through binding the WeChat to the member's account with an SMS code (docs/security.md, "WeChat sign-in").

The rules are members.services.wechat's (an identity signs in only the account it is bound to; no account is ever
made) and the token is the one /auth/token/ gives (audit.services.api_token_issue: hashed, with expiry, rotation and
revocation). A WeChat no account has yet gets a `bind_ticket`: its identity (app, openid, unionid; never the
session_key, which members.wechat drops), signed with the site's key (django.core.signing, a salt of its own) and
good for WECHAT_BIND_SECONDS. The app posts it back with the member's phone and an SMS code of purpose wechat_bind
(POST /auth/sms-code/). The ticket is signed, not encrypted: it shows the app the person's openid, their own
identifier in that app. With the mini-program not set up (WECHAT_MINI_APP_ID/SECRET) both answer 404.
"""

import logging

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from audit import services as audit_services
from audit.models import AuditEvent
from core import ratelimit
from core.api import ErrorSerializer, error_body, form_data, form_invalid, form_schema, invalid, too_many
from core.types import User
from members import services as member_services
from members import wechat
from members.models import WeChatApp

from . import selectors
from .api import LIMITED, TokenSerializer, _token_answer
from .forms import WeChatBindForm, WeChatCodeForm

logger = logging.getLogger(__name__)

TICKET_SALT = "volunteer_platform.api_wechat.bind_ticket"
# How long a client waits after WeChat's "too many calls of this person" (45011: a minute's quota).
WECHAT_RETRY_AFTER = 60


def _configured_or_404() -> None:
    if wechat.credentials(WeChatApp.MINI_PROGRAM) is None:
        raise Http404


def _ticket_for(identity: wechat.Identity) -> str:
    return signing.dumps(
        {"app": identity.app, "openid": identity.openid, "unionid": identity.unionid}, salt=TICKET_SALT
    )


def _identity_of(ticket: str) -> wechat.Identity | None:
    """The identity a ticket of this site holds, or None when it is tampered with, expired or not the
    mini-program's."""
    try:
        data = signing.loads(ticket, salt=TICKET_SALT, max_age=settings.WECHAT_BIND_SECONDS)
    except signing.BadSignature:  # SignatureExpired included
        return None
    if not isinstance(data, dict) or data.get("app") != WeChatApp.MINI_PROGRAM:
        return None
    openid, unionid = data.get("openid"), data.get("unionid", "")
    if not isinstance(openid, str) or not openid or not isinstance(unionid, str):
        return None
    return wechat.Identity(app=WeChatApp.MINI_PROGRAM, openid=openid, unionid=unionid)


def _signed_in(request, user: User, device: str) -> Response:
    """A device token for `user`, as /auth/token/ gives one (an account that owes a second factor signs in on the
    site)."""
    if selectors.second_factor_owed(user):
        raise PermissionDenied(_("该账号登录需要两步验证，请在网页上登录。"))
    row, secret = audit_services.api_token_issue(user=user, device=device)
    audit_services.audit_record(
        action=AuditEvent.Action.LOGIN,
        request=request._request,
        user=user,
        detail={"via": "api-wechat", "token": row.pk},
    )
    return _token_answer(row, secret)


def _refused(exc: wechat.WeChatError) -> Response:
    logger.warning("WeChat mini-program sign-in refused: errcode %s", exc.errcode)  # never the code or secret
    if exc.code_refused:
        return invalid({"code": [_("微信登录凭证已失效或已经用过，请在小程序中重新登录。")]})
    if exc.rate_limited:
        return too_many(WECHAT_RETRY_AFTER)
    return Response(
        error_body(_("暂时无法连接微信，请稍后再试，或用短信验证码登录。"), "wechat_unavailable"),
        status=status.HTTP_502_BAD_GATEWAY,
    )


class BindRequiredSerializer(ErrorSerializer):
    """409 of a WeChat bound to no account: the error format, with the ticket to bind it."""

    bind_ticket = serializers.CharField(help_text="POST /api/v1/auth/wechat/bind/ with the phone and an SMS code")
    expires_in = serializers.IntegerField(help_text="seconds the ticket works")


WeChatCodeInput = form_schema(WeChatCodeForm, "WeChatCodeInput")
WeChatBindInput = form_schema(WeChatBindForm, "WeChatBindInput")


@extend_schema(
    operation_id="auth_wechat",
    summary="微信小程序登录（wx.login 的 code 换取设备令牌）",
    description=(
        "201: the device's token. 409 `bind_required`: this WeChat is bound to no account yet; ask an SMS code "
        "with purpose `wechat_bind`, then POST /api/v1/auth/wechat/bind/ with `bind_ticket`. "
        "400: WeChat refused the code (used, expired or invalid: call wx.login() again). "
        "502 `wechat_unavailable`: WeChat did not answer."
    ),
    request=WeChatCodeInput,
    responses={
        201: TokenSerializer,
        409: BindRequiredSerializer,
        502: ErrorSerializer,
        **LIMITED,
    },
    auth=[],
)
@api_view(["POST"])
def wechat_login(request):
    """Trade the mini-program's code with WeChat (counted per address, as the web callback) and sign the device in
    to the account the WeChat is bound to."""
    _configured_or_404()
    form = WeChatCodeForm(form_data(request))
    if not form.is_valid():
        return form_invalid(form)
    verdict = ratelimit.hit("WECHAT_CALLBACK_IP_LIMIT", ratelimit.client_ip(request))
    if not verdict.allowed:
        return too_many(verdict.retry_after)
    try:
        identity = wechat.fetch_mini_identity(code=form.cleaned_data["code"])
    except wechat.WeChatError as exc:
        return _refused(exc)
    user = member_services.wechat_sign_in(identity=identity)
    if user is None:
        body = error_body(_("这个微信还没有绑定账号。请用登记的手机号获取验证码，完成绑定。"), "bind_required")
        body.update(bind_ticket=_ticket_for(identity), expires_in=settings.WECHAT_BIND_SECONDS)
        return Response(body, status=status.HTTP_409_CONFLICT)
    return _signed_in(request, user, form.cleaned_data["device"])


@extend_schema(
    operation_id="auth_wechat_bind",
    summary="绑定微信并登录（手机号 + 短信验证码）",
    description=(
        "The SMS code comes from POST /api/v1/auth/sms-code/ with purpose `wechat_bind`. A wrong code and a number "
        "no member has get the same answer; an expired or altered `bind_ticket` its own (sign in with WeChat again)."
    ),
    request=WeChatBindInput,
    responses={201: TokenSerializer, **LIMITED},
    auth=[],
)
@api_view(["POST"])
def wechat_bind(request):
    """Bind the ticket's WeChat to the account of the phone whose code is right (members.services.wechat), then
    sign the device in. The code entries count per address as /auth/token/'s."""
    _configured_or_404()
    verdict = ratelimit.hit("SIGN_IN_CODE_CHECK_IP_LIMIT", ratelimit.client_ip(request))
    if not verdict.allowed:
        return too_many(verdict.retry_after)
    form = WeChatBindForm(form_data(request))
    if not form.is_valid():
        return form_invalid(form)
    identity = _identity_of(form.cleaned_data["bind_ticket"])
    if identity is None:
        return invalid({"bind_ticket": [_("绑定凭证无效或已过期，请在小程序中重新用微信登录。")]})
    user = member_services.wechat_bind_with_code(
        identity=identity, phone=form.cleaned_data["phone"], code=form.cleaned_data["code"]
    )
    return _signed_in(request, user, form.cleaned_data["device"])

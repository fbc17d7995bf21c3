"""A small client of WeChat's OAuth 2.0 sign-in: 网页授权 of the official account inside WeChat's browser, and 扫码登录
of the open platform's website app on a PC (docs/security.md, "WeChat sign-in").

Both send the browser to open.weixin.qq.com with our app id, a callback address and a random state; WeChat sends
it back to the callback with a one-time code (valid 5 minutes), which `fetch_identity` trades, with the app secret,
for the person's openid (and unionid when the apps are linked under one open-platform account). The official
account asks for `snsapi_base` (silent, the openid only); the website app for `snsapi_login`, whose access token
also reads the nickname (`/sns/userinfo`), kept so the member can tell which WeChat is bound. The access token is
used once and dropped. The base addresses are settings, so the tests point them at a fake on 127.0.0.1.

The mini-program (小程序) has no browser and no redirect: `wx.login()` gives it a one-time code, which it posts to
the API (/api/v1/auth/wechat/), and `fetch_mini_identity` trades it at `/sns/jscode2session`. That answer's
session_key (the key of the mini-program's encrypted user data) is dropped at once: never stored, never logged.

Written by hand on urllib (a few GET requests) rather than through django-allauth's weixin provider, which would
bring allauth's account and social-account apps beside the sign-in the platform already has (README).
"""

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings

from .models import WeChatApp

logger = logging.getLogger(__name__)

# WeChat's answers about the code itself: invalid or expired (40029), already used (40163), missing (41008),
# expired token (42003). The person starts again; anything else is our configuration or WeChat's trouble.
CODE_ERRORS = frozenset({40029, 40163, 41008, 42003})
# Too many calls of one person in a minute (jscode2session): the person waits a minute.
RATE_LIMITED = 45011


class WeChatError(Exception):
    """WeChat refused (`errcode` and `errmsg` of its answer) or did not answer (`errcode` None)."""

    def __init__(self, errcode: int | None, errmsg: str):
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def code_refused(self) -> bool:
        return self.errcode in CODE_ERRORS

    @property
    def rate_limited(self) -> bool:
        return self.errcode == RATE_LIMITED


@dataclass(frozen=True)
class Identity:
    """A person as one of our WeChat apps knows them."""

    app: str
    openid: str
    unionid: str = ""
    nickname: str = ""


# The apps a browser signs in through (the sign-in pages); the mini-program signs in through the API.
WEB_APPS = (WeChatApp.OFFICIAL_ACCOUNT, WeChatApp.WEBSITE)


def credentials(app: str) -> tuple[str, str] | None:
    """(app id, app secret) of `app` from settings, or None when it is not set up."""
    if app == WeChatApp.OFFICIAL_ACCOUNT:
        pair = (settings.WECHAT_MP_APP_ID, settings.WECHAT_MP_APP_SECRET)
    elif app == WeChatApp.WEBSITE:
        pair = (settings.WECHAT_OPEN_APP_ID, settings.WECHAT_OPEN_APP_SECRET)
    elif app == WeChatApp.MINI_PROGRAM:
        pair = (settings.WECHAT_MINI_APP_ID, settings.WECHAT_MINI_APP_SECRET)
    else:
        return None
    return pair if all(pair) else None


def is_wechat_browser(user_agent: str) -> bool:
    return "MicroMessenger" in user_agent


def app_for(user_agent: str) -> str | None:
    """The app a browser signs in through: the official account inside WeChat, the website app (a QR code to scan)
    elsewhere; None when that one is not set up (the WeChat button is then not shown)."""
    app = WeChatApp.OFFICIAL_ACCOUNT if is_wechat_browser(user_agent) else WeChatApp.WEBSITE
    return app if credentials(app) is not None else None


def any_configured() -> bool:
    """Whether a browser can sign in with WeChat (the sign-in pages answer 404 otherwise)."""
    return any(credentials(app) is not None for app in WEB_APPS)


def authorize_url(*, app: str, redirect_uri: str, state: str) -> str:
    """Where the browser goes to sign in with WeChat."""
    found = credentials(app)
    assert found is not None
    base = settings.WECHAT_OAUTH_URL.rstrip("/")
    if app == WeChatApp.OFFICIAL_ACCOUNT:
        path, scope = "/connect/oauth2/authorize", "snsapi_base"
    else:
        path, scope = "/connect/qrconnect", "snsapi_login"
    query = urlencode(
        {"appid": found[0], "redirect_uri": redirect_uri, "response_type": "code", "scope": scope, "state": state}
    )
    return f"{base}{path}?{query}#wechat_redirect"


def _get(path: str, params: dict[str, str]) -> dict:
    url = f"{settings.WECHAT_API_URL.rstrip('/')}{path}?{urlencode(params)}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=settings.WECHAT_TIMEOUT_SECONDS) as response:
            answer = json.loads(response.read(65536).decode("utf-8"))
    except (OSError, ValueError) as exc:  # URLError, HTTPError and timeouts are OSErrors; bad JSON a ValueError
        raise WeChatError(None, f"no usable answer from {path}: {exc.__class__.__name__}") from exc
    if not isinstance(answer, dict):
        raise WeChatError(None, f"no usable answer from {path}")
    if answer.get("errcode"):
        raise WeChatError(int(answer["errcode"]), str(answer.get("errmsg", ""))[:200])
    return answer


def _text(answer: dict, key: str, limit: int = 64) -> str:
    value = answer.get(key)
    return value[:limit] if isinstance(value, str) else ""


def fetch_identity(*, app: str, code: str) -> Identity:
    """Trade the callback's `code` for the person's identity. Raises WeChatError when WeChat refuses (a code used
    twice, expired or invalid: `code_refused`) or does not answer."""
    found = credentials(app)
    assert found is not None
    app_id, secret = found
    token = _get(
        "/sns/oauth2/access_token",
        {"appid": app_id, "secret": secret, "code": code, "grant_type": "authorization_code"},
    )
    openid = _text(token, "openid")
    if not openid:
        raise WeChatError(None, "the access token's answer has no openid")
    unionid, nickname = _text(token, "unionid"), ""
    if app == WeChatApp.WEBSITE and isinstance(token.get("access_token"), str):
        info = _get("/sns/userinfo", {"access_token": token["access_token"], "openid": openid, "lang": "zh_CN"})
        if _text(info, "openid") != openid:
            raise WeChatError(None, "the user information is of another openid")
        unionid = _text(info, "unionid") or unionid
        nickname = _text(info, "nickname")
    return Identity(app=app, openid=openid, unionid=unionid, nickname=nickname)


def fetch_mini_identity(*, code: str) -> Identity:
    """Trade a mini-program's `wx.login()` code for the person's identity (`/sns/jscode2session`). The answer's
    session_key is not kept. Raises WeChatError as `fetch_identity` does (a code refused: `code_refused`; too many
    calls of the person: `rate_limited`)."""
    found = credentials(WeChatApp.MINI_PROGRAM)
    assert found is not None
    app_id, secret = found
    answer = _get(
        "/sns/jscode2session",
        {"appid": app_id, "secret": secret, "js_code": code, "grant_type": "authorization_code"},
    )
    openid = _text(answer, "openid")
    if not openid:
        raise WeChatError(None, "the session's answer has no openid")
    return Identity(app=WeChatApp.MINI_PROGRAM, openid=openid, unionid=_text(answer, "unionid"))

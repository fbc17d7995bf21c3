"""A small fake of WeChat's OAuth endpoints on 127.0.0.1, for the WeChat sign-in tests (members/wechat.py).

It answers as open.weixin.qq.com and api.weixin.qq.com do:
- GET /connect/oauth2/authorize (网页授权) and /connect/qrconnect (扫码登录): the person (`person`) agrees at once, and
  the browser is sent to redirect_uri with a new one-time code and the state (without a code when `decline` is set);
- GET /sns/oauth2/access_token: the app's id and secret, then the code: unknown or expired → 40029, used → 40163;
  `error` (a JSON answer) replaces the next answer, `unreachable` closes the connection without an answer;
- GET /sns/userinfo: the nickname and unionid of the token's person (snsapi_login and snsapi_userinfo only);
- GET /sns/jscode2session (the mini-program): a code from `mini_login` (what wx.login() gives the mini-program),
  checked as the access token's, answers the openid, a `session_key` (kept in `session_keys`, for the tests that
  look for it where it must not be) and the unionid; `error` and `unreachable` as above.
Every request is kept in `requests` (path and query).
"""

import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

CODE_SECONDS = 300  # WeChat's codes work 5 minutes


@dataclass
class Person:
    """A WeChat user: one openid per app, one unionid across the apps of one open-platform account."""

    key: str
    nickname: str = "小周"
    linked: bool = True  # the apps are linked under one open-platform account: the unionid is given

    def openid(self, appid: str) -> str:
        return f"o-{appid[-6:]}-{self.key}"

    @property
    def unionid(self) -> str:
        return f"u-{self.key}" if self.linked else ""


class FakeWeChat:
    def __init__(self, apps: dict[str, str]):
        self.apps = apps  # appid -> secret
        self.person = Person("zhou")
        self.decline = False
        self.error: dict | None = None
        self.unreachable = False
        self.requests: list[tuple[str, dict]] = []
        self.codes: dict[str, dict] = {}  # code -> {"person", "appid", "scope", "issued", "used"}
        self.tokens: dict[str, tuple[Person, str, str]] = {}  # access token -> (person, appid, scope)
        self.session_keys: list[str] = []  # every session_key jscode2session gave
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                fake.requests.append((parts.path, query))
                if parts.path in ("/connect/oauth2/authorize", "/connect/qrconnect"):
                    self._redirect(fake.authorize(query))
                elif fake.unreachable:
                    self.close_connection = True
                elif parts.path == "/sns/oauth2/access_token":
                    self._json(fake.access_token(query))
                elif parts.path == "/sns/userinfo":
                    self._json(fake.userinfo(query))
                elif parts.path == "/sns/jscode2session":
                    self._json(fake.jscode2session(query))
                else:
                    self.send_error(404)

            def _redirect(self, location: str):
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _json(self, payload: dict):
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")  # as WeChat sends its JSON
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # --- what WeChat does --------------------------------------------------------------------------------------

    def authorize(self, query: dict) -> str:
        target = query["redirect_uri"]
        separator = "&" if "?" in target else "?"
        if self.decline or query.get("appid") not in self.apps:
            return f"{target}{separator}{urlencode({'state': query.get('state', '')})}"
        code = secrets.token_hex(16)
        self.codes[code] = {
            "person": self.person,
            "appid": query["appid"],
            "scope": query.get("scope", ""),
            "issued": time.monotonic(),
            "used": False,
        }
        return f"{target}{separator}{urlencode({'code': code, 'state': query.get('state', '')})}"

    def mini_login(self, appid: str) -> str:
        """What wx.login() gives the mini-program `appid` of the person: a one-time code."""
        code = secrets.token_hex(16)
        self.codes[code] = {
            "person": self.person,
            "appid": appid,
            "scope": "jscode",
            "issued": time.monotonic(),
            "used": False,
        }
        return code

    def expire(self, code: str) -> None:
        self.codes[code]["issued"] -= CODE_SECONDS + 1

    def access_token(self, query: dict) -> dict:
        if self.error is not None:
            error, self.error = self.error, None
            return error
        appid = query.get("appid", "")
        if self.apps.get(appid) != query.get("secret") or query.get("grant_type") != "authorization_code":
            return {"errcode": 40125, "errmsg": "invalid appsecret, rid: 1"}
        grant = self.codes.get(query.get("code", ""))
        if grant is None or grant["appid"] != appid or time.monotonic() - grant["issued"] > CODE_SECONDS:
            return {"errcode": 40029, "errmsg": "invalid code, rid: 2"}
        if grant["used"]:
            return {"errcode": 40163, "errmsg": "code been used, rid: 3"}
        grant["used"] = True
        person: Person = grant["person"]
        token = secrets.token_hex(16)
        self.tokens[token] = (person, appid, grant["scope"])
        answer = {
            "access_token": token,
            "expires_in": 7200,
            "refresh_token": secrets.token_hex(16),
            "openid": person.openid(appid),
            "scope": grant["scope"],
        }
        if person.unionid:  # given with any scope once the app is linked to the open-platform account
            answer["unionid"] = person.unionid
        return answer

    def userinfo(self, query: dict) -> dict:
        found = self.tokens.get(query.get("access_token", ""))
        if found is None:
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        person, appid, scope = found
        if scope == "snsapi_base":
            return {"errcode": 48001, "errmsg": "api unauthorized"}
        if query.get("openid") != person.openid(appid):
            return {"errcode": 40003, "errmsg": "invalid openid"}
        info = {"openid": person.openid(appid), "nickname": person.nickname, "sex": 0, "headimgurl": "https://x/0"}
        if person.unionid:
            info["unionid"] = person.unionid
        return info

    def jscode2session(self, query: dict) -> dict:
        if self.error is not None:
            error, self.error = self.error, None
            return error
        appid = query.get("appid", "")
        if self.apps.get(appid) != query.get("secret") or query.get("grant_type") != "authorization_code":
            return {"errcode": 40125, "errmsg": "invalid appsecret, rid: 4"}
        grant = self.codes.get(query.get("js_code", ""))
        if grant is None or grant["appid"] != appid or time.monotonic() - grant["issued"] > CODE_SECONDS:
            return {"errcode": 40029, "errmsg": "invalid code, rid: 5"}
        if grant["used"]:
            return {"errcode": 40163, "errmsg": "code been used, rid: 6"}
        grant["used"] = True
        person: Person = grant["person"]
        session_key = secrets.token_urlsafe(18)
        self.session_keys.append(session_key)
        answer = {"openid": person.openid(appid), "session_key": session_key}
        if person.unionid:
            answer["unionid"] = person.unionid
        return answer

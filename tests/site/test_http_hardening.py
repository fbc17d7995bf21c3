"""Only the methods the site uses are answered, the stack names no software, every cookie is
Secure under production settings, and one address cannot try a password on many accounts without being stopped."""

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD, UserFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "PROPFIND", "FOO"])
@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/wishes/new/", "/admin/", "/me/"])
def test_other_methods_answer_405(client, method, path):
    response = client.generic(method, path)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, POST"
    assert b"<html" not in response.content  # not the page


@pytest.mark.django_db
def test_every_cookie_is_secure_under_production_settings(client, member_user, settings):
    assert not settings.DEBUG  # the test settings are the production ones, made fast
    responses = [
        client.get(reverse("login")),  # csrftoken
        client.post(reverse("set_language"), {"language": "en", "next": "/"}),  # django_language
        client.post(reverse("login"), {"username": member_user.username, "password": DEFAULT_PASSWORD}),  # sessionid
    ]
    cookies = {name: morsel for r in responses for name, morsel in r.cookies.items()}
    assert {"csrftoken", "django_language", "sessionid"} <= set(cookies)
    for name, morsel in cookies.items():
        assert morsel["secure"], f"{name} is not Secure"
        assert morsel["samesite"] in ("Lax", "Strict"), name
    assert cookies["sessionid"]["httponly"] and cookies["django_language"]["httponly"]


@pytest.mark.django_db
@pytest.mark.parametrize("login_url", ["/accounts/login/", "/admin/login/"])
def test_one_address_cannot_spray_a_password_over_many_accounts(login_url, settings):
    """30 failed sign-ins from one address, each for another account, stop every further sign-in from it — the
    right password of a real account included — while another address signs in as usual."""
    cache.clear()
    settings.SIGN_IN_IP_LIMIT = (30, 900)
    victim = UserFactory(username="victim", is_staff=True)
    spray = Client(REMOTE_ADDR="203.0.113.7")
    for n in range(30):
        response = spray.post(login_url, {"username": f"user{n}", "password": "Password1!"})
        assert response.status_code == 200, n  # the form again, with its message
    refused = spray.post(login_url, {"username": "victim", "password": DEFAULT_PASSWORD})
    assert refused.status_code == 429 and "来自这个网络的登录已暂停" in refused.content.decode()
    assert int(refused["Retry-After"]) > 0
    elsewhere = Client(REMOTE_ADDR="198.51.100.9")
    assert elsewhere.post(login_url, {"username": victim.username, "password": DEFAULT_PASSWORD}).status_code == 302
    assert spray.get(login_url).status_code == 200  # reading the page is not refused


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_with_the_deploy_config_sends_no_server_header(tmp_path):
    app = tmp_path / "hello_app.py"
    app.write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'ok']\n"
    )
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"), "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "--chdir", str(tmp_path), "hello_app:app"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    headers = response.headers
                    break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert response.status == 200
        assert "Server" not in headers, headers
    finally:
        proc.terminate()
        proc.wait(timeout=10)

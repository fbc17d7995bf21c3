"""Security headers (docs/security.md, item 4): CSP without inline script or style, HSTS, nosniff, referrer policy,
frame denial, COOP — on public, member and admin pages; and templates that need no inline code."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import login_in_browser
from tests.factories import DEFAULT_PASSWORD, UserFactory

ROOT = Path(settings.BASE_DIR)
PAGES = ["/", "/accounts/login/", "/wishes/", "/wishes/new/", "/wishes/track/", "/projects/", "/healthz"]


def directives(header: str) -> dict[str, list[str]]:
    parts = [part.strip().split() for part in header.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_public_pages_send_the_strict_policy_and_headers(client, path):
    response = client.get(path, secure=True)
    assert response.status_code == 200, path
    csp = directives(response["Content-Security-Policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert "style-src-attr" not in csp
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


@pytest.mark.django_db
def test_member_pages_and_errors_send_them_too(client, member_user):
    client.force_login(member_user)
    for path, status in (("/me/inbox/", 200), ("/no-such-page/", 404)):
        response = client.get(path, secure=True)
        assert response.status_code == status, path
        assert directives(response["Content-Security-Policy"])["script-src"] == ["'self'"]
        assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_the_admin_may_use_style_attributes_and_nothing_else_inline(admin_client):
    response = admin_client.get("/admin/", secure=True)
    assert response.status_code == 200
    csp = directives(response["Content-Security-Policy"])
    assert csp["style-src-attr"] == ["'unsafe-inline'"]  # admin add-ons' style="…" attributes
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_the_header_built_once_follows_the_admin_the_settings_and_a_views_own_policy(admin_client, settings):
    """volunteer_platform/middleware.py builds the header once per process for the site and once for the admin:
    each answer still gets its own policy, a settings change (a deployment's, a test's) is seen at once, and a view
    that asks for a policy of its own (django-csp's decorators) or a nonce gets what it asked for."""
    from csp.constants import NONCE, SELF
    from csp.decorators import csp_update
    from django.http import HttpResponse
    from django.test import RequestFactory

    from volunteer_platform.middleware import CSPMiddleware

    site, admin = (admin_client.get(path, secure=True)["Content-Security-Policy"] for path in ("/", "/admin/"))
    assert "style-src-attr" not in directives(site) and "style-src-attr" in directives(admin)
    assert admin_client.get("/projects/", secure=True)["Content-Security-Policy"] == site
    assert admin_client.get("/admin/members/", secure=True)["Content-Security-Policy"] == admin

    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {**settings.CONTENT_SECURITY_POLICY["DIRECTIVES"], "img-src": ["'self'"]}
    }
    assert directives(admin_client.get("/", secure=True)["Content-Security-Policy"])["img-src"] == ["'self'"]

    middleware = CSPMiddleware(csp_update({"img-src": "https://map.example"})(lambda request: HttpResponse()))
    answer = middleware(RequestFactory().get("/"))
    assert directives(answer["Content-Security-Policy"])["img-src"] == ["'self'", "https://map.example"]

    def with_nonce(request):
        return HttpResponse(str(request.csp_nonce))

    directives_now = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {**directives_now, "script-src": [SELF, NONCE]}}

    answer = CSPMiddleware(with_nonce)(RequestFactory().get("/"))
    assert f"'nonce-{answer.content.decode()}'" in directives(answer["Content-Security-Policy"])["script-src"]


def test_project_templates_have_no_inline_script_or_style():
    """What the policy forbids must not be written: no <script> without src, no style attribute or <style>
    element, no on…= handler, no javascript: URL in any template of the project (the admin's own are Django's)."""
    offenders = []
    patterns = {
        "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
        "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
        "style element": re.compile(r"<style[\s>]", re.IGNORECASE),
        "event handler": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
        "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    }
    templates = [
        path
        for path in ROOT.rglob("*.html")
        if not any(part in {".venv", "var", "node_modules"} for part in path.relative_to(ROOT).parts)
        and "templates" in path.parts
    ]
    assert len(templates) > 50
    for path in templates:
        text = path.read_text(encoding="utf-8")
        for name, pattern in patterns.items():
            if pattern.search(text):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_pages_raise_no_csp_violation_in_a_browser(page, live_server):
    """Chromium enforces the policy: nothing on these pages is refused (styles and scripts all come from files)."""
    UserFactory(username="admin", is_staff=True, is_superuser=True)
    violations = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    for path in ("/", "/wishes/new/", "/wishes/track/", "/projects/", "/training/"):
        page.goto(path)
        page.wait_for_load_state("load")
    login_in_browser(page, "admin", DEFAULT_PASSWORD)
    for path in ("/admin/", "/admin/members/organization/", "/admin/members/member/", "/admin/audit/auditevent/"):
        page.goto(path)
        page.wait_for_load_state("load")
        assert page.locator("#content").count() == 1, path
    assert violations == []
    # The control: an inline style on a site page is refused, and the listener above hears it.
    page.goto("/")
    page.evaluate("document.body.setAttribute('style', 'background: red')")
    page.wait_for_timeout(200)
    assert len(violations) == 1 and "style" in violations[0]

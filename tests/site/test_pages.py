"""The site's own pages: home, sign-in and sign-out, error pages, language switching."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import Client
from django.views import defaults

from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.queries import assert_get_queries

pytestmark = pytest.mark.django_db

BASE_DIR = Path(settings.BASE_DIR)
TITLE_ZH = "党员志愿服务平台"
TITLE_EN = "Party Member Volunteer Service Platform"


def h1(response) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", response.content.decode(), re.S)
    assert match, "no <h1> on the page"
    return match.group(1).strip()


# --- Home -------------------------------------------------------------------------------------------------------


def test_home_is_in_chinese_by_default(anonymous):
    response = anonymous.get("/")

    assert response.status_code == 200
    assert '<html lang="zh-hans">' in response.content.decode()
    assert h1(response) == TITLE_ZH
    for audience in ("居民", "党员", "书记"):
        assert f">{audience}</h2>" in response.content.decode()
    assert 'id="nav-login"' in response.content.decode()


def test_home_is_in_english_with_accept_language(anonymous):
    response = anonymous.get("/", headers={"accept-language": "en-GB,en;q=0.9"})

    assert '<html lang="en">' in response.content.decode()
    assert h1(response) == TITLE_EN
    assert ">Residents</h2>" in response.content.decode()


def test_home_is_in_english_with_the_language_cookie(anonymous):
    anonymous.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = anonymous.get("/", headers={"accept-language": "zh-CN"})

    assert h1(response) == TITLE_EN


def test_language_switch_sets_the_cookie_and_returns_to_the_page(anonymous):
    response = anonymous.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert anonymous.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert h1(anonymous.get("/")) == TITLE_EN


def test_language_switcher_names_each_language_in_itself_and_marks_the_current_one(anonymous):
    html = anonymous.get("/").content.decode()

    assert re.search(r'value="zh-hans"[^>]*class="btn btn-light active"\s+aria-pressed="true">简体中文<', html)
    assert re.search(r'value="en"[^>]*class="btn btn-outline-light"\s+aria-pressed="false">English<', html)


def test_home_costs_no_query_for_a_visitor_once_the_figures_are_cached(anonymous):
    # No session cookie: neither the user nor the messages need the session table. A cold cache computes the public
    # figures: the counted records of the year (members serving, hours) and the wishes (fulfilled, satisfaction);
    # and reads the newest public news (news.selectors.latest_public_news, kept in the cache too).
    assert_get_queries(anonymous, "/", 3)
    assert_get_queries(anonymous, "/", 0)


def test_home_for_a_member_shows_the_name_and_no_admin(client, member_user):
    client.force_login(member_user)

    # 1. the user (2–3. the public figures, 4. the newest public news, cached for the next request); the session
    # comes from the cache
    assert_get_queries(client, "/", 4)
    assert_get_queries(client, "/", 1)
    html = client.get("/").content.decode()
    assert '<span class="navbar-text text-white" id="nav-user">member</span>' in html
    assert 'id="logout-form"' in html
    assert "/admin/" not in html
    assert 'id="nav-manage"' not in html


def test_home_for_staff_shows_the_secretaries_menu(client, platform_admin):
    client.force_login(platform_admin)

    html = client.get("/").content.decode()

    assert 'id="nav-manage"' in html
    assert 'href="/admin/"' in html


def _card_links(html: str, card: str) -> list[str]:
    """The addresses of the buttons of a home page card (`#home-members`, `#home-secretaries`), in order."""
    start = html.index(f'id="{card}"')
    return re.findall(r'<a class="btn[^"]*" href="([^"]+)"', html[start : html.index("</section>", start)])


def test_home_cards_offer_each_visitor_where_to_go(client, member_a, secretary_a):
    """The 党员 card offers more than the inbox, the 书记 card more than the admin, and a card with nothing to
    offer (书记 for a member who is not one) is not shown at all."""
    anonymous = client.get("/").content.decode()
    assert _card_links(anonymous, "home-members") == ["/accounts/login/", "/projects/"]
    assert _card_links(anonymous, "home-secretaries") == ["/accounts/login/"]

    client.force_login(member_a.user)
    member = client.get("/").content.decode()
    assert _card_links(member, "home-members") == ["/me/", "/projects/", "/wishes/", "/me/inbox/"]
    assert 'id="card-secretaries"' not in member and 'id="home-secretaries"' not in member

    client.force_login(secretary_a)
    secretary = client.get("/").content.decode()
    assert _card_links(secretary, "home-secretaries") == ["/dashboard/", "/wishes/review/", "/admin/"]
    assert _card_links(secretary, "home-members")[0] == "/me/"


def test_full_name_is_preferred_to_the_username(client):
    user = UserFactory(username="wz", first_name="Wei", last_name="Zhang")
    client.force_login(user)

    assert 'id="nav-user">Wei Zhang</span>' in client.get("/").content.decode()


def test_messages_are_shown_as_bootstrap_alerts(client, member_user):
    from django.contrib import messages
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.test import RequestFactory

    from volunteer_platform.views import home

    request = RequestFactory().get("/")
    request.user = member_user
    request.session = client.session
    request._messages = FallbackStorage(request)
    messages.error(request, "出错了")
    messages.success(request, "成功")

    html = home(request).content.decode()

    assert 'class="alert alert-danger alert-dismissible fade show"' in html
    assert 'class="alert alert-success alert-dismissible fade show"' in html


# --- Sign-in and sign-out ---------------------------------------------------------------------------------------


def test_login_page_renders_the_crispy_form(anonymous):
    response = anonymous.get("/accounts/login/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<form id="login-form" method="post" action="/accounts/login/">' in html
    assert 'name="username"' in html and 'name="password"' in html
    assert re.search(r'class="[^"]*\bform-control\b[^"]*"[^>]*id="id_username"', html)  # crispy-bootstrap5
    assert "?next=" not in html  # the sign-in link of the login page does not point back to itself


def test_wrong_password_shows_an_error_on_the_form(anonymous, member_user):
    response = anonymous.post("/accounts/login/", {"username": "member", "password": "wrong"})

    assert response.status_code == 200
    assert "alert-danger" in response.content.decode()
    assert "_auth_user_id" not in anonymous.session


def test_sign_in_returns_home_and_to_next(anonymous, member_user):
    response = anonymous.post("/accounts/login/", {"username": "member", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"

    anonymous.logout()
    response = anonymous.post(
        "/accounts/login/", {"username": "member", "password": DEFAULT_PASSWORD, "next": "/healthz"}
    )
    assert response["Location"] == "/healthz"


def test_sign_in_link_carries_the_current_page(anonymous):
    html = anonymous.get("/projects/", QUERY_STRING="seats=on").content.decode()

    assert 'href="/accounts/login/?next=/projects/%3Fseats%3Don"' in html
    # A parameter the page does not read is not part of it (core/page_params.py).
    assert 'href="/accounts/login/?next=/"' in anonymous.get("/", QUERY_STRING="a=1").content.decode()


def test_logout_by_post_returns_home_signed_out(client, member_user):
    client.force_login(member_user)

    assert client.get("/accounts/logout/").status_code == 405  # Django 5: sign-out is a POST
    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert "_auth_user_id" not in client.session
    assert 'id="nav-login"' in client.get("/").content.decode()


# --- Error pages ------------------------------------------------------------------------------------------------


def test_404_page_has_the_site_layout(anonymous):
    response = anonymous.get("/no-such-page/")

    html = response.content.decode()
    assert response.status_code == 404
    assert 'id="site-nav"' in html
    assert "vendor/bootstrap/css/bootstrap.min.css" in html
    assert h1(response) == "页面不存在"


def test_404_page_in_english(anonymous):
    response = anonymous.get("/no-such-page/", headers={"accept-language": "en"})

    assert h1(response) == "Page not found"


def test_500_page_renders_without_a_request_context(rf):
    # server_error renders 500.html with an empty Context: no user, no csrf token, no context processors.
    response = defaults.server_error(rf.get("/"))

    html = response.content.decode()
    assert response.status_code == 500
    assert "vendor/bootstrap/css/bootstrap.min.css" in html
    assert TITLE_ZH in html
    assert h1(response) == "服务器出错"


def test_400_page_has_the_site_style(rf):
    response = defaults.bad_request(rf.get("/"), SuspiciousOperation())

    assert response.status_code == 400
    assert "vendor/bootstrap/css/bootstrap.min.css" in response.content.decode()
    assert h1(response) == "请求有误"


def test_403_page_has_the_site_layout(rf):
    request = rf.get("/")
    request.user = AnonymousUser()

    response = defaults.permission_denied(request, PermissionDenied())

    assert response.status_code == 403
    assert 'id="site-nav"' in response.content.decode()
    assert h1(response) == "无权访问"


def test_csrf_failure_page_explains_what_to_do():
    client = Client(enforce_csrf_checks=True)

    response = client.post("/i18n/setlang/", {"language": "en"})

    assert response.status_code == 403
    assert h1(response) == "页面已过期"
    assert 'id="site-nav"' in response.content.decode()


# --- Templates are ready for a Content-Security-Policy ----------------------------------------------------------

SITE_TEMPLATES = sorted(
    [*(BASE_DIR / "templates").rglob("*.html"), *(BASE_DIR / "volunteer_platform" / "templates").rglob("*.html")]
)


@pytest.mark.parametrize("template", SITE_TEMPLATES, ids=lambda p: str(p.relative_to(BASE_DIR)))
def test_templates_have_no_inline_script_handler_or_external_url(template):
    text = template.read_text()

    assert not re.search(r"<script(?![^>]*\bsrc=)", text), "inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler"
    assert not re.search(r"\bstyle\s*=", text), "inline style"
    assert not re.search(r"https?://", text), "external URL"

"""The middleware's short ways (core/middleware.py): what each skips must not change an answer.

- NulInQueryMiddleware parses the query string only when it holds "%00" or a raw NUL: every spelling of a NUL in a
  name or a value is still a 400, and a query that merely shows the text "%00" (sent as %2500) is not.
- LocaleMiddleware does not look for a language in the path (no URL of ours is prefixed with one): the language
  still comes from the cookie, then Accept-Language, then LANGUAGE_CODE, with the same headers as Django's.
"""

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", ["q=%00", "%00=1", "q=a%00b", "page=1&q=%00", "q=%00%00"])
def test_a_nul_anywhere_in_the_query_is_a_bad_request(client, query):
    assert client.get(f"{reverse('projects:project_list')}?{query}").status_code == 400


@pytest.mark.parametrize("query", ["", "q=%2500", "q=100", "q=%E4%BD%A0%E5%A5%BD"])
def test_a_query_without_a_nul_is_answered(client, query):
    assert client.get(f"{reverse('projects:project_list')}?{query}").status_code == 200


@pytest.mark.parametrize(
    ("cookie", "accept", "expected"),
    [
        ("", "", "zh-hans"),
        ("", "en-US,en;q=0.9", "en"),
        ("en", "zh-CN,zh;q=0.9", "en"),
        ("zh-hans", "en", "zh-hans"),
        ("", "fr-FR,fr;q=0.9", "zh-hans"),
        ("xx", "", "zh-hans"),
    ],
)
def test_the_language_comes_from_the_cookie_then_the_browser(client, cookie, accept, expected):
    if cookie:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = cookie
    response = client.get(reverse("demands:wall"), HTTP_ACCEPT_LANGUAGE=accept)
    assert response.status_code == 200
    assert response.headers["Content-Language"] == expected
    assert "Accept-Language" in response.headers["Vary"]
    assert f'<html lang="{expected}"' in response.content.decode()


@pytest.mark.parametrize("path", ["/en/", "/zh-hans/projects/", "/en/projects/"])
def test_a_language_in_the_path_is_not_a_page(client, path):
    """No URL is prefixed with a language, so such a path is unknown, whatever the middleware skipped."""
    assert client.get(path, HTTP_ACCEPT_LANGUAGE="en").status_code == 404

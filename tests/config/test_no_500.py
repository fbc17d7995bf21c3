"""No request answers 500: every URL pattern of the project, for each persona, with unknown ids where it takes any.

The patterns come from the URL resolver, so a new view is covered without touching this file. Objects that do not
exist must answer 404 (or a redirect to sign in), never an error page.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

PLACEHOLDERS = {"int": "999999", "str": "nope", "slug": "nope", "uuid": "00000000-0000-0000-0000-000000000000"}
# Endpoints whose GET is legitimately not a page (they answer 405 to GET, or stream a file).
SKIP_NAMES = {"set_language", "logout"}


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.name


def _concrete(route: str) -> str | None:
    """A path for `route` with every converter filled; None for regex routes we cannot fill."""
    if route.startswith("^") or "(?P" in route:
        return None
    path = re.sub(r"<(?:(\w+):)?\w+>", lambda m: PLACEHOLDERS.get(m.group(1) or "str", "nope"), route)
    return "/" + path


def project_paths():
    paths = set()
    for route, name in _walk(get_resolver().url_patterns):
        if name in SKIP_NAMES:
            continue
        path = _concrete(route)
        if path is not None:
            paths.add(path)
    return sorted(paths)


PERSONAS = ["anonymous", "member_a", "secretary_a", "platform_admin"]


@pytest.fixture
def signed_in(request, client, org_tree):
    def as_persona(persona):
        if persona != "anonymous":
            persona_user = request.getfixturevalue(persona)
            client.force_login(getattr(persona_user, "user", persona_user))
        return client

    return as_persona


@pytest.mark.parametrize("persona", PERSONAS)
def test_no_page_answers_500(persona, signed_in):
    client = signed_in(persona)
    client.raise_request_exception = False
    failures = []
    paths = project_paths()
    assert len(paths) > 50  # the walk found the project's routes
    for path in paths:
        response = client.get(path)
        if response.status_code >= 500:
            failures.append(f"{path} → {response.status_code}")
    assert not failures, f"{persona}: " + ", ".join(failures)

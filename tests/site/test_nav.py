"""The navigation bar's audience menus are rendered once per language and kind of visitor
(volunteer_platform/templatetags/site_nav.py): each kind still sees exactly its own links, in its language."""

import pytest
from django.test import Client

from tests.factories import UserFactory
from volunteer_platform.templatetags import site_nav

STAFF_LINK = 'id="nav-secretaries"'
MEMBER_LINK = 'href="/me/records/"'
LOGIN_LINK = "党员登录"


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def kept(settings):
    """The process's kept menus, emptied; DEBUG off so they are kept."""
    settings.DEBUG = False
    site_nav._rendered.clear()
    return site_nav._rendered


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _nav(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    return page[page.index('id="site-nav"') : page.index('id="language-form"')]


@pytest.mark.parametrize("first", ["anonymous", "member", "staff"])
def test_each_kind_of_visitor_sees_its_own_menus_whoever_came_first(first, member_user, staff_user, kept):
    clients = {"anonymous": Client(), "member": _signed_in(member_user), "staff": _signed_in(staff_user)}
    order = [first, *[k for k in clients if k != first]]
    navs = {kind: _nav(clients[kind]) for kind in order}
    navs_again = {kind: _nav(clients[kind]) for kind in reversed(order)}
    assert navs == navs_again
    assert LOGIN_LINK in navs["anonymous"] and MEMBER_LINK not in navs["anonymous"]
    assert STAFF_LINK not in navs["anonymous"]
    assert MEMBER_LINK in navs["member"] and STAFF_LINK not in navs["member"] and LOGIN_LINK not in navs["member"]
    assert MEMBER_LINK in navs["staff"] and STAFF_LINK in navs["staff"]
    assert len(kept) == 3


def test_the_menus_follow_the_language(member_user, kept):
    client = _signed_in(member_user)
    assert "我的积分" in _nav(client)
    client.cookies["django_language"] = "en"
    english = _nav(client)
    assert "我的积分" not in english and "My points" in english
    assert len(kept) == 2


def test_under_debug_the_menus_are_rendered_every_time(member_user, kept, settings):
    settings.DEBUG = True
    client = _signed_in(member_user)
    first, second = _nav(client), _nav(client)
    assert first == second and MEMBER_LINK in first
    assert not kept

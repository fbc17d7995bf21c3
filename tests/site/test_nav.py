"""The navigation bar's menus are grouped by what a person does (心愿, 服务, 我的, 管理) and rendered once per
language and kind of visitor (volunteer_platform/templatetags/site_nav.py): each kind still sees exactly its own
sections and links, in its language, and never an empty section."""

import re

import pytest
from django.test import Client

from tests.factories import UserFactory
from volunteer_platform.templatetags import site_nav

STAFF_LINK = 'id="nav-manage"'
MEMBER_LINK = 'href="/me/records/"'
MINE = 'id="nav-mine"'


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
    assert MEMBER_LINK not in navs["anonymous"] and MINE not in navs["anonymous"]
    assert STAFF_LINK not in navs["anonymous"]
    assert MEMBER_LINK in navs["member"] and MINE in navs["member"] and STAFF_LINK not in navs["member"]
    assert MEMBER_LINK in navs["staff"] and STAFF_LINK in navs["staff"]
    assert len(kept) == 3


def _sections(nav: str) -> dict[str, list[str]]:
    """Each menu's id and the addresses of its links, in order."""
    found = {}
    for block in nav.split('<li class="nav-item dropdown">')[1:]:
        section = re.search(r'id="(nav-[a-z]+)"', block).group(1)
        found[section] = re.findall(r'class="dropdown-item" href="([^"]+)"', block)
    return found


def test_the_menus_are_grouped_by_work_and_none_is_empty(member_user, staff_user, kept):
    anonymous = _sections(_nav(Client()))
    member = _sections(_nav(_signed_in(member_user)))
    staff = _sections(_nav(_signed_in(staff_user)))

    assert list(anonymous) == ["nav-wishes", "nav-service"]
    assert list(member) == ["nav-wishes", "nav-service", "nav-mine"]
    assert list(staff) == ["nav-wishes", "nav-service", "nav-mine", "nav-manage"]
    for kind in (anonymous, member, staff):
        assert all(kind.values()), kind  # no section without links
    # The wall and the projects are for everyone, under what one does with them, not under 居民.
    assert "/wishes/" in anonymous["nav-wishes"] and "/projects/" in anonymous["nav-service"]
    assert "/wishes/mine/" in member["nav-wishes"] and "/wishes/mine/" not in anonymous["nav-wishes"]
    assert "/me/activities/" in member["nav-service"] and "/training/" in member["nav-service"]
    assert member["nav-mine"] == ["/me/", "/me/records/", "/me/points/", "/rewards/", "/me/inbox/"]
    assert staff["nav-manage"][0] == "/dashboard/" and "/wishes/review/" in staff["nav-manage"]
    assert "/admin/" in staff["nav-manage"]
    # The news are for everyone; writing to all members of one's organizations is the secretaries' work.
    assert "/news/" in anonymous["nav-service"] and "/dashboard/messages/new/" in staff["nav-manage"]
    assert "/dashboard/messages/new/" not in member["nav-service"] + member["nav-mine"]


def test_an_anonymous_visitor_is_offered_to_sign_in(client, db):
    page = client.get("/projects/").content.decode()
    assert 'id="nav-login"' in page and 'href="/accounts/login/?next=/projects/"' in page


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

"""The personas every test talks about, loaded by tests/conftest.py (`pytest_plugins`) for the whole suite.

The street: 幸福街道党工委 → 东社区党委 → 东一支部 (branch A) and 西社区党委 → 西一支部 (branch B); each branch
serves a village community with one grid. `secretary_a` / `secretary_b` are the *users* of the branch secretaries,
`east_secretary` the user of the east committee's secretary (sees branch A from above), `member_a` / `member_b` are
*Member* rows of plain members (their `.user` signs in). `platform_admin` is a superuser, `member_user` a bare
account, `staff_without_scope` a staff account that manages no organization, `anonymous` a visitor's client.
"""

import os
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import time_machine
from django.db import transaction

from members import services
from members.models import Organization
from tests.factories import UserFactory
from tests.members.factories import CommunityFactory, GridFactory, MemberFactory, OrganizationFactory


def build_org_tree() -> SimpleNamespace:
    street = OrganizationFactory(name="幸福街道党工委", type=Organization.Type.WORKING_COMMITTEE)
    east = OrganizationFactory(name="东社区党委", type=Organization.Type.COMMITTEE, parent=street)
    west = OrganizationFactory(name="西社区党委", type=Organization.Type.COMMITTEE, parent=street)
    branch_a = OrganizationFactory(name="东一支部", parent=east)
    branch_b = OrganizationFactory(name="西一支部", parent=west)
    community_a = CommunityFactory(name="东风村", organization=branch_a)
    community_b = CommunityFactory(name="西岭村", organization=branch_b)
    return SimpleNamespace(
        street=street,
        east=east,
        west=west,
        branch_a=branch_a,
        branch_b=branch_b,
        community_a=community_a,
        community_b=community_b,
        grid_a=GridFactory(name="一网格", community=community_a),
        grid_b=GridFactory(name="一网格", community=community_b),
    )


def make_secretary(organization, username: str, name: str, home=None):
    """A member of `home` (default: the organization itself) made the organization's secretary; returns the user."""
    member = MemberFactory(user__username=username, name=name, organization=home or organization)
    services.organization_update(
        organization=organization,
        actor=None,
        name=organization.name,
        type=organization.type,
        secretary=member,
    )
    member.user.refresh_from_db()
    return member.user


# How each persona is made, from the org tree (the fixtures below and build_street both make them here).
_MAKERS = {
    "secretary_a": lambda tree: make_secretary(tree.branch_a, "secretary_a", "王书记"),
    "secretary_b": lambda tree: make_secretary(tree.branch_b, "secretary_b", "赵书记"),
    "east_secretary": lambda tree: make_secretary(tree.east, "east_secretary", "钱书记", home=tree.branch_a),
    "member_a": lambda tree: MemberFactory(user__username="member_a", name="李明", organization=tree.branch_a),
    "member_b": lambda tree: MemberFactory(user__username="member_b", name="周红", organization=tree.branch_b),
    "staff_without_scope": lambda tree: UserFactory(username="staff_only", is_staff=True),
    "platform_admin": lambda tree: UserFactory(username="admin", is_staff=True, is_superuser=True),
    "member_user": lambda tree: UserFactory(username="member"),
}


def build_street() -> SimpleNamespace:
    """Every persona at once, made as their fixtures make them, for rows a whole module shares (`module_rows`):
    `street.org_tree`, `street.secretary_a`, … `street.member_user`."""
    tree = build_org_tree()
    return SimpleNamespace(org_tree=tree, **{name: make(tree) for name, make in _MAKERS.items()})


@contextmanager
def module_rows(django_db_blocker):
    """For a module-scoped fixture whose rows the module's tests share (a permission table reads one scene many
    times): rows made inside the block stay for the module; each test runs in a savepoint of this transaction, so
    what one test writes never reaches the next, and all is rolled back after the module. The rows are made at the
    time the tests run at (with TESTS_NOW, a minute before it). The module's tests must take the personas from here,
    not from the fixtures, which would make them a second time."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            instant = os.environ.get("TESTS_NOW", "")
            if instant:
                # A minute before: every test starts again at TESTS_NOW, and must find the rows already made.
                made_at = datetime.fromisoformat(instant).astimezone(UTC) - timedelta(minutes=1)
                with time_machine.travel(made_at, tick=True):
                    yield
            else:
                yield
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@contextmanager
def street_with(django_db_blocker, scene):
    """`module_rows` holding every persona (`build_street`) and what `scene(street)` makes, as `street.scene`."""
    with module_rows(django_db_blocker):
        street = build_street()
        street.scene = scene(street)
        yield street


def sign_in_as(client, persona: str, street):
    """`client` signed in as the street's `persona` ("member" is member A; "anonymous" stays signed out)."""
    if persona != "anonymous":
        user = getattr(street, "member_a" if persona == "member" else persona)
        client.force_login(getattr(user, "user", user))
    return client


@pytest.fixture
def org_tree(db):
    return build_org_tree()


@pytest.fixture
def secretary_a(org_tree):
    return _MAKERS["secretary_a"](org_tree)


@pytest.fixture
def secretary_b(org_tree):
    return _MAKERS["secretary_b"](org_tree)


@pytest.fixture
def east_secretary(org_tree):
    """Secretary of 东社区党委 (a member of branch A): sees branch A's subtree from above, not the west."""
    return _MAKERS["east_secretary"](org_tree)


@pytest.fixture
def member_a(org_tree):
    return _MAKERS["member_a"](org_tree)


@pytest.fixture
def member_b(org_tree):
    return _MAKERS["member_b"](org_tree)


@pytest.fixture
def staff_without_scope(db):
    """A staff account that manages no organization: the admin lets it in, the members app shows it nothing."""
    return _MAKERS["staff_without_scope"](None)


@pytest.fixture
def platform_admin(db):
    return _MAKERS["platform_admin"](None)


@pytest.fixture
def member_user(db):
    return _MAKERS["member_user"](None)


@pytest.fixture
def anonymous(client):
    return client

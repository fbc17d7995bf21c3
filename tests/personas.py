"""The personas every test talks about, loaded by tests/conftest.py (`pytest_plugins`) for the whole suite.

The street: 幸福街道党工委 → 东社区党委 → 东一支部 (branch A) and 西社区党委 → 西一支部 (branch B); each branch
serves a village community with one grid. `secretary_a` / `secretary_b` are the *users* of the branch secretaries,
`east_secretary` the user of the east committee's secretary (sees branch A from above), `member_a` / `member_b` are
*Member* rows of plain members (their `.user` signs in). `platform_admin` is a superuser, `member_user` a bare
account, `staff_without_scope` a staff account that manages no organization, `anonymous` a visitor's client.
"""

from types import SimpleNamespace

import pytest

from members import services
from members.models import Organization
from tests.factories import UserFactory
from tests.members.factories import CommunityFactory, GridFactory, MemberFactory, OrganizationFactory


@pytest.fixture
def org_tree(db):
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


@pytest.fixture
def secretary_a(org_tree):
    return make_secretary(org_tree.branch_a, "secretary_a", "王书记")


@pytest.fixture
def secretary_b(org_tree):
    return make_secretary(org_tree.branch_b, "secretary_b", "赵书记")


@pytest.fixture
def east_secretary(org_tree):
    """Secretary of 东社区党委 (a member of branch A): sees branch A's subtree from above, not the west."""
    return make_secretary(org_tree.east, "east_secretary", "钱书记", home=org_tree.branch_a)


@pytest.fixture
def member_a(org_tree):
    return MemberFactory(user__username="member_a", name="李明", organization=org_tree.branch_a)


@pytest.fixture
def member_b(org_tree):
    return MemberFactory(user__username="member_b", name="周红", organization=org_tree.branch_b)


@pytest.fixture
def staff_without_scope(db):
    """A staff account that manages no organization: the admin lets it in, the members app shows it nothing."""
    return UserFactory(username="staff_only", is_staff=True)


@pytest.fixture
def platform_admin(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def member_user(db):
    return UserFactory(username="member")


@pytest.fixture
def anonymous(client):
    return client

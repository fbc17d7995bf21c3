"""Scope, defined once: who sees which organizations, communities, members and records."""

import pytest

from members import selectors, services
from members.models import Organization
from tests.members.factories import MemberFactory, OrganizationFactory, ServiceRecordFactory

pytestmark = pytest.mark.django_db


def test_branch_secretary_sees_their_branch_only(org_tree, secretary_a, member_a, member_b):
    assert set(selectors.visible_organizations(secretary_a)) == {org_tree.branch_a}
    assert set(selectors.visible_communities(secretary_a)) == {org_tree.community_a}
    assert set(selectors.visible_grids(secretary_a)) == {org_tree.grid_a}
    secretary_member = secretary_a.member
    assert set(selectors.visible_members(secretary_a)) == {member_a, secretary_member}
    assert member_b not in selectors.visible_members(secretary_a)


def test_parent_level_secretary_sees_the_children(org_tree, east_secretary, secretary_a, member_a, member_b):
    group = OrganizationFactory(name="第一党小组", type=Organization.Type.GROUP, parent=org_tree.branch_a)
    assert set(selectors.visible_organizations(east_secretary)) == {org_tree.east, org_tree.branch_a, group}
    assert member_a in selectors.visible_members(east_secretary)
    assert member_b not in selectors.visible_members(east_secretary)


def test_platform_admin_sees_everything(platform_admin, org_tree, member_a, member_b):
    assert selectors.visible_organizations(platform_admin).count() == Organization.objects.count() == 5
    assert set(selectors.visible_members(platform_admin)) == {member_a, member_b}


def test_others_see_nothing(member_user, staff_without_scope, member_a):
    from django.contrib.auth.models import AnonymousUser

    for user in (AnonymousUser(), member_user, member_a.user, staff_without_scope):
        assert not selectors.visible_organizations(user).exists()
        assert not selectors.visible_members(user).exists()
        assert not selectors.visible_service_records(user).exists()


def test_an_inactive_account_sees_nothing(secretary_a):
    secretary_a.is_active = False
    assert not selectors.visible_members(secretary_a).exists()


def test_org_admins_see_like_secretaries(org_tree, member_b, member_a):
    services.organization_set_admins(organization=org_tree.west, users=[member_a.user], actor=None)
    assert set(selectors.visible_organizations(member_a.user)) == {org_tree.west, org_tree.branch_b}
    assert set(selectors.visible_members(member_a.user)) == {member_b}


def test_scope_follows_a_move(org_tree, secretary_b, member_a):
    """The scope is computed from paths at query time: moving branch A under the west moves it into view."""
    services.organization_update(
        organization=org_tree.west, actor=None, name="西社区党委", type="committee", secretary=secretary_b.member
    )
    assert member_a not in selectors.visible_members(secretary_b)
    services.organization_move(organization=org_tree.branch_a, new_parent=org_tree.west, actor=None)
    assert member_a in selectors.visible_members(secretary_b)


def test_records_are_seen_by_home_branch_and_recording_organization(org_tree, secretary_a, secretary_b, member_a):
    own = ServiceRecordFactory(member=member_a)
    # Member A served in the west village; branch B recorded it (谁组织谁记录).
    elsewhere = ServiceRecordFactory(member=member_a, recording_organization=org_tree.branch_b)
    assert set(selectors.visible_service_records(secretary_a)) == {own, elsewhere}
    assert set(selectors.visible_service_records(secretary_b)) == {elsewhere}
    assert set(selectors.verifiable_service_records(secretary_a)) == {own}
    assert set(selectors.verifiable_service_records(secretary_b)) == {elsewhere}


def test_residence_registrations_are_seen_by_both_sides(org_tree, secretary_a, secretary_b, member_a):
    registration = services.residence_register(member=member_a, community=org_tree.community_b, actor=None)
    assert list(selectors.visible_residence_registrations(secretary_a)) == [registration]
    assert list(selectors.visible_residence_registrations(secretary_b)) == [registration]
    # …but the community's side does not see the member's whole record.
    assert member_a not in selectors.visible_members(secretary_b)


def test_transfers_are_seen_by_both_organizations(org_tree, east_secretary, secretary_b, member_a):
    transfer = services.member_transfer(member=member_a, to_organization=org_tree.branch_b, actor=east_secretary)
    assert list(selectors.visible_transfers(east_secretary)) == [transfer]
    assert list(selectors.visible_transfers(secretary_b)) == [transfer]


def test_scope_is_a_subquery_not_an_extra_query(secretary_a, django_assert_num_queries):
    with django_assert_num_queries(1):
        list(selectors.visible_members(secretary_a))


def test_member_for(member_a, member_user):
    assert selectors.member_for(member_a.user) == member_a
    assert selectors.member_for(member_user) is None


def test_other_branches_members_are_not_counted(org_tree, secretary_a):
    MemberFactory.create_batch(3, organization=org_tree.branch_b)
    MemberFactory.create_batch(2, organization=org_tree.branch_a)
    assert selectors.visible_members(secretary_a).count() == 3  # two + the secretary


def test_an_inactive_secretary_keeps_no_scope(org_tree, secretary_a, member_a):
    from members.models import Member

    # Only possible by going around the services (which refuse it): the scope does not trust the title alone.
    Member.objects.filter(user=secretary_a).update(status=Member.Status.INACTIVE)
    assert not selectors.visible_members(secretary_a).exists()
    assert not selectors.is_organization_admin(secretary_a)

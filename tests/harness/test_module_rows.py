"""Rows a module shares (tests/personas.py: module_rows): every test sees them as made, and nothing one test
writes reaches another. Each test writes, and checks that the other's write is not there; the two run in one
process (tests/conftest.py sends a module using module_rows to one worker), so the second checks the first."""

import pytest

from members.models import Member, Organization
from tests.members.factories import OrganizationFactory
from tests.personas import build_street, module_rows

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with module_rows(django_db_blocker):
        yield build_street()


@pytest.mark.parametrize(("mine", "theirs"), [("甲", "乙"), ("乙", "甲")])
def test_a_write_stays_in_its_test(world, mine, theirs):
    assert Member.objects.get(pk=world.member_a.pk).name == "李明"
    assert not Organization.objects.filter(name__startswith="临时支部").exists(), "another test's write leaked"
    Member.objects.filter(pk=world.member_a.pk).update(name=f"李明{mine}")
    OrganizationFactory(name=f"临时支部{mine}", parent=world.org_tree.east)
    assert not Organization.objects.filter(name=f"临时支部{theirs}").exists()

"""members.demo.seed on its own, with a small street: a second run adds nothing, a number already registered is
skipped. The whole demo (`seed_demo`: the street of 300, its sign-ins, scaling by --members) is tested once in
tests/config/test_demo.py."""

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count

from members import demo
from members.models import (
    Community,
    Grid,
    Member,
    Organization,
    ResidenceRegistration,
    ServiceRecord,
    Tag,
    Team,
)
from tests.members.factories import MemberFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


def _counts() -> dict[str, object]:
    return {
        "organizations": Organization.objects.count(),
        "communities": Community.objects.count(),
        "grids": Grid.objects.count(),
        "users": User.objects.count(),
        "members": Member.objects.count(),
        "member history": Member.history.count(),
        "tags": Tag.objects.count(),
        "skill links": Member.skills.through.objects.count(),
        "teams": Team.objects.count(),
        "team members": Team.members.through.objects.count(),
        "registrations": sorted(ResidenceRegistration.objects.values_list("status").annotate(n=Count("pk"))),
        "records": sorted(ServiceRecord.objects.values_list("status").annotate(n=Count("pk"))),
        "secretaries": Organization.objects.filter(secretary__isnull=False).count(),
    }


def _demo_members():
    return Member.objects.filter(
        organization__path__startswith=Organization.objects.get(name=demo.STREET).path
    ) | Member.objects.filter(organization__name=demo.WORKPLACE[1])


def test_a_number_already_registered_is_skipped_and_made_up_for(db):
    MemberFactory(organization=OrganizationFactory(name="外单位支部"), phone=demo.generated_phone(0))
    demo.seed(members=20)
    assert _demo_members().count() == 20
    assert Member.objects.count() == 21


def test_a_second_run_changes_nothing(db):
    demo.seed(members=20)
    first = _counts()
    demo.seed(members=20)
    assert _counts() == first

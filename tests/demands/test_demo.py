"""The demo seed: wishes in every state for the demo communities, with or without members, idempotent."""

import pytest

from demands import demo
from demands.models import Household, MicroWish, Pairing, PairingVisit, ServiceOffer
from members.models import ServiceRecord
from tests.members.factories import MemberFactory

pytestmark = pytest.mark.django_db


def _snapshot():
    return (
        sorted(MicroWish.objects.values_list("community_id", "title", "state")),
        ServiceOffer.objects.count(),
        ServiceRecord.objects.filter(source="wish").count(),
        Household.objects.count(),
        Pairing.objects.count(),
        PairingVisit.objects.count(),
    )


def test_without_communities_it_adds_nothing(db):
    demo.seed()
    assert not MicroWish.objects.exists()


def test_without_members_only_unclaimed_states(org_tree, platform_admin):
    demo.seed()
    states = set(MicroWish.objects.values_list("state", flat=True))
    assert states == {"submitted", "verified", "published", "rejected", "withdrawn", "expired"}


def test_every_state_for_each_community_and_twice_is_the_same(org_tree, secretary_a, secretary_b):
    MemberFactory.create_batch(3, organization=org_tree.branch_a)
    MemberFactory.create_batch(3, organization=org_tree.branch_b)

    demo.seed()
    first = _snapshot()
    demo.seed()

    assert _snapshot() == first
    for community in (org_tree.community_a, org_tree.community_b):
        states = set(MicroWish.objects.filter(community=community).values_list("state", flat=True))
        assert states == {s.value for s in MicroWish.State}
    assert first[2] == 2  # one closed wish per community, its record verified
    assert ServiceRecord.objects.filter(source="wish", status="verified").count() == 2
    assert first[1] == 6 and first[3:] == (4, 4, 4)  # offers; households, pairings and a visit each
    waiting = MicroWish.objects.filter(offer_pending=True)
    assert waiting.count() == 2 and all(w.offer.member.organization.path for w in waiting)
    assert ServiceRecord.objects.filter(source="pairing", status="pending").count() == 4

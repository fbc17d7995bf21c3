"""The public list of service offers through the API: active offers of active members, the provider's public name
only, the page's filters."""

import pytest

from demands import services
from tests.demands.factories import wish_category

pytestmark = pytest.mark.django_db


def test_anyone_reads_the_offers_with_the_providers_public_name(api, org_tree, member_a, member_b):
    category = wish_category("助老")
    here = services.offer_create(member=member_a, title="上门理发", category=category, community=org_tree.community_a)
    there = services.offer_create(member=member_b, title="修理电器", category=category, community=org_tree.community_b)
    hidden = services.offer_create(member=member_b, title="停用", category=category, community=org_tree.community_b)
    services.offer_update(offer=hidden, member=member_b, **{**_fields(hidden), "active": False})

    response = api.get("/api/v1/offers/")
    assert response.status_code == 200 and response["ETag"]
    rows = response.json()["results"]
    assert [r["id"] for r in rows] == [there.pk, here.pk]
    mine = next(r for r in rows if r["id"] == here.pk)
    assert mine["provider"] == member_a.public_name != member_a.name
    assert "phone" not in mine and "member" not in mine
    filtered = api.get("/api/v1/offers/", {"community": org_tree.community_a.pk}).json()["results"]
    assert [r["id"] for r in filtered] == [here.pk]


def _fields(offer) -> dict:
    keys = ("title", "category", "description", "community", "available_time", "team")
    return {k: getattr(offer, k) for k in keys}

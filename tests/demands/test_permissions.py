"""Every demands page × every persona: who gets in, who is sent to sign in, who gets 403 and who gets 404.

Read a row as a sentence: "the secretary of branch B opening the review page of community A's wish gets 404".
Public pages are open to all; out-of-scope objects answer 404 (never 403), so nothing tells that they exist.
"""

import pytest
from django.urls import reverse

from tests.demands.factories import feedback_token, wish_category, wish_in_state
from tests.personas import sign_in_as, street_with

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "member", "secretary_a", "secretary_b", "platform_admin")


def _scene(street):
    """Community A: a submitted wish and a wish claimed by member A; community B: a submitted wish."""
    tree = street.org_tree
    wish_category("助老")
    claimed = wish_in_state("claimed", tree.community_a, street.secretary_a, street.member_a)
    return {
        "a": wish_in_state("submitted", tree.community_a, street.secretary_a),
        "b": wish_in_state("submitted", tree.community_b, street.secretary_b),
        "claimed": claimed,
        "published": wish_in_state("published", tree.community_a, street.secretary_a),
        "fulfilled": wish_in_state("fulfilled", tree.community_b, street.secretary_b, street.member_b),
    }


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The personas and the scene, made once for the module's tests, each of which runs in a savepoint
    (tests/personas.py: street_with)."""
    with street_with(django_db_blocker, _scene) as street:
        yield street


# member = member A (the claimer of "claimed"); the admin has no Member.
PAGES = [
    ("wall", lambda s: "/wishes/", (200, 200, 200, 200, 200)),
    ("new", lambda s: "/wishes/new/", (200, 200, 200, 200, 200)),
    ("track", lambda s: "/wishes/track/", (200, 200, 200, 200, 200)),
    ("privacy", lambda s: "/privacy/", (200, 200, 200, 200, 200)),
    ("feedback", lambda s: reverse("demands:feedback", args=[feedback_token(s["fulfilled"])]), (200,) * 5),
    ("detail published", lambda s: f"/wishes/{s['published'].pk}/", (200, 200, 200, 200, 200)),
    ("detail submitted", lambda s: f"/wishes/{s['a'].pk}/", (404, 404, 404, 404, 404)),
    ("fulfil claimed", lambda s: f"/wishes/{s['claimed'].pk}/fulfil/", (302, 200, 404, 404, 403)),
    ("mine", lambda s: "/wishes/mine/", (302, 200, 200, 200, 403)),
    ("offers", lambda s: "/offers/", (200, 200, 200, 200, 200)),
    ("my offers", lambda s: "/offers/mine/", (302, 200, 200, 200, 403)),
    ("my pairings", lambda s: "/pairings/", (302, 200, 200, 200, 403)),
    ("households admin", lambda s: reverse("admin:demands_household_changelist"), (302, 302, 200, 200, 200)),
    ("pairings admin", lambda s: reverse("admin:demands_pairing_changelist"), (302, 302, 200, 200, 200)),
    ("review", lambda s: "/wishes/review/", (302, 403, 200, 200, 200)),
    ("review A", lambda s: f"/wishes/review/{s['a'].pk}/", (302, 404, 200, 404, 200)),
    ("review B", lambda s: f"/wishes/review/{s['b'].pk}/", (302, 404, 404, 200, 200)),
    ("admin list", lambda s: reverse("admin:demands_microwish_changelist"), (302, 302, 200, 200, 200)),
    ("admin A", lambda s: reverse("admin:demands_microwish_change", args=[s["a"].pk]), (302, 302, 200, 404, 200)),
    ("admin B", lambda s: reverse("admin:demands_microwish_change", args=[s["b"].pk]), (302, 302, 404, 200, 200)),
]


@pytest.mark.parametrize("persona_index", range(len(PERSONAS)), ids=PERSONAS)
@pytest.mark.parametrize(("name", "url", "expected"), PAGES, ids=[p[0] for p in PAGES])
def test_get(world, client, persona_index, name, url, expected):
    persona = PERSONAS[persona_index]
    response = sign_in_as(client, persona, world).get(url(world.scene))
    assert response.status_code == expected[persona_index], f"{persona} GET {name}"
    if response.status_code == 302:
        assert "login" in response.url


POSTS = [
    ("claim published", lambda s: f"/wishes/{s['published'].pk}/claim/", (302, 302, 302, 302, 403)),
    ("claim submitted", lambda s: f"/wishes/{s['a'].pk}/claim/", (302, 404, 404, 404, 404)),
    ("release claimed", lambda s: f"/wishes/{s['claimed'].pk}/release/", (302, 302, 302, 302, 403)),
    ("verify A", lambda s: f"/wishes/review/{s['a'].pk}/save/", (302, 404, 400, 404, 400)),
    ("reject B", lambda s: f"/wishes/review/{s['b'].pk}/reject/", (302, 404, 404, 400, 400)),
    ("confirm A", lambda s: f"/wishes/review/{s['claimed'].pk}/confirm/", (302, 404, 302, 404, 302)),
    ("block B", lambda s: f"/wishes/review/{s['b'].pk}/block/", (302, 404, 404, 302, 302)),
]


@pytest.mark.parametrize("persona_index", range(len(PERSONAS)), ids=PERSONAS)
@pytest.mark.parametrize(("name", "url", "expected"), POSTS, ids=[p[0] for p in POSTS])
def test_post(world, client, persona_index, name, url, expected):
    persona = PERSONAS[persona_index]
    response = sign_in_as(client, persona, world).post(url(world.scene), {})
    assert response.status_code == expected[persona_index], f"{persona} POST {name}"


def test_the_release_of_someone_elses_claim_changes_nothing(world, client):
    client.force_login(world.member_b.user)
    claimed = world.scene["claimed"]
    response = client.post(f"/wishes/{claimed.pk}/release/", follow=True)
    assert "只有认领人本人可以放弃认领。" in response.content.decode()
    claimed.refresh_from_db()
    assert claimed.state == "claimed"


def test_unknown_ids_answer_404(client, world):
    client.force_login(world.secretary_a)
    for url in ("/wishes/999999/", "/wishes/review/999999/", "/wishes/999999/photos/1/"):
        assert client.get(url).status_code == 404, url
    assert client.post("/wishes/review/999999/confirm/").status_code == 404

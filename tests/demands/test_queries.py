"""Query counts of the demands pages stay constant as rows grow (a list must not cost queries per row)."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from demands import services
from tests.demands.factories import submit_wish, wish_in_state
from tests.queries import assert_constant_queries, assert_get_queries

pytestmark = pytest.mark.django_db


def test_the_wall(client, org_tree, secretary_a):
    def add(n):
        for _i in range(n):
            wish_in_state("published", org_tree.community_a, secretary_a, grid=org_tree.grid_a)

    assert_constant_queries(client, "/wishes/", add)
    # On a miss of the anonymous page cache (core/public_cache.py): the page of wishes (count + rows with
    # category, community, grid), and the filter's choices: communities and categories. Grids are offered only once
    # a community is chosen: then the chosen community's validation and its grids, two queries more.
    cache.clear()
    assert_get_queries(client, "/wishes/", 4)
    assert_get_queries(client, f"/wishes/?community={org_tree.community_a.pk}", 6)
    assert_get_queries(client, "/wishes/", 0)  # the next visitor gets the cached page


def test_a_wish_page(client, org_tree, secretary_a, member_a):
    wish = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    client.force_login(member_a.user)
    # the wish (with category, community, grid, claimer, team, offer), its photos, user, the member, the claimer's
    # contact-access log row (savepoint + insert + release), the audit trail's full-data-view event (savepoint +
    # insert + release); the session comes from the cache (cached_db).
    assert_get_queries(client, f"/wishes/{wish.pk}/", 10)


def test_the_review_queue(client, org_tree, secretary_a):
    client.force_login(secretary_a)

    assert_constant_queries(client, "/wishes/review/", lambda n: [submit_wish(org_tree.community_a) for _i in range(n)])
    # user, "is a secretary", the tab counts, the page count and rows (with category, community, grid, claimer);
    # the session comes from the cache (cached_db).
    assert_get_queries(client, "/wishes/review/", 5)


def test_the_tracking_page(client, org_tree, secretary_a, member_a):
    wish = wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a, phone="13900001234")
    client.post("/wishes/track/", {"code": wish.tracking_code, "last4": "1234"})

    def add_events(n):
        for _i in range(n):
            services.wish_report_unfulfilled(token=_token(wish))
            wish.refresh_from_db()
            services.wish_fulfil(
                wish=wish,
                member=member_a,
                note="再次上门",
                start=timezone.now() - timedelta(hours=2),
                end=timezone.now() - timedelta(hours=1),
                hours=1,
            )

    assert_constant_queries(client, reverse("demands:track_status"), add_events, small=1, large=4)
    # the wish (with category, community, grid, claimer, team), its photos, the public events; the session comes
    # from the cache (cached_db).
    assert_get_queries(client, reverse("demands:track_status"), 3)


def _token(wish):
    from tests.demands.factories import feedback_token

    return feedback_token(wish)


def test_the_admin_list(client, org_tree, secretary_a):
    client.force_login(secretary_a)
    url = reverse("admin:demands_microwish_changelist")
    assert_constant_queries(client, url, lambda n: [submit_wish(org_tree.community_a) for _i in range(n)])


def test_the_review_page_with_many_events_and_candidates(client, org_tree, secretary_a):
    from tests.members.factories import MemberFactory

    wish = wish_in_state("published", org_tree.community_a, secretary_a)
    client.force_login(secretary_a)
    url = reverse("demands:review_detail", args=[wish.pk])
    assert_constant_queries(
        client, url, lambda n: MemberFactory.create_batch(n, organization=org_tree.branch_a), small=2, large=12
    )

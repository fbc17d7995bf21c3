"""Races through the API: threads with their own PostgreSQL connections and their own device tokens press the
same button at once; the services' locks decide, the API only passes the answer on."""

import threading
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

from demands.models import MicroWish, WishEvent
from incentives.models import CatalogueItem, PointsBalance, Redemption
from projects.models import SignUp
from tests.api.conftest import bearer
from tests.demands.factories import wish_category, wish_in_state
from tests.incentives.conftest import fund, make_item
from tests.members.factories import MemberFactory
from tests.projects.factories import ActivityFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def press_together(clients: list[APIClient], url: str, *, threads: int) -> Counter:
    """POST `url` once with each client, from `threads` threads started at one barrier; count (status, detail)."""
    outcomes: Counter = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(threads)
    shares = [clients[i::threads] for i in range(threads)]

    def run(share):
        try:
            barrier.wait()
            for client in share:
                response = client.post(url, {}, format="json")
                body = response.json()
                key = (response.status_code, body.get("detail") if response.status_code != 200 else "")
                with lock:
                    outcomes[key] += 1
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(share,)) for share in shares]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    return outcomes


def _signed_in(members) -> list[APIClient]:
    clients = []
    for member in members:
        client = APIClient()
        bearer(client, member.user)
        clients.append(client)
    return clients


def test_fifty_claims_of_one_wish_make_one_winner(org_tree, secretary_a):
    wish_category()
    wish = wish_in_state("published", org_tree.community_a, secretary_a)
    members = MemberFactory.create_batch(50, organization=org_tree.branch_a)

    outcomes = press_together(_signed_in(members), f"/api/v1/wishes/{wish.pk}/claim/", threads=50)

    assert outcomes == Counter({(200, ""): 1, (400, "该心愿已被其他党员认领。"): 49})
    wish.refresh_from_db()
    assert wish.state == MicroWish.State.CLAIMED and wish.claimed_by in members
    assert WishEvent.objects.filter(wish=wish, action="claimed").count() == 1


def test_two_hundred_sign_ups_for_twenty_seats_confirm_twenty(org_tree):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=20)
    members = MemberFactory.create_batch(200, organization=org_tree.branch_a)

    outcomes = press_together(_signed_in(members), f"/api/v1/activities/{activity.pk}/signup/", threads=40)

    assert outcomes == Counter({(200, ""): 200}), outcomes
    statuses = Counter(SignUp.objects.filter(activity=activity).values_list("status", flat=True))
    assert statuses == Counter({SignUp.Status.CONFIRMED: 20, SignUp.Status.WAITLISTED: 180})
    assert SignUp.objects.filter(activity=activity).values("member").distinct().count() == 200


def test_twenty_members_redeem_an_item_with_five_in_stock_five_succeed(org_tree):
    item = make_item(points_cost=10, stock=5)
    members = MemberFactory.create_batch(20, organization=org_tree.branch_a)
    for member in members:
        fund(member, 10)

    outcomes = press_together(_signed_in(members), f"/api/v1/rewards/{item.pk}/redeem/", threads=20)

    refused = f"“{item.display_name}”已兑完。"
    assert outcomes == Counter({(201, None): 5, (400, refused): 15}), outcomes
    assert CatalogueItem.objects.get(pk=item.pk).stock == 0
    assert Redemption.objects.filter(item=item).count() == 5
    assert (
        sorted(PointsBalance.objects.filter(member__in=members).values_list("balance", flat=True))
        == [0] * 5 + [10] * 15
    )

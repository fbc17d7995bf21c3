"""Rewards and stars through the API: the catalogue with why an item cannot be redeemed, redeeming (the points
held at once), cancelling (refunded), another member's redemption not found, and the star standing as /me/points/
shows it."""

from datetime import date

import pytest

from incentives import services
from incentives.models import CatalogueItem, PointsBalance, Redemption
from tests.api.conftest import bearer
from tests.incentives.conftest import fund, make_item

pytestmark = pytest.mark.django_db


def _balance(member) -> int:
    return PointsBalance.objects.get(member=member).balance


def test_the_catalogue_says_what_the_member_can_redeem(api, org_tree, member_a):
    fund(member_a, 60)
    cheap = make_item(points_cost=50, organization=org_tree.branch_a)
    dear = make_item(points_cost=500)
    starred = make_item(points_cost=10, min_star_level=3)
    make_item(points_cost=10, organization=org_tree.branch_b)  # another branch's: not offered
    bearer(api, member_a.user)

    response = api.get("/api/v1/rewards/")
    assert response.status_code == 200 and response["ETag"]
    rows = {row["id"]: row for row in response.json()["results"]}
    assert set(rows) == {cheap.pk, dear.pk, starred.pk}
    assert (rows[cheap.pk]["blocker"], rows[dear.pk]["blocker"], rows[starred.pk]["blocker"]) == (
        "",
        "积分不足",
        "需要 3 星",
    )
    again = api.get("/api/v1/rewards/", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_a_member_redeems_then_cancels_and_gets_the_points_back(api, org_tree, member_a):
    fund(member_a, 60)
    item = make_item(points_cost=50, stock=2, per_member_limit=None)
    bearer(api, member_a.user)

    done = api.post(f"/api/v1/rewards/{item.pk}/redeem/", {"token": "t1"}, format="json")
    assert done.status_code == 201
    body = done.json()
    assert (body["status"], body["points"], body["item_id"], body["pickup_code"]) == ("requested", 50, item.pk, "")
    assert _balance(member_a) == 10
    retry = api.post(f"/api/v1/rewards/{item.pk}/redeem/", {"token": "t1"}, format="json")
    assert retry.status_code == 201 and retry.json()["id"] == body["id"]  # the same key: the first redemption
    assert Redemption.objects.count() == 1

    refused = api.post(f"/api/v1/rewards/{item.pk}/redeem/", {}, format="json")
    assert refused.status_code == 400
    assert refused.json()["detail"] == "积分不足：当前余额 10 分，需要 50 分。"
    assert Redemption.objects.count() == 1

    mine = api.get("/api/v1/me/redemptions/").json()["results"]
    assert [r["id"] for r in mine] == [body["id"]]

    cancelled = api.post(f"/api/v1/me/redemptions/{body['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert _balance(member_a) == 60
    assert CatalogueItem.objects.get(pk=item.pk).stock == 2
    twice = api.post(f"/api/v1/me/redemptions/{body['id']}/cancel/")
    assert twice.status_code == 400 and twice.json()["detail"] == "这条兑换不能取消（当前：已取消）。"


def test_outsiders_find_nothing(api, org_tree, member_a, member_b, staff_without_scope):
    fund(member_a, 60)
    fund(member_b, 60)
    item_a = make_item(points_cost=10, organization=org_tree.branch_a)
    redemption = services.redemption_request(member=member_a, item=item_a)
    bearer(api, member_b.user)
    assert api.post(f"/api/v1/rewards/{item_a.pk}/redeem/").status_code == 404  # not offered to branch B
    assert api.post(f"/api/v1/me/redemptions/{redemption.pk}/cancel/").status_code == 404
    assert Redemption.objects.get(pk=redemption.pk).status == Redemption.Status.REQUESTED
    assert Redemption.objects.count() == 1
    bearer(api, staff_without_scope)
    answer = api.get("/api/v1/rewards/")
    assert answer.status_code == 404 and answer.json()["detail"] == "该账号没有关联党员档案。"


def test_stars_show_the_rating_in_its_publicity_beside_the_current_stars(api, org_tree, member_a, platform_admin):
    bearer(api, member_a.user)
    assert api.get("/api/v1/me/stars/").json() == {"stars": 0, "current": None, "publicity": None, "ratings": []}
    run = services.rating_run_create(
        organization=org_tree.branch_a, period_start=date(2024, 1, 1), period_end=date(2024, 12, 31), actor=None
    )
    services.rating_run_compute(run=run)
    services.rating_run_publish(run=run, actor=platform_admin)

    body = api.get("/api/v1/me/stars/").json()
    assert body["stars"] == 0 and body["current"] is None
    assert body["publicity"]["run_id"] == run.pk and body["publicity"]["status"] == "publicity"
    assert [r["id"] for r in body["ratings"]] == [body["publicity"]["id"]]
    assert body["ratings"][0]["can_object"] is True
    assert body["ratings"][0]["period_start"] == "2024-01-01"

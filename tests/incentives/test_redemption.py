"""Redemption: requested → approved (pickup code) → fulfilled, or cancelled with a refund and the stock back."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from incentives import services
from incentives.models import LedgerEntry, PointsBalance, RatingRun, Redemption, StarRating
from notifications.models import Notification
from tests.incentives.conftest import fund, make_item
from tests.members.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def balance_of(member) -> int:
    return PointsBalance.objects.get(member=member).balance


def final_stars(member, stars: int) -> None:
    """Give `member` a final rating with `stars` (as a finished rating run would)."""
    run = RatingRun.objects.create(
        organization=member.organization,
        period_start=date(2024, 1, 1),
        period_end=date(2024, 12, 31),
        status=RatingRun.Status.FINAL,
        publicity_ends_on=date(2025, 1, 6),
        published_at=timezone.now(),
        finalized_at=timezone.now(),
    )
    StarRating.objects.create(
        run=run,
        member=member,
        basis="hours",
        thresholds=[100, 300, 600, 1000, 1500],
        basis_value=0,
        computed_stars=stars,
        stars=stars,
        status=StarRating.Status.FINAL,
    )


def test_request_holds_the_points_and_takes_one_unit(member_a):
    fund(member_a, 100)
    item = make_item(name="理发", points_cost=50, stock=2)

    redemption = services.redemption_request(member=member_a, item=item)

    assert (redemption.status, redemption.points, redemption.pickup_code) == ("requested", 50, "")
    assert redemption.spend_entry.points == -50 and redemption.spend_entry.kind == "spend"
    assert balance_of(member_a) == 50
    item.refresh_from_db()
    assert item.stock == 1


def test_approval_gives_a_pickup_code_and_tells_the_member(member_a, secretary_a):
    fund(member_a, 100)
    item = make_item(name="家电维修", points_cost=80, pickup_place="社区服务站")
    redemption = services.redemption_request(member=member_a, item=item)

    approved = services.redemption_approve(redemption=redemption, actor=secretary_a)

    assert approved.status == "approved" and approved.approved_by == secretary_a
    assert len(approved.pickup_code) == 8
    assert not set(approved.pickup_code) & set("01OIL")
    message = Notification.objects.get(recipient_user=member_a.user, template="incentives_redemption_approved")
    assert message.context["code"] == approved.pickup_code
    assert message.channel == Notification.Channel.INAPP
    with pytest.raises(ValidationError):
        services.redemption_approve(redemption=approved, actor=secretary_a)

    fulfilled = services.redemption_fulfil(redemption=approved, actor=secretary_a)
    assert fulfilled.status == "fulfilled" and fulfilled.fulfilled_at is not None
    with pytest.raises(ValidationError):
        services.redemption_cancel(redemption=fulfilled, actor=secretary_a, reason="太晚了")


def test_cancel_refunds_the_points_and_returns_the_stock(member_a, secretary_a):
    fund(member_a, 100)
    item = make_item(points_cost=60, stock=1)
    redemption = services.redemption_approve(
        redemption=services.redemption_request(member=member_a, item=item), actor=secretary_a
    )

    cancelled = services.redemption_cancel(redemption=redemption, actor=secretary_a, reason="商家暂停服务")

    assert cancelled.status == "cancelled" and cancelled.cancel_reason == "商家暂停服务"
    refund = LedgerEntry.objects.get(reverses=redemption.spend_entry)
    assert (refund.kind, refund.points, refund.earned_points) == ("reversal", 60, 0)
    assert balance_of(member_a) == 100
    assert PointsBalance.objects.get(member=member_a).earned_total == 100  # the refund is not new earnings
    item.refresh_from_db()
    assert item.stock == 1
    assert Notification.objects.filter(template="incentives_redemption_cancelled").count() == 1
    with pytest.raises(ValidationError):
        services.redemption_cancel(redemption=cancelled, actor=secretary_a, reason="再取消一次")
    assert balance_of(member_a) == 100


def test_a_member_cancels_only_while_the_request_waits(member_a, secretary_a):
    fund(member_a, 100)
    item = make_item(points_cost=10, per_member_limit=None)
    waiting = services.redemption_request(member=member_a, item=item)
    services.redemption_cancel(redemption=waiting, actor=member_a.user, by_member=True)
    approved = services.redemption_approve(
        redemption=services.redemption_request(member=member_a, item=item), actor=secretary_a
    )
    with pytest.raises(ValidationError):
        services.redemption_cancel(redemption=approved, actor=member_a.user, by_member=True)
    assert balance_of(member_a) == 90


def test_a_hold_is_refunded_by_cancelling_not_by_a_reversal(member_a, secretary_a):
    fund(member_a, 100)
    redemption = services.redemption_request(member=member_a, item=make_item(points_cost=10))
    with pytest.raises(ValidationError, match="取消兑换"):
        services.reverse(entry=redemption.spend_entry, actor=secretary_a, reason="退分")


def test_insufficient_points_take_no_stock(member_a):
    fund(member_a, 40)
    item = make_item(points_cost=50, stock=1)
    with pytest.raises(ValidationError, match="积分不足"):
        services.redemption_request(member=member_a, item=item)
    item.refresh_from_db()
    assert item.stock == 1
    assert not Redemption.objects.exists()


def test_out_of_stock_is_refused(member_a):
    fund(member_a, 100)
    item = make_item(points_cost=10, stock=0)
    with pytest.raises(ValidationError, match="已兑完"):
        services.redemption_request(member=member_a, item=item)
    assert balance_of(member_a) == 100


def test_the_per_member_limit_counts_everything_but_cancellations(member_a):
    fund(member_a, 100)
    item = make_item(points_cost=10, per_member_limit=2)
    first = services.redemption_request(member=member_a, item=item)
    services.redemption_request(member=member_a, item=item)
    with pytest.raises(ValidationError, match="每人限兑 2 次"):
        services.redemption_request(member=member_a, item=item)
    services.redemption_cancel(redemption=first, actor=member_a.user, by_member=True)
    services.redemption_request(member=member_a, item=item)
    assert balance_of(member_a) == 80


def test_opening_and_closing_times(member_a):
    fund(member_a, 100)
    now = timezone.now()
    later = make_item(opens_at=now + timedelta(days=1))
    closed = make_item(opens_at=now - timedelta(days=3), closes_at=now - timedelta(days=1))
    inactive = make_item(active=False)
    for item in (later, closed, inactive):
        with pytest.raises(ValidationError, match="不在兑换时间内"):
            services.redemption_request(member=member_a, item=item)


def test_a_benefit_needs_the_minimum_star_level(member_a):
    fund(member_a, 500)
    checkup = make_item(name="体检", kind="benefit", min_star_level=2, points_cost=200)
    with pytest.raises(ValidationError, match="需要 2 星"):
        services.redemption_request(member=member_a, item=checkup)
    final_stars(member_a, 2)
    assert services.redemption_request(member=member_a, item=checkup).status == "requested"


def test_a_benefit_without_a_star_level_is_refused():
    with pytest.raises(ValidationError):
        make_item(kind="benefit", min_star_level=0)


def test_an_item_of_another_organization_is_not_for_the_member(member_a, org_tree):
    fund(member_a, 100)
    own = make_item(organization=org_tree.east)  # above branch A: open to its members
    other = make_item(organization=org_tree.west)
    assert services.redemption_request(member=member_a, item=own).status == "requested"
    with pytest.raises(ValidationError, match="不面向"):
        services.redemption_request(member=member_a, item=other)


def test_restock_never_goes_below_zero():
    item = make_item(stock=2)
    services.catalogue_item_restock(item=item, quantity=5)
    assert item.stock == 7
    with pytest.raises(ValidationError):
        services.catalogue_item_restock(item=item, quantity=-8)
    services.catalogue_item_restock(item=item, quantity=-7)
    assert item.stock == 0


def test_updating_an_item_never_overwrites_its_stock(member_a):
    fund(member_a, 100)
    item = make_item(points_cost=10, stock=3)
    stale = type(item).objects.get(pk=item.pk)
    services.redemption_request(member=member_a, item=item)
    services.catalogue_item_update(item=stale, description="新的说明", points_cost=12)
    item.refresh_from_db()
    assert (item.stock, item.points_cost, item.description) == (2, 12, "新的说明")


def test_an_item_of_an_organization_below_the_members_branch_is_not_for_them(member_a, org_tree):
    fund(member_a, 100)
    sub = OrganizationFactory(name="东一支部第一党小组", type="group", parent=org_tree.branch_a)
    item_for_group = make_item(organization=sub)
    with pytest.raises(ValidationError):
        services.redemption_request(member=member_a, item=item_for_group)

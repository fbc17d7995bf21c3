"""Demo data of the incentives app, called by the site's `seed_demo` after the members' demo data.

Idempotent: rules and catalogue items are found by their codes and names, ledger entries by idempotency keys, the
rating run by organization and period, so running it twice leaves the same data. It works with or without demo
members: without any, only the rules and the catalogue are added.
"""

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from members.models import Member, Organization, ServiceRecord

from . import selectors, services
from .models import CatalogueItem, RatingRun, Redemption, Rule

CATALOGUE = [
    {
        "name": "理发",
        "kind": CatalogueItem.Kind.SERVICE,
        "points_cost": 50,
        "stock": 30,
        "per_member_limit": 2,
        "description": "社区理发店提供的一次理发服务。",
        "pickup_place": "社区党群服务中心一楼",
    },
    {
        "name": "家电维修",
        "kind": CatalogueItem.Kind.SERVICE,
        "points_cost": 80,
        "stock": 10,
        "per_member_limit": 1,
        "description": "上门检修一件小家电（不含更换配件的费用）。",
        "pickup_place": "预约后上门",
    },
    {
        "name": "体检",
        "kind": CatalogueItem.Kind.BENEFIT,
        "points_cost": 200,
        "stock": 5,
        "per_member_limit": 1,
        "min_star_level": 1,
        "description": "社区卫生服务中心常规体检一次（政策优惠，一星及以上志愿者可兑换）。",
        "pickup_place": "社区卫生服务中心",
    },
    {
        "name": "图书",
        "kind": CatalogueItem.Kind.GOODS,
        "points_cost": 30,
        "stock": 50,
        "per_member_limit": 3,
        "description": "党建读物或生活类图书一本。",
        "pickup_place": "社区党群服务中心图书角",
    },
]

DEMO_MEMBERS = 40  # enough for a leaderboard and a rating period; the first ones by volunteer number


@transaction.atomic
def seed(*, stdout=None) -> None:
    for code in Rule.Code.values:
        services.rule_for(code)
    items = {spec["name"]: _item(spec) for spec in CATALOGUE}
    members = list(
        Member.objects.filter(status=Member.Status.ACTIVE).select_related("organization", "user")[:DEMO_MEMBERS]
    )
    for index, member in enumerate(members):
        _history(member, index)
    if members:
        _redemption(members[0], items["图书"])
    _finished_rating_period()
    if stdout is not None:
        stdout.write(f"incentives: {len(items)} catalogue items, ledger history for {len(members)} members")


def _item(spec: dict) -> CatalogueItem:
    item = CatalogueItem.objects.filter(organization__isnull=True, name=spec["name"]).first()
    if item is not None:
        return item
    return services.catalogue_item_create(**spec)


def _history(member: Member, index: int) -> None:
    """Points for the member's counted service records, or a few typical awards when they have none."""
    records = ServiceRecord.objects.filter(member=member, status__in=ServiceRecord.COUNTED_STATUSES)[:20]
    for record in records:
        services.award(
            member=member,
            rule=Rule.Code.SERVICE_HOUR,
            quantity=record.hours,
            idempotency_key=f"demo:record:{record.pk}",
            source_ref=f"record:{record.pk}",
            note=record.content[:200],
        )
    if records:
        return
    services.award(
        member=member,
        rule=Rule.Code.SERVICE_HOUR,
        quantity=2 + index % 5,
        idempotency_key=f"demo:{member.pk}:service",
        source_ref=f"demo-activity:{index % 3}",
        note="社区环境整治",
    )
    services.award(
        member=member,
        rule=Rule.Code.TRAINING_HOUR,
        quantity=2,
        idempotency_key=f"demo:{member.pk}:training",
        note="理论培训",
    )
    if index % 2 == 0:
        services.award(
            member=member, rule=Rule.Code.WISH_FULFILLED, idempotency_key=f"demo:{member.pk}:wish", note="微心愿"
        )
    if index % 3 == 0:
        services.award(
            member=member,
            rule=Rule.Code.RESIDENT_RATING,
            quantity=5,
            idempotency_key=f"demo:{member.pk}:rating",
            note="居民五星好评",
        )


def _redemption(member: Member, item: CatalogueItem) -> None:
    if Redemption.objects.filter(member=member, item=item).exists():
        return
    if selectors.balance_of(member).balance < item.points_cost:
        return
    services.redemption_request(member=member, item=item, idempotency_key="demo")


def _finished_rating_period() -> None:
    """Last year's rating of each top-level organization that has members, already through its 公示 and final."""
    last_year = timezone.localdate().year - 1
    start, end = date(last_year, 1, 1), date(last_year, 12, 31)
    for root in Organization.objects.filter(parent__isnull=True).order_by("path"):
        if not Member.objects.filter(organization__path__startswith=root.path).exists():
            continue
        run = services.rating_run_create(organization=root, period_start=start, period_end=end, actor=None)
        if run.status == RatingRun.Status.DRAFT:
            services.rating_run_compute(run=run)
            # Demo history: the 公示 ran in January and is over.
            run = services.rating_run_publish(run=run, actor=None, publicity_ends_on=end + timedelta(days=10))
        if run.status == RatingRun.Status.PUBLICITY and timezone.localdate() > run.publicity_ends_on:
            services.rating_run_finalize(run=run, actor=None)

"""Demo data of the incentives app, called by the site's `seed_demo` after the members' demo data.

What a newcomer sees: the rules; a catalogue (理发, 家电维修, 体检, 图书) with stock; for the showcase member
(`dangyuan` of the members demo, else the first member) an approved redemption with a pickup code, a request waiting
for the secretary and a commendation on the public exemplars page; and, once every app has added its records
(`seed_ratings`, called last), a finished rating of each top-level organization.

Every point comes from what earned it, through the services: the verified service records (members.events →
services.record_points_sync), training records, wishes and the commendation — none is made up here, so
`manage.py reconcile` finds the demo in agreement.

The demo records are a few hours each, so the default thresholds (100 h for ★1) would rate everybody ★0: a top-level
organization without a scheme of its own gets a demo scheme of 2/4/6/8/10 h.

Idempotent: rules and items are found by code and name, redemptions and commendations by member and item or title,
rating runs by organization — running it twice leaves the same data. It works with or without members: without
any, only the rules and the catalogue are added.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from members.models import Member, Organization

from . import selectors, services
from .models import CatalogueItem, Commendation, PointsBalance, RatingRun, Redemption, Rule, StarScheme

CATALOGUE = [
    {
        "name": "理发",
        "name_en": "Haircut",
        "kind": CatalogueItem.Kind.SERVICE,
        "points_cost": 50,
        "stock": 30,
        "per_member_limit": 2,
        "description": "社区理发店提供的一次理发服务。",
        "description_en": "One haircut at the community barber's.",
        "pickup_place": "社区党群服务中心一楼",
    },
    {
        "name": "家电维修",
        "name_en": "Appliance repair",
        "kind": CatalogueItem.Kind.SERVICE,
        "points_cost": 80,
        "stock": 10,
        "per_member_limit": 1,
        "description": "上门检修一件小家电（不含更换配件的费用）。",
        "description_en": "A home visit to repair one small appliance (spare parts not included).",
        "pickup_place": "预约后上门",
    },
    {
        "name": "体检",
        "name_en": "Health check-up",
        "kind": CatalogueItem.Kind.BENEFIT,
        "points_cost": 200,
        "stock": 5,
        "per_member_limit": 1,
        "min_star_level": 1,
        "description": "社区卫生服务中心常规体检一次（政策优惠，一星及以上志愿者可兑换）。",
        "description_en": (
            "One routine check-up at the community health centre (a benefit for volunteers of one star and up)."
        ),
        "pickup_place": "社区卫生服务中心",
    },
    {
        "name": "图书",
        "name_en": "A book",
        "kind": CatalogueItem.Kind.GOODS,
        "points_cost": 30,
        "stock": 50,
        "per_member_limit": 3,
        "description": "党建读物或生活类图书一本。",
        "description_en": "One book on Party building or everyday life.",
        "pickup_place": "社区党群服务中心图书角",
    },
]

SHOWCASE_USERNAME = "dangyuan"  # the member sign-in of members.demo
DEMO_THRESHOLDS = [2, 4, 6, 8, 10]
COMMENDATION_TITLE = "优秀志愿者"


@transaction.atomic
def seed(*, stdout=None) -> None:
    for code in Rule.Code.values:
        services.rule_for(code)
    items = {spec["name"]: _item(spec) for spec in CATALOGUE}
    showcase = Member.objects.filter(user__username=SHOWCASE_USERNAME, status=Member.Status.ACTIVE).first()
    showcase = showcase or Member.objects.filter(status=Member.Status.ACTIVE).select_related("organization").first()
    if showcase is not None:
        _commendation(showcase)
        _redemption(showcase, items["图书"], approve=True)  # the member sees a pickup code
        _redemption(showcase, items["理发"], approve=False)  # the secretary sees a request to approve
    if stdout is not None:
        members = PointsBalance.objects.filter(earned_total__gt=0).count()
        stdout.write(f"incentives: {len(items)} catalogue items, points earned by {members} members")


@transaction.atomic
def seed_ratings(*, stdout=None) -> None:
    """The finished rating periods, computed from every record the demo has: called after all apps' seeds."""
    runs = _finished_rating_periods()
    if stdout is not None and runs:
        stdout.write(f"incentives: {runs} finished rating period(s)")


def _item(spec: dict) -> CatalogueItem:
    item = CatalogueItem.objects.filter(organization__isnull=True, name=spec["name"]).first()
    if item is None:
        return services.catalogue_item_create(**spec)
    if not item.name_en:  # seeded before items had English names
        return services.catalogue_item_update(item=item, name_en=spec["name_en"], description_en=spec["description_en"])
    return item


def _redemption(member: Member, item: CatalogueItem, *, approve: bool) -> None:
    if Redemption.objects.filter(member=member, item=item).exists():
        return
    if selectors.balance_of(member).balance < item.points_cost:
        return
    redemption = services.redemption_request(member=member, item=item, idempotency_key=f"demo:{item.pk}")
    if approve:
        services.redemption_approve(redemption=redemption, actor=None)


def _commendation(member: Member) -> None:
    """Nominated by the member's branch secretary, approved by a platform admin, shown with the member's consent."""
    if Commendation.objects.filter(member=member, title=COMMENDATION_TITLE).exists():
        return
    secretary = member.organization.secretary
    approver = get_user_model().objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if secretary is None or approver is None or secretary.user_id == approver.pk or secretary.pk == member.pk:
        return
    commendation = services.commendation_nominate(
        member=member,
        title=COMMENDATION_TITLE,
        citation="坚持每周为社区空巢老人上门服务，帮助解决生活中的实际困难，受到居民好评。",
        actor=secretary.user,
    )
    services.commendation_approve(commendation=commendation, actor=approver)
    services.commendation_consent(commendation=commendation, member=member, consent=True)


def _finished_rating_periods() -> int:
    """A half-year rating of each top-level organization with members: computed, through its 公示, final."""
    count = 0
    period_end = timezone.localdate().replace(day=1) - timedelta(days=1)  # the end of last month
    period_start = (period_end.replace(day=1) - timedelta(days=150)).replace(day=1)  # six whole months
    for root in Organization.objects.filter(parent__isnull=True).order_by("path"):
        if not Member.objects.filter(organization__path__startswith=root.path).exists():
            continue
        run = RatingRun.objects.filter(organization=root).order_by("-period_end").first()
        if run is None:
            if not StarScheme.objects.filter(organization=root).exists():
                services.star_scheme_save(
                    organization=root, basis="hours", thresholds=DEMO_THRESHOLDS, publicity_days=5
                )
            run = services.rating_run_create(
                organization=root, period_start=period_start, period_end=period_end, actor=None
            )
        if run.status == RatingRun.Status.DRAFT:
            services.rating_run_compute(run=run)
            # Demo history: the 公示 ran in the days after the period.
            run = services.rating_run_publish(run=run, actor=None, publicity_ends_on=run.period_end + timedelta(days=5))
        ends_on = run.publicity_ends_on
        if run.status == RatingRun.Status.PUBLICITY and ends_on is not None and timezone.localdate() > ends_on:
            services.rating_run_finalize(run=run, actor=None)
        count += 1
    return count

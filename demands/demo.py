"""Demo data of the demands app, called by the site's `seed_demo` after the members' demo data.

For the first few communities: wishes in every state, driven through the services (so events, tracking codes,
service records and points are real); service offers of a few members and a 居民点单 waiting for an answer;
households with pairings and a logged visit. Without communities nothing but the categories (seeded by the
migration) exists; without members only the states nobody has to claim are created.

Idempotent: a wish is found by its community and original title, an offer by member and title, a household by
community and its demo label, a pairing by member and household; running it twice leaves the same data.
"""

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from members.models import Community, Member
from notifications.models import Notification

from . import services
from .models import MicroWish, Pairing, ServiceOffer, WishCategory

DEMO_COMMUNITIES = 3

# (state, category, original title, description, preferred time)
WISHES = [
    ("submitted", "助老", "想请人帮忙读报纸", "眼睛不好，想每周有人来读读报纸、聊聊天。", "周三下午"),
    ("verified", "生活服务", "家里灯泡坏了够不着", "客厅吊灯的灯泡坏了，太高换不了。", "工作日晚上"),
    ("published", "关爱儿童", "孩子数学作业需要辅导", "孩子上四年级，父母在外打工，数学作业没人辅导。", "周末上午"),
    ("published", "医疗健康", "陪同去医院复查", "腿脚不便，下月需要去区医院复查，想有人陪同。", "周二上午"),
    ("claimed", "助老", "帮忙修理漏水的水龙头", "厨房水龙头一直滴水，自己修不了。", "周六上午"),
    ("fulfilled", "文化教育", "教我用智能手机挂号", "想学会用手机在医院公众号上挂号。", "周末下午"),
    ("confirmed", "环境卫生", "楼道杂物清理", "楼道堆了很多杂物，想请人帮忙清理。", "周六上午"),
    ("closed", "助残", "轮椅需要修理", "轮椅刹车坏了，想请人帮忙修一下。", "周日上午"),
    ("rejected", "法律援助", "邻里纠纷想请律师", "和邻居因为漏水有纠纷，想请律师打官司。", ""),
    ("withdrawn", "生活服务", "代买米面油", "想请人帮忙代买一袋米和一桶油。", ""),
    ("expired", "就业帮扶", "想找一份保洁工作", "下岗后想找一份附近的保洁工作。", "工作日"),
]
RESIDENTS = [
    "张桂英",
    "李秀兰",
    "王建国",
    "刘淑芬",
    "陈志强",
    "杨丽华",
    "赵德明",
    "黄美玲",
    "周国平",
    "吴玉珍",
    "孙长海",
]
OFFERS = [
    ("生活服务", "上门修理小家电、水电", "周末"),
    ("文化教育", "中小学数学辅导", "周六上午"),
    ("医疗健康", "量血压、健康咨询", "工作日晚上"),
]


@transaction.atomic
def seed(*, stdout=None) -> None:
    communities = list(
        Community.objects.select_related("organization__secretary__user").order_by("pk")[:DEMO_COMMUNITIES]
    )
    wishes = households = 0
    for index, community in enumerate(communities):
        secretary = _secretary(community)
        members = _members(community, exclude=secretary)
        for number, spec in enumerate(WISHES):
            phone = f"1390{index:03d}{number:04d}"
            if _wish(community, spec, secretary, members, phone=phone, resident=RESIDENTS[number]):
                wishes += 1
        _offers(community, members, secretary)
        households += _households(community, members, secretary)
    if stdout is not None:
        stdout.write(f"demands: {wishes} wishes and {households} households in {len(communities)} communities")


def _secretary(community: Community):
    """Who verifies in the demo: the organization's secretary, else the platform admin (may be None)."""
    secretary = community.organization.secretary
    if secretary is not None and secretary.status == Member.Status.ACTIVE:
        return secretary.user
    return get_user_model().objects.filter(is_superuser=True).order_by("pk").first()


def _members(community: Community, *, exclude) -> list[Member]:
    qs = Member.objects.filter(status=Member.Status.ACTIVE).select_related("user").order_by("volunteer_number")
    if exclude is not None:
        qs = qs.exclude(user=exclude)
    local = list(qs.filter(organization__path__startswith=community.organization.path)[:5])
    return local or list(qs[:5])


def _token(wish: MicroWish) -> str:
    sms = Notification.objects.filter(template="demands_fulfilled", context__code=wish.tracking_code).order_by("-pk")
    return sms[0].context["link"].rstrip("/").rsplit("/", 1)[1]


def _wish(community, spec, secretary, members, *, phone: str, resident: str) -> bool:
    state, category_name, title, description, preferred = spec
    needs_member = state in ("claimed", "fulfilled", "confirmed", "closed")
    if MicroWish.objects.filter(community=community, title=title).exists():
        return False
    if needs_member and not members:
        return False
    if state == "closed" and secretary is None:
        return False
    category = WishCategory.objects.get_or_create(name=category_name)[0]
    grid = community.grids.order_by("pk").first()
    wish = services.wish_submit(
        category=category,
        title=title,
        description=description,
        community=community,
        grid=grid,
        contact_name=resident,
        phone=phone,
        preferred_time=preferred,
        consent_processing=True,
        consent_display=state == "closed",
    )
    if state == "submitted":
        return True
    if state == "withdrawn":
        services.wish_withdraw(wish=wish, reason="已经自己解决了")
        return True
    if state == "rejected":
        services.wish_reject(wish=wish, actor=secretary, reason="属于民事诉讼，已引导至司法所法律援助窗口。")
        return True
    wish = services.wish_verify(
        wish=wish,
        actor=secretary,
        public_title=title,
        public_description=description,
        category=category,
        grid=grid,
        target_group=MicroWish.TargetGroup.EMPTY_NEST if category_name == "助老" else MicroWish.TargetGroup.GENERAL,
        note="社区网格员已上门核实。",
    )
    if state == "verified":
        return True
    wish = services.wish_publish(wish=wish, actor=secretary)
    if state == "published":
        return True
    if state == "expired":
        MicroWish.objects.filter(pk=wish.pk).update(claim_deadline=timezone.localdate() - timedelta(days=1))
        services.wish_expire(wish=wish)
        return True
    member = members[len(title) % len(members)]
    wish = services.wish_claim(wish=wish, member=member)
    if state == "claimed":
        return True
    end = (timezone.localtime() - timedelta(days=1)).replace(hour=11, minute=0, second=0, microsecond=0)
    wish = services.wish_fulfil(
        wish=wish,
        member=member,
        note="已上门完成，居民很满意。",
        start=end - timedelta(hours=2),
        end=end,
        hours=Decimal("1.5"),
    )
    if state == "fulfilled":
        return True
    wish = services.wish_rate(token=_token(wish), rating=5, comment="谢谢党员同志！")
    if state == "confirmed":
        return True
    services.wish_confirm_service(wish=wish, actor=secretary)
    return True


def _offers(community, members, secretary) -> None:
    """A few offers of the community's members, and one resident's order (居民点单) waiting for an answer."""
    offers = []
    for member, (category_name, title, when) in zip(members, OFFERS, strict=False):
        offer = ServiceOffer.objects.filter(member=member, title=title).first()
        if offer is None:
            offer = services.offer_create(
                member=member,
                title=title,
                category=WishCategory.objects.get_or_create(name=category_name)[0],
                community=community,
                available_time=when,
            )
        offers.append(offer)
    if not offers or secretary is None:
        return
    title = "家里的电饭煲不加热了"
    if MicroWish.objects.filter(community=community, title=title).exists():
        return
    wish = services.wish_submit(
        category=offers[0].category,
        title=title,
        description="电饭煲用了几年，最近不加热，想请会修的党员看看。",
        community=community,
        contact_name="郑阿姨",
        phone=f"1391{community.pk % 1000:03d}0001",
        consent_processing=True,
        offer=offers[0],
    )
    wish = services.wish_verify(
        wish=wish,
        actor=secretary,
        public_title="修理电饭煲",
        public_description="电饭煲不加热，需要会修小家电的党员上门看看。",
        category=offers[0].category,
    )
    services.wish_publish(wish=wish, actor=secretary)


HOUSEHOLDS = [
    ("刘奶奶", "幸福路12号3单元101", ["empty_nest"], "独居，子女在外地。"),
    ("马大爷", "幸福路8号1单元302", ["disabled", "low_income"], "下肢残疾，享受低保。"),
]


def _households(community, members, secretary) -> int:
    """Households of the community, each paired with a member, with one logged visit."""
    created = 0
    grid = community.grids.order_by("pk").first()
    for index, (name, address, groups, note) in enumerate(HOUSEHOLDS):
        # The address is encrypted, so it is compared after decryption (a handful of demo rows).
        household = next((h for h in community.households.all() if h.address == address), None)
        if household is None:
            household = services.household_save(
                actor=secretary,
                community=community,
                grid=grid,
                contact_name=name,
                address=address,
                phone=f"1392{community.pk % 1000:03d}{index:04d}",
                priority_groups=groups,
                consent_processing=True,
                consent_sensitive=True,
                note=note,
            )
            created += 1
        if not members:
            continue
        member = members[index % len(members)]
        pairing = Pairing.objects.filter(member=member, household=household, ended_on__isnull=True).first()
        if pairing is None:
            pairing = services.pairing_create(
                member=member,
                household=household,
                actor=secretary,
                note="每月上门走访，帮助打扫卫生、代购生活用品。",
                started_on=timezone.localdate() - timedelta(days=60),
            )
        if not pairing.visits.exists():
            end = (timezone.localtime() - timedelta(days=7)).replace(hour=16, minute=0, second=0, microsecond=0)
            services.pairing_visit_log(
                pairing=pairing,
                member=member,
                start=end - timedelta(hours=1, minutes=30),
                end=end,
                hours=Decimal("1.5"),
                summary="上门陪同聊天，打扫卫生。",
            )
    return created

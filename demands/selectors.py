"""Reads of the demands app, with the joins their pages need, and the scope of wishes.

Scope: a wish belongs to its community, and a community to the party organization that serves it, so a secretary
sees the wishes of every community served inside their subtree (`members.selectors.visible_communities`).
"""

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from core.types import Viewer
from incentives.models import Rule
from incentives.selectors import PointsSource
from members.availability import DAYS, PERIODS
from members.models import Community, Grid, Member, ResidenceRegistration
from members.selectors import organization_managers, sees_nothing, visible_communities, visible_members

from .models import (
    CODE_ALPHABET,
    BlockedNetwork,
    ContactAccessLog,
    Household,
    MicroWish,
    Pairing,
    PairingVisit,
    ServiceOffer,
    WishCategory,
    WishEvent,
    WishPhoto,
)

# --- Scope ------------------------------------------------------------------------------------------------------


def visible_wishes(user: Viewer, *, queryset: QuerySet[MicroWish] | None = None) -> QuerySet[MicroWish]:
    """Wishes of the communities served by organizations in `user`'s scope (all for a platform admin)."""
    qs = MicroWish.objects.all() if queryset is None else queryset
    if sees_nothing(user):
        return qs.none()
    if user.is_superuser:
        return qs
    return qs.filter(community__in=visible_communities(user))


def visible_contact_accesses(
    user: Viewer, *, queryset: QuerySet[ContactAccessLog] | None = None
) -> QuerySet[ContactAccessLog]:
    qs = ContactAccessLog.objects.all() if queryset is None else queryset
    return qs.filter(wish__in=visible_wishes(user)) if not getattr(user, "is_superuser", False) else qs


def visible_offers(user: Viewer, *, queryset: QuerySet[ServiceOffer] | None = None) -> QuerySet[ServiceOffer]:
    """Offers of members whose home branch is in scope."""
    qs = ServiceOffer.objects.all() if queryset is None else queryset
    return qs.filter(member__in=visible_members(user)) if not getattr(user, "is_superuser", False) else qs


def manages_wish(user: Viewer, wish: MicroWish) -> bool:
    return visible_wishes(user).filter(pk=wish.pk).exists()


def secretary_users(community: Community) -> list:
    """Who hears about a community's wishes: its organization's secretary (if active) and 组织管理员
    (members.selectors.organization_managers, for one organization)."""
    return organization_managers([community.organization_id]).get(community.organization_id, [])


# --- Public pages -----------------------------------------------------------------------------------------------


def wall(
    *,
    community: Community | int | None = None,
    grid: Grid | int | None = None,
    category: WishCategory | int | None = None,
    target_group: str = "",
    search: str = "",
) -> QuerySet[MicroWish]:
    """Published wishes on the wall (not those waiting for an offering member), newest first, one query."""
    qs = MicroWish.objects.filter(state=MicroWish.State.PUBLISHED, offer_pending=False).select_related(
        "category", "community", "grid"
    )
    if community is not None:
        qs = qs.filter(community=community)
    if grid is not None:
        qs = qs.filter(grid=grid)
    if category is not None:
        qs = qs.filter(category=category)
    if target_group:
        qs = qs.filter(target_group=target_group)
    if search:
        qs = qs.filter(Q(public_title__icontains=search) | Q(public_description__icontains=search))
    return qs.order_by("-published_at", "-pk")


def public_wish(pk: int) -> MicroWish | None:
    """A wish as its public page shows it (published or later), with what the page needs."""
    return (
        MicroWish.objects.filter(pk=pk, state__in=MicroWish.PUBLIC_STATES)
        .select_related("category", "community", "grid", "claimed_by", "claimed_team", "offer__member")
        .prefetch_related("photos")
        .first()
    )


def normalize_code(code: str) -> str:
    """A tracking code as typed (lower case, spaces, dashes) in its stored form."""
    return re.sub(r"[\s\-]", "", code or "").upper()


def wish_for_tracking(code: str, last4: str) -> MicroWish | None:
    """The wish with this tracking code whose phone ends with `last4`; None for an unknown code, wrong digits or a
    purged contact — the same answer, reached with the same work, so timing does not tell which."""
    code = normalize_code(code)
    if not code or any(c not in CODE_ALPHABET for c in code):
        code = "!"  # cannot match; still query, so an invalid code costs what a valid one does
    wish = MicroWish.objects.select_related("category", "community", "grid").filter(tracking_code=code).first()
    phone = wish.contact_phone if wish is not None and wish.contact_phone else "00000000000"
    matches = hmac.compare_digest(phone[-4:].encode(), (last4 or "").strip().encode())
    return wish if wish is not None and wish.contact_phone and matches else None


def address_blocked(ip: str | None) -> bool:
    """Whether a platform admin blocked the range `ip` falls in (BlockedNetwork). One small query; an address we
    cannot read (None) is not blocked — the rate limits still count it."""
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for network in BlockedNetwork.objects.values_list("network", flat=True):
        parsed = ipaddress.ip_network(network, strict=False)
        if parsed.version == address.version and address in parsed:
            return True
    return False


def public_timeline(wish: MicroWish) -> QuerySet[WishEvent]:
    return wish.events.filter(public=True).order_by("created_at", "pk")


def wish_for_feedback(token: str) -> MicroWish | None:
    """The fulfilled wish a feedback link is for; None when the link is unknown, used or the wish moved on."""
    if not token or len(token) > 100:
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    return (
        MicroWish.objects.filter(feedback_token_hash=digest, state=MicroWish.State.FULFILLED)
        .select_related("category", "community", "claimed_by")
        .first()
    )


# --- Members ----------------------------------------------------------------------------------------------------


def claims_of(member: Member) -> QuerySet[MicroWish]:
    """A member's claimed wishes still in their hands (claimed, fulfilled waiting for the resident), and finished
    ones, newest first."""
    return (
        MicroWish.objects.filter(claimed_by=member)
        .select_related("category", "community", "grid")
        .order_by("-claimed_at", "-pk")
    )


def open_claims_count(member: Member) -> int:
    return MicroWish.objects.filter(claimed_by=member, state=MicroWish.State.CLAIMED).count()


def offers_waiting_for(member: Member) -> QuerySet[MicroWish]:
    """Published wishes addressed to one of the member's offers (居民点单), waiting for their answer."""
    return (
        MicroWish.objects.filter(state=MicroWish.State.PUBLISHED, offer_pending=True, offer__member=member)
        .select_related("category", "community", "grid", "offer")
        .order_by("published_at", "pk")
    )


def wishes_awaiting(member: Member) -> QuerySet[MicroWish]:
    """What waits for the member on /me/, in one query: the wishes they claimed and have not reported fulfilled
    (oldest claim first), then those addressed to one of their offers waiting for their answer (居民点单)."""
    # The two kinds as a UNION, each found by its own index (the claimer's, the offers'); OR-ed in one WHERE across
    # the offers' join, PostgreSQL read every wish (6-9 ms of /me/ on the district's 200,000 wishes).
    claimed = MicroWish.objects.filter(state=MicroWish.State.CLAIMED, claimed_by=member)
    offered = MicroWish.objects.filter(state=MicroWish.State.PUBLISHED, offer_pending=True, offer__member=member)
    return (
        MicroWish.objects.filter(pk__in=claimed.order_by().values("pk").union(offered.order_by().values("pk")))
        .select_related("category", "community")
        .order_by("state", "claimed_at", "published_at", "pk")
    )


def can_see_contact(user: Viewer, wish: MicroWish) -> str | None:
    """The role in which `user` may see the resident's full contact ("claimer" or "secretary"), or None.

    The claimer while the wish is in their hands; a secretary whose scope covers the community (who verifies it).
    """
    if not user.is_authenticated or not wish.contact_phone:
        return None
    if (
        wish.state in (MicroWish.State.CLAIMED, MicroWish.State.FULFILLED)
        and wish.claimed_by is not None
        and wish.claimed_by.user_id == user.pk
    ):
        return "claimer"
    if manages_wish(user, wish):
        return "secretary"
    return None


def claimer_name_for(user: Viewer, wish: MicroWish, *, contact_role: str | None = None) -> str:
    """How `user` sees who claimed `wish`: the claimer and a secretary in scope read the full name, everyone else
    the public name (张** without consent, DESIGN.md); a team claim shows the team, and to them also who claimed.

    `contact_role` is `can_see_contact`'s answer when the caller has it, to save asking for the scope twice."""
    claimer = wish.claimed_by
    if claimer is None:
        return ""
    insider = contact_role is not None or (
        user.is_authenticated and (claimer.user_id == user.pk or manages_wish(user, wish))
    )
    person = claimer.name if insider else claimer.public_name
    if wish.claimed_team is None:
        return person
    return f"{wish.claimed_team.name} · {person}" if insider else wish.claimed_team.name


def photo_for(user: Viewer, wish: MicroWish, photo_id: int) -> WishPhoto | None:
    """A fulfilment photo for its claimer or a secretary in scope (the resident sees it through tracking)."""
    photo = WishPhoto.objects.filter(wish=wish, pk=photo_id).first()
    if photo is None:
        return None
    if user.is_authenticated and wish.claimed_by is not None and wish.claimed_by.user_id == user.pk:
        return photo
    if manages_wish(user, wish):
        return photo
    return None


# --- Secretaries ------------------------------------------------------------------------------------------------

# Closed without the resident's answer (auto-closed): the secretary confirms the service instead.
_UNANSWERED = Q(state=MicroWish.State.CLOSED, service_confirmed_at__isnull=True, rating__isnull=True)
# Each tab of the review page as parts no wish is in twice (review_counts counts a tab by adding its parts' counts).
REVIEW_TAB_PARTS: dict[str, tuple[Q, ...]] = {
    "submitted": (Q(state=MicroWish.State.SUBMITTED),),
    "verified": (Q(state__in=[MicroWish.State.VERIFIED, MicroWish.State.EXPIRED]),),
    "published": (Q(state__in=[MicroWish.State.PUBLISHED, MicroWish.State.CLAIMED, MicroWish.State.FULFILLED]),),
    "confirm": (Q(state=MicroWish.State.CONFIRMED), _UNANSWERED),
    "done": (
        Q(state__in=[MicroWish.State.CLOSED, MicroWish.State.REJECTED, MicroWish.State.WITHDRAWN]) & ~_UNANSWERED,
    ),
}
REVIEW_TABS: dict[str, Q] = {tab: reduce(or_, parts) for tab, parts in REVIEW_TAB_PARTS.items()}


def review_queue(
    user: Viewer, *, tab: str = "submitted", community: Community | int | None = None
) -> QuerySet[MicroWish]:
    """Wishes in `user`'s scope for a tab of the review page, oldest first (the one waiting longest on top)."""
    qs = visible_wishes(user).filter(REVIEW_TABS.get(tab, REVIEW_TABS["submitted"]))
    if community is not None:
        qs = qs.filter(community=community)
    return qs.select_related("category", "community", "grid", "claimed_by").order_by("created_at", "pk")


def review_counts(user: Viewer, tabs: Iterable[str] = tuple(REVIEW_TABS)) -> dict[str, int]:
    """How many wishes each of `tabs` holds, in one query. Every tab (the review page): one pass over the scope's
    wishes. Some tabs (the 工作台 asks for two): a COUNT per part of each, which PostgreSQL answers from an index
    alone, 4 ms on the district's 200,000 wishes, where one pass filtered by the tabs took 40 ms and counting every
    state a parallel scan of 250 ms of CPU."""
    wishes = visible_wishes(user).order_by()
    if set(tabs) == set(REVIEW_TABS):
        return wishes.aggregate(**{tab: Count("pk", filter=q) for tab, q in REVIEW_TABS.items()})
    parts = [(tab, wishes.filter(part).values("pk")) for tab in tabs for part in REVIEW_TAB_PARTS[tab]]
    columns: list[str] = []
    params: list[Any] = []  # the compiled queries' own parameters
    for index, (_tab, part_wishes) in enumerate(parts):
        try:
            sql, part_params = part_wishes.query.sql_with_params()
        except EmptyResultSet:  # a scope of nothing: no wish can match
            columns.append("0")
            continue
        columns.append(f"(SELECT COUNT(*) FROM ({sql}) AS part_{index})")
        params.extend(part_params)
    with connections[wishes.db].cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)}", params)
        row = cursor.fetchone()
    counts = dict.fromkeys(tabs, 0)
    for (tab, _part), count in zip(parts, row, strict=True):
        counts[tab] += count
    return counts


def review_wish(user: Viewer, pk: int) -> MicroWish | None:
    return (
        visible_wishes(user)
        .filter(pk=pk)
        .select_related(
            "category",
            "community__organization",
            "grid",
            "claimed_by",
            "claimed_team",
            "offer__member",
            "verified_by",
            "service_record",
        )
        .prefetch_related("photos", Prefetch("events", queryset=WishEvent.objects.select_related("actor")))
        .first()
    )


# --- Matching ---------------------------------------------------------------------------------------------------


@dataclass
class Match:
    member: Member
    score: int
    reasons: list[str] = field(default_factory=list)


_DAY_WORDS = {label: [i] for i, (_code, label) in enumerate(DAYS)}
_PERIOD_WORDS = {label: [i] for i, (_code, label) in enumerate(PERIODS)}


def _preferred_mask(text: str) -> int:
    """The availability slots a resident's free-text preferred time names (周六上午, 周末, 工作日晚上 …); 0 if none."""
    text = text or ""
    days = {i for label, idx in _DAY_WORDS.items() if str(label) in text for i in idx}
    if "周末" in text:
        days |= {5, 6}
    if "工作日" in text:
        days |= {0, 1, 2, 3, 4}
    periods = {i for label, idx in _PERIOD_WORDS.items() if str(label) in text for i in idx}
    if "白天" in text:
        periods |= {0, 1}
    if not days and not periods:
        return 0
    days = days or set(range(len(DAYS)))
    periods = periods or set(range(len(PERIODS)))
    mask = 0
    for day in days:
        for period in periods:
            mask |= 1 << (day * len(PERIODS) + period)
    return mask


def match_candidates(wish: MicroWish) -> QuerySet[Member]:
    """Members who may be matched to (and invited for) a wish: active members of the serving organization's
    subtree and active members registered (双报到) at the wish's community."""
    residence = Q(
        residence_registrations__community=wish.community_id,
        residence_registrations__status__in=ResidenceRegistration.ACTIVE_STATUSES,
    )
    subtree = Q(organization__path__startswith=wish.community.organization.path)
    pks = Member.objects.filter(status=Member.Status.ACTIVE).filter(subtree | residence).values("pk")
    return Member.objects.filter(pk__in=pks).exclude(pk=wish.claimed_by_id or 0)


def match_members(wish: MicroWish, *, limit: int = 10) -> list[Match]:
    """Members ranked for a verified wish, each with the reasons of its score (a fixed number of queries).

    Candidates: active members of the serving organization's subtree and members registered (双报到) at the
    wish's community. Points: each skill/interest related to the category +3 (at most two), living in the
    community +3 and in the same grid +2 more, availability matching the resident's preferred time +2 (or any
    availability +1), no open claim +1 and −1 per open claim.
    """
    candidates = (
        match_candidates(wish)
        .annotate(open_claims=Count("wishes", filter=Q(wishes__state=MicroWish.State.CLAIMED), distinct=True))
        .select_related("organization")
        .prefetch_related(
            "skills",
            "interests",
            Prefetch(
                "residence_registrations",
                queryset=ResidenceRegistration.objects.filter(status__in=ResidenceRegistration.ACTIVE_STATUSES),
                to_attr="active_residences",
            ),
        )
    )
    related = {tag.pk: tag.name for tag in wish.category.tags.all()}
    preferred = _preferred_mask(wish.preferred_time)
    matches = []
    for member in candidates:
        score, reasons = 0, []
        shared = [t.name for t in [*member.skills.all(), *member.interests.all()] if t.pk in related][:2]
        if shared:
            score += 3 * len(shared)
            reasons.append(_("特长/兴趣相符：%(tags)s") % {"tags": "、".join(shared)})
        home = next((r for r in member.active_residences if r.community_id == wish.community_id), None)
        if home is not None:
            score += 3
            reasons.append(_("住在本社区"))
            if wish.grid_id and home.grid_id == wish.grid_id:
                score += 2
                reasons.append(_("同一网格"))
        if preferred and member.availability & preferred:
            score += 2
            reasons.append(_("可服务时段与居民希望的时间相符"))
        elif member.availability:
            score += 1
            reasons.append(_("登记了可服务时段"))
        if member.open_claims:
            score -= member.open_claims
            reasons.append(_("已有%(n)d个认领尚未完成") % {"n": member.open_claims})
        else:
            score += 1
            reasons.append(_("目前没有未完成的认领"))
        matches.append(Match(member=member, score=score, reasons=reasons))
    matches.sort(
        key=lambda m: (
            -m.score,
            m.member.open_claims,  # type: ignore[attr-defined]  # annotated by match_candidates
            m.member.volunteer_number,
        )
    )
    return matches[:limit]


# --- Service offers ---------------------------------------------------------------------------------------------


def public_offers(
    *, category: WishCategory | int | None = None, community: Community | int | None = None
) -> QuerySet[ServiceOffer]:
    """Active offers of active members, newest first, one query."""
    qs = ServiceOffer.objects.filter(active=True, member__status=Member.Status.ACTIVE).select_related(
        "member", "team", "category", "community"
    )
    if category is not None:
        qs = qs.filter(category=category)
    if community is not None:
        qs = qs.filter(Q(community=community) | Q(community__isnull=True))
    return qs


def offers_of(member: Member) -> QuerySet[ServiceOffer]:
    return ServiceOffer.objects.filter(member=member).select_related("category", "community", "team")


# --- Households and pairings ------------------------------------------------------------------------------------


def visible_households(user: Viewer, *, queryset: QuerySet[Household] | None = None) -> QuerySet[Household]:
    """Households of the communities served by organizations in `user`'s scope."""
    qs = Household.objects.all() if queryset is None else queryset
    if sees_nothing(user):
        return qs.none()
    return qs if user.is_superuser else qs.filter(community__in=visible_communities(user))


def visible_pairings(user: Viewer, *, queryset: QuerySet[Pairing] | None = None) -> QuerySet[Pairing]:
    qs = Pairing.objects.all() if queryset is None else queryset
    return qs.filter(household__in=visible_households(user)) if not getattr(user, "is_superuser", False) else qs


def pairings_of(member: Member) -> QuerySet[Pairing]:
    """A member's active pairings with their household, and how many visits each has (one query)."""
    return (
        Pairing.objects.filter(member=member, ended_on__isnull=True)
        .select_related("household__community", "household__grid", "team")
        .annotate(visit_count=Count("visits"))
        .order_by("started_on", "pk")
    )


def recent_visits(member: Member, *, limit: int = 20) -> QuerySet[PairingVisit]:
    return (
        PairingVisit.objects.filter(pairing__member=member)
        .select_related("pairing__household__community", "service_record")
        .order_by("-started_at")[:limit]
    )


# --- Scheduled work (demands/tasks.py) --------------------------------------------------------------------------


def wishes_unverified_before(cutoff: datetime) -> QuerySet[MicroWish]:
    """Wishes still waiting for verification that were submitted at or before `cutoff`."""
    return MicroWish.objects.filter(state=MicroWish.State.SUBMITTED, created_at__lte=cutoff)


def wishes_claimed_before(cutoff: datetime) -> QuerySet[MicroWish]:
    """Wishes claimed at or before `cutoff` and not yet reported fulfilled."""
    return MicroWish.objects.filter(state=MicroWish.State.CLAIMED, claimed_at__lte=cutoff)


# --- Points (incentives' rule table: a wish whose service was confirmed earns `wish_fulfilled`, and the resident's
# rating `resident_rating` per star from the rule's minimum) ------------------------------------------------------


def wish_points_sources(wish: MicroWish) -> list[PointsSource]:
    """The two sources of points of a wish, for the member who claimed it (a team's claim: its leader, who is
    `claimed_by`); both earn once the community has confirmed the service."""
    if wish.claimed_by_id is None:
        return []
    ref = f"wish:{wish.pk}"
    confirmed = wish.service_confirmed_at is not None
    return [
        PointsSource(
            member_id=wish.claimed_by_id,
            rule=Rule.Code.WISH_FULFILLED,
            ref=ref,
            first_key=f"{ref}:fulfilled",
            quantity=Decimal(1),
            counted=confirmed,
            note=wish.public_title[:200],
            label=ref,
        ),
        PointsSource(
            member_id=wish.claimed_by_id,
            rule=Rule.Code.RESIDENT_RATING,
            ref=ref,
            first_key=f"{ref}:rating",
            quantity=Decimal(wish.rating or 0),
            counted=confirmed and bool(wish.rating),
            note=wish.public_title[:200],  # read as 居民评价 5 星：心愿《…》 (incentives.selectors.entry_text)
            label=ref,
        ),
    ]

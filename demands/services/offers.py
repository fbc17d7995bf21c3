"""Service offers (供给清单): what members and teams offer."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.types import Actor
from members.models import Community, Member, Team

from ..models import ServiceOffer, WishCategory
from ..validators import check_category, check_offer


@transaction.atomic
def offer_create(
    *,
    member: Member,
    title: str,
    category: WishCategory,
    description: str = "",
    community: Community | None = None,
    available_time: str = "",
    team: Team | None = None,
    active: bool = True,
) -> ServiceOffer:
    """A member (or a team leader for the team) lists what they offer residents (供给清单). No lock: a new row."""
    check_category(category)
    texts = check_offer(member=member, team=team, title=title, description=description, available_time=available_time)
    return ServiceOffer.objects.create(
        member=member, team=team, category=category, community=community, active=active, **texts
    )


@transaction.atomic
def offer_update(
    *,
    offer: ServiceOffer,
    member: Member,
    title: str,
    category: WishCategory,
    description: str = "",
    community: Community | None = None,
    available_time: str = "",
    team: Team | None = None,
    active: bool = True,
) -> ServiceOffer:
    """The offering member edits or pauses an offer. Lock: the offer. Wishes already addressed to it keep it."""
    offer = ServiceOffer.objects.select_for_update().get(pk=offer.pk)
    if offer.member_id != member.pk:
        raise ValidationError(_("只能修改自己的服务清单。"))
    if active:
        check_category(category)
    texts = check_offer(member=member, team=team, title=title, description=description, available_time=available_time)
    for field, value in {**texts, "category": category, "community": community, "team": team, "active": active}.items():
        setattr(offer, field, value)
    offer.save()
    return offer


@transaction.atomic
def offer_pause(*, offer: ServiceOffer, actor: Actor) -> ServiceOffer:
    """A secretary stops an offer from taking new orders. Lock: the offer. Idempotent."""
    offer = ServiceOffer.objects.select_for_update().get(pk=offer.pk)
    if offer.active:
        offer.active = False
        offer.save(update_fields=["active", "updated_at"])
    return offer

"""The page caches follow wishes (connected in apps.DemandsConfig.ready). The public pages of wishes: below. The
member portal's (core/member_cache.py): /me/ shows the ratings of the wishes the member fulfilled, the wishes they
claimed and have not fulfilled yet, and those addressed to their offers (居民点单). So a wish's save or deletion
drops its claimer's pages and its offer's member's, and a wish released or passed to someone else also its former
claimer's.

The wall shows the published wishes that wait for no offering member (`MicroWish.is_on_wall`), per community and
all together: a wish's save drops the wall of its community and the whole wall when it was or is on it, and nothing
otherwise — a resident's submission, a review, a fulfilment of a wish already claimed change no public page."""

from django.db.models import Q
from django.db.models.signals import pre_save

from core import member_cache, public_cache
from members.models import Member

from .models import MicroWish, WishCategory

# The categories are on every wall page (the cards and the filter): a change drops them all.
public_cache.watch(WishCategory, "wishes")


def _walls_of_wish(wish: MicroWish) -> list[tuple[str, object]]:
    """The wall pages the wish is on after this write, or was on before it (`_before_save`)."""
    shown = []
    was_on_wall, community_before = getattr(wish, _WALL_BEFORE, (False, None))
    if was_on_wall:
        shown.append(community_before)
    if wish.is_on_wall:
        shown.append(wish.community_id)
    return [("wall", "all"), *(("wall", c) for c in dict.fromkeys(shown))] if shown else []


public_cache.watch(MicroWish, "wishes", objects=_walls_of_wish)


def _concerned_accounts(wish: MicroWish) -> list:
    """The accounts of the wish's claimer and of its offer's member: no query when only a loaded claimer is
    concerned, else one."""
    if wish.offer_id is None:
        if wish.claimed_by_id is None:
            return []
        claimer = wish.claimed_by if MicroWish.claimed_by.is_cached(wish) else None
        if claimer is not None:
            return [claimer.user_id]
    concerned = Q(service_offers=wish.offer_id) if wish.offer_id is not None else Q()
    if wish.claimed_by_id is not None:
        concerned |= Q(pk=wish.claimed_by_id)
    return list(Member.objects.filter(concerned).values_list("user_id", flat=True).distinct())


member_cache.watch(MicroWish, user=_concerned_accounts)


# Where `_before_save` leaves, on the instance, whether the wish was on the wall and in which community.
_WALL_BEFORE = "_wall_before_save"
# The fields a wish's save may change that decide whose pages it was on before: its claimer's, and the wall's.
_BEFORE_FIELDS = frozenset({"claimed_by", "state", "offer_pending", "community"})


def _before_save(sender, instance: MicroWish, raw: bool = False, update_fields=None, **kwargs) -> None:
    """Before a wish is saved, what the save's own receivers cannot see: the claimer it had (released, expired or
    passed on: drop that member's pages) and whether it was on the wall, and in which community (kept on the
    instance for `_walls_of_wish`). One query per save that may change them; none for a new wish."""
    if raw or instance.pk is None:
        return
    if update_fields is not None and not (_BEFORE_FIELDS & set(update_fields)):
        setattr(instance, _WALL_BEFORE, (instance.is_on_wall, instance.community_id))
        return
    row = (
        MicroWish.objects.filter(pk=instance.pk)
        .values_list("claimed_by_id", "state", "offer_pending", "community_id")
        .first()
    )
    if row is None:
        return
    claimer, state, offer_pending, community = row
    setattr(instance, _WALL_BEFORE, (state == MicroWish.State.PUBLISHED and not offer_pending, community))
    if claimer is not None and claimer != instance.claimed_by_id:
        member_cache.members_changed([claimer])


pre_save.connect(_before_save, sender=MicroWish, weak=False, dispatch_uid="member_cache:demands.MicroWish:before")

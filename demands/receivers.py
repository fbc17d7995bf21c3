"""The page caches follow wishes (connected in apps.DemandsConfig.ready). The public pages of wishes: below. The
member portal's (core/member_cache.py): /me/ shows the ratings of the wishes the member fulfilled, the wishes they
claimed and have not fulfilled yet, and those addressed to their offers (居民点单). So a wish's save or deletion
drops its claimer's pages and its offer's member's, and a wish released or passed to someone else also its former
claimer's."""

from django.db.models import Q
from django.db.models.signals import pre_save

from core import member_cache, public_cache
from members.models import Member

from .models import MicroWish, WishCategory, WishEvent, WishPhoto

# The public pages of wishes (the wall, core/public_cache.py) follow every save of a wish, its events (each
# transition writes one), photos and categories.
for model in (MicroWish, WishEvent, WishPhoto, WishCategory):
    public_cache.watch(model, "wishes")


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


def _former_claimer(sender, instance: MicroWish, raw: bool = False, update_fields=None, **kwargs) -> None:
    """Before a wish is saved with another claimer (or none: released, expired), drop the pages of the one it had;
    the save's own receiver only knows the new one. One query per save that may change the claimer."""
    if raw or instance.pk is None or (update_fields is not None and "claimed_by" not in update_fields):
        return
    before = MicroWish.objects.filter(pk=instance.pk).values_list("claimed_by_id", flat=True).first()
    if before is not None and before != instance.claimed_by_id:
        member_cache.members_changed([before])


pre_save.connect(_former_claimer, sender=MicroWish, weak=False, dispatch_uid="member_cache:demands.MicroWish:before")

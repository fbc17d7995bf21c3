"""The member portal's page cache follows residents' ratings (connected in apps.DemandsConfig.ready; see
core/member_cache.py): /me/ shows the ratings of the wishes the member fulfilled, so a rated wish's save or
deletion drops its claimer's pages."""

from core import member_cache

from .models import MicroWish

member_cache.watch(MicroWish, member="claimed_by", when=lambda wish: wish.rating is not None)

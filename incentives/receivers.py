"""The member portal's page cache follows this app's rows (connected in apps.IncentivesConfig.ready; see
core/member_cache.py): /me/points/ shows the member's balance, ledger, redemptions, star ratings with their
objections, and commendations, and /me/ the current stars; the names of rules, catalogue items, rating runs and
schemes appear on every member's page. The services' bulk writes of ratings call the cache themselves."""

from core import member_cache

from .models import (
    CatalogueItem,
    Commendation,
    IncentiveProfile,
    LedgerEntry,
    Objection,
    PointsBalance,
    RatingRun,
    Redemption,
    Rule,
    StarRating,
    StarScheme,
)

for own in (LedgerEntry, PointsBalance, IncentiveProfile, Redemption, StarRating, Objection, Commendation):
    member_cache.watch(own, member="member")
for shared in (Rule, CatalogueItem, RatingRun, StarScheme):
    member_cache.watch(shared, everyone=True)

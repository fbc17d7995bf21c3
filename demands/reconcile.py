"""Reconciliation (`manage.py reconcile`, members/reconcile.py): the wishes claimed by a chunk of members as
sources of points, for incentives' check of the ledger."""

from collections.abc import Iterable, Sequence

from incentives.selectors import PointsSource

from .models import MicroWish
from .selectors import wish_points_sources


def points_sources(member_ids: Sequence[int]) -> Iterable[PointsSource]:
    wishes = (
        MicroWish.objects.filter(claimed_by_id__in=member_ids)
        .only("claimed_by_id", "service_confirmed_at", "rating", "public_title")
        .order_by("pk")
    )
    for wish in wishes.iterator(chunk_size=2000):
        yield from wish_points_sources(wish)

"""Reconciliation (`manage.py reconcile`, members/reconcile.py): the training records of a chunk of members as
sources of points, for incentives' check of the ledger."""

from collections.abc import Iterable, Sequence

from incentives.selectors import PointsSource

from .models import TrainingRecord
from .selectors import training_points_source


def points_sources(member_ids: Sequence[int]) -> Iterable[PointsSource]:
    records = TrainingRecord.objects.filter(member_id__in=member_ids).select_related("course").order_by("pk")
    for record in records.iterator(chunk_size=2000):
        yield training_points_source(record)

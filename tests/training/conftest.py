"""A few training helpers (the personas are the suite's: tests/personas.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from training.models import TrainingSession


def move_to_past(session: TrainingSession, *, ago: timedelta = timedelta(minutes=1)) -> TrainingSession:
    """Time passes: the session started `ago` before now (attendance opens on the session's day)."""
    delta = session.starts_at - (timezone.now() - ago)
    TrainingSession.objects.filter(pk=session.pk).update(
        starts_at=session.starts_at - delta, ends_at=session.ends_at - delta
    )
    session.refresh_from_db()
    return session


@pytest.fixture
def this_year() -> int:
    return timezone.localdate().year

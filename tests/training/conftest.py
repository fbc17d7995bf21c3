"""A few training helpers (the personas are the suite's: tests/personas.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from training.models import TrainingSession


def move_to_past(clock, session: TrainingSession, *, ago: timedelta = timedelta(minutes=1)) -> TrainingSession:
    """Time passes (the clock moves): the session started `ago` before now (attendance opens on the session's day)."""
    clock.now = session.starts_at + ago
    return session


@pytest.fixture
def this_year() -> int:
    return timezone.localdate().year

"""Making rows of another time, the time-machine way (the `clock` fixture in tests/conftest.py is the test's time).

`with earlier(timedelta(days=2)): …` (or `with at(instant): …`) runs the block two days before now — the rows it
makes and the services it calls are of that time, with every rule checked then — and time comes back to where it
stood. A row is never moved
in time after the fact: an UPDATE of its timestamps would skip the rules that made them.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import time_machine
from django.utils import timezone


@contextmanager
def at(instant: datetime) -> Iterator[None]:
    """Run the block at `instant` (aware), time standing still there."""
    if instant.tzinfo is None:
        raise ValueError("at() takes an aware datetime")
    # In UTC: time-machine sets the process's TZ to a destination's zone, which a subprocess would inherit.
    with time_machine.travel(instant.astimezone(UTC), tick=False):
        yield


def earlier(by: timedelta):
    """Run the block `by` before now."""
    return at(timezone.now() - by)

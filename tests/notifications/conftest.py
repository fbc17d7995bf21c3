from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

TEST_TEMPLATES = Path(__file__).resolve().parent / "templates"


@pytest.fixture
def test_templates(settings):
    """Adds tests/notifications/templates (templates `langprobe` and `broken`) to the template search path."""
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], TEST_TEMPLATES]}]


class Clock:
    """A stand-in for `django.utils.timezone.now` that only moves when told to."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def set_local(self, hour: int, minute: int = 0) -> None:
        self.now = timezone.localtime(self.now).replace(hour=hour, minute=minute, second=0, microsecond=0)


@pytest.fixture
def clock(monkeypatch):
    """Frozen at noon today (local time), outside the residents' SMS quiet hours, until a test moves it."""
    clock = Clock(timezone.now())
    clock.set_local(12)
    monkeypatch.setattr(timezone, "now", clock)
    return clock

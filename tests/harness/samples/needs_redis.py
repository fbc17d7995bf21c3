"""Run by tests/harness/test_service_markers.py in a separate pytest process; not collected on its own."""

import pytest


@pytest.mark.redis
def test_needs_redis():
    assert True  # the point is whether this runs, is skipped or fails, which the outer test asserts


def test_needs_nothing():
    assert 1 + 1 == 2

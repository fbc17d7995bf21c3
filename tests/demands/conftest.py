"""Wishes of the demands tests, driven to each state through the services, so test data obeys the same rules as
real data (the personas are the suite's: tests/personas.py)."""

import pytest

from tests.demands.factories import submit_wish, wish_category


@pytest.fixture
def helping(db):
    """The 助老 category (re-created after a transactional test flushed the seeded list)."""
    return wish_category("助老")


@pytest.fixture
def wish_a(request, helping):
    """A wish just submitted by a resident of community A (branch A's)."""
    return submit_wish(request.getfixturevalue("org_tree").community_a, category=helping)

"""Personas of the demands tests (see tests/members/conftest.py) and wishes driven to each state through the
services, so test data obeys the same rules as real data."""

import pytest

from tests.demands.factories import submit_wish, wish_category
from tests.members.conftest import member_a, member_b, org_tree, secretary_a, secretary_b  # noqa: F401


@pytest.fixture
def helping(db):
    """The 助老 category (re-created after a transactional test flushed the seeded list)."""
    return wish_category("助老")


@pytest.fixture
def wish_a(request, helping):
    """A wish just submitted by a resident of community A (branch A's)."""
    return submit_wish(request.getfixturevalue("org_tree").community_a, category=helping)

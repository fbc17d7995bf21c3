"""Personas of the security tests (tests/members/conftest.py) and the 助老 category residents choose."""

import pytest

from tests.demands.factories import wish_category
from tests.members.conftest import member_a, member_b, org_tree, secretary_a, secretary_b  # noqa: F401


@pytest.fixture
def helping(db):
    return wish_category("助老")

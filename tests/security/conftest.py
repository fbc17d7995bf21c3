"""The 助老 category residents choose (the personas are the suite's: tests/personas.py)."""

import pytest

from tests.demands.factories import wish_category


@pytest.fixture
def helping(db):
    return wish_category("助老")

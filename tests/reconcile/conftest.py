"""Fixtures of the reconciliation tests and the invariants: the members personas (org_tree, secretary_a …)."""

from tests.members.conftest import (  # noqa: F401
    east_secretary,
    member_a,
    member_b,
    org_tree,
    secretary_a,
    secretary_b,
)

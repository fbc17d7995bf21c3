"""The members app's personas (the street with branches A and B, their secretaries and members) for the audit tests."""

from tests.members.conftest import member_a, member_b, org_tree, secretary_a, secretary_b  # noqa: F401

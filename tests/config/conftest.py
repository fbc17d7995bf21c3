from tests.members.conftest import member_a, org_tree, secretary_a  # noqa: F401

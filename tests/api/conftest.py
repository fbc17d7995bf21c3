import pytest
from rest_framework.test import APIClient

from audit import services as audit_services


@pytest.fixture
def api():
    """A client of the API as an app calls it: no cookies, a device token in the Authorization header."""
    return APIClient()


def bearer(client: APIClient, user, device: str = "测试手机") -> str:
    """Sign `client` in as `user` with a new device token; the token."""
    _row, token = audit_services.api_token_issue(user=user, device=device)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return token

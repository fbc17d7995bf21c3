"""Demo data for a newcomer's `make run`: one place that knows the demo sign-ins and composes each app's seed.

Each step adds its part to `seed()` by calling the seed function of its app (the site layer may import every app).
Everything here is idempotent: running it twice leaves the same data.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

DEMO_PASSWORD = "demo12345"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str


DEMO_ACCOUNTS: list[DemoAccount] = [
    DemoAccount("admin", "平台管理员 platform admin (/admin/)"),
]


@transaction.atomic
def seed(*, stdout=None) -> None:
    User = get_user_model()
    admin, created = User.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True, "first_name": "平台管理员"}
    )
    if created:
        admin.set_password(DEMO_PASSWORD)
        admin.save(update_fields=["password"])

"""Demo data for a newcomer's `make run`: one place that knows the demo sign-ins and composes each app's seed.

Each step adds its part to `seed()` by calling the seed function of its app (the site layer may import every app).
Everything here is idempotent: running it twice leaves the same data.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from demands import demo as demands_demo
from incentives import demo as incentives_demo
from members import demo as members_demo
from projects import demo as projects_demo
from training import demo as training_demo

DEMO_PASSWORD = "demo12345"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str


DEMO_ACCOUNTS: list[DemoAccount] = [
    DemoAccount("admin", "平台管理员 platform admin (/admin/)"),
    DemoAccount("shequ", "社区书记 secretary of 幸福里社区党委 (/admin/)"),
    DemoAccount("zhibu", "支部书记 secretary of 幸福里社区第一党支部 (/admin/)"),
    DemoAccount("dangyuan", "党员 member of 幸福里社区第一党支部 (/me/)"),
]


@transaction.atomic
def seed(*, members: int = 300, stdout=None) -> None:
    """`members`: how many members the demo street has (missing ones are added in bulk, none removed)."""
    User = get_user_model()
    admin, created = User.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True, "first_name": "平台管理员"}
    )
    if created:
        admin.set_password(DEMO_PASSWORD)
        admin.save(update_fields=["password"])
    # Lower layers first: training attendance and incentives' ledger build on the members and their records.
    members_demo.seed(members=members, password=DEMO_PASSWORD, stdout=stdout)
    training_demo.seed(stdout=stdout)
    incentives_demo.seed(stdout=stdout)
    demands_demo.seed(stdout=stdout)
    projects_demo.seed(stdout=stdout)

"""Demo data for a newcomer's `make run`: one place that knows the demo sign-ins and composes each app's seed.

Each step adds its part to `seed()` by calling the seed function of its app (the site layer may import every app).
Everything here is idempotent: running it twice leaves the same data.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from demands import demo as demands_demo
from incentives import demo as incentives_demo
from members import demo as members_demo
from members.models import Member, Organization
from news import demo as news_demo
from projects import demo as projects_demo
from training import demo as training_demo

from .models import Plan, PlanTarget, Task

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
    news_demo.seed(stdout=stdout)
    _plans(stdout=stdout)
    # Last: the finished rating periods rate the hours every app above has recorded.
    incentives_demo.seed_ratings(stdout=stdout)


def _plans(stdout=None) -> None:
    """This year's plan of the top organization with its targets and three tasks, one of them overdue."""
    top = Organization.objects.filter(parent=None).order_by("path").first()
    if top is None:
        return
    today = timezone.localdate()
    plan, _created = Plan.objects.get_or_create(
        organization=top,
        year=today.year,
        defaults={"title": "党员志愿服务发展规划", "summary": "以群众需求为导向，推动志愿服务经常化、品牌化。"},
    )
    for metric, value in (
        (PlanTarget.Metric.HOURS_PER_MEMBER, "12"),
        (PlanTarget.Metric.WISHES_FULFILLED, "60"),
        (PlanTarget.Metric.PARTICIPATION_RATE, "80"),
        (PlanTarget.Metric.TRAINING_HOURS, "8"),
        (PlanTarget.Metric.PROJECTS_RUN, "5"),
    ):
        PlanTarget.objects.get_or_create(plan=plan, metric=metric, defaults={"value": Decimal(value)})
    child = Organization.objects.filter(parent=top).order_by("path").first() or top
    member = Member.objects.filter(user__username="dangyuan").first()
    tasks = [
        ("建立社区助老服务队", {"assignee_organization": child, "due_on": today - timedelta(days=20)}),
        ("每季度开展一次“微心愿”集中认领", {"assignee_organization": child, "due_on": today + timedelta(days=60)}),
    ]
    if member is not None:
        tasks.append(("组织法律咨询进社区", {"assignee_member": member, "due_on": today + timedelta(days=30)}))
    for title, fields in tasks:
        Task.objects.get_or_create(plan=plan, title=title, defaults=fields)
    if stdout:
        stdout.write(
            f"site: plan {plan.year} of {top.name}, {plan.targets.count()} targets, {plan.tasks.count()} tasks"
        )

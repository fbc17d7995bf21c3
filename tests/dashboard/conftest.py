"""The dashboard's hand-computed street (year 2025), on the members personas.

幸福街道党工委 → 东社区党委 → 东一支部 (branch A) and 西社区党委 → 西一支部 (branch B). Secretaries are members too:
王书记 (A), 钱书记 (east, homed in A), 赵书记 (B). Records travel with their member (selectors' rule), so:

| member | branch | status | counted 2025 records | note |
|---|---|---|---|---|
| 王书记, 钱书记 | A | active | — | |
| a1 李明 | A | active | 03-10 2 h, 11-20 3 h | active (in the 90 days up to 12-31) |
| a2 周强 | A | active | — (2024-12-31 5 h) | on the follow-up list |
| a3 吴老 | A | exempt | 05-01 1 h | hours count, not on the roster |
| 赵书记 | B | active | — | |
| b1 孙丽 | B | active | 06-01 4 h (+ a pending and a void one) | |
| t 郑转 | A → B on 07-01 | active | 04-01 2 h (in A), 09-01 1.5 h (in B) | all 3.5 h count for B |

Branch A: 4 members, 1 participant, 1 active, 6.00 h in 3 services; B: 3 members, 2 participants, 0 active,
7.50 h in 3 services. Street: 7, 3, 1, 13.50 h, 6 services.

Wishes (community A serves A, community B serves B), hours between states:
w1 A: created 02-01, verified 02-02 10:00, published 02-02 12:00, claimed +24 h, fulfilled +48 h, confirmed, ★5
w2 A: created 03-01, verified/published 03-01 12:00, claimed +6 h, fulfilled +24 h, confirmed, ★3
w3 A: created 04-01, verified/published 04-02 00:00, claimed +12 h
w4 A: created 05-01 (submitted only)
w5 B: created 06-01, verified/published 06-01 08:00, claimed +2 h, fulfilled +10 h (not confirmed)
"""

import copy
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from demands.models import MicroWish
from incentives import services as incentives_services
from incentives.models import RatingRun, StarRating
from members.models import Member, ServiceRecord
from members.services import member_transfer
from tests.demands.factories import wish_in_state
from tests.members.factories import MemberFactory
from tests.personas import _MAKERS, build_org_tree, module_rows
from training.models import AnnualRequirement, Course, TrainingRecord
from volunteer_platform.models import Plan, PlanTarget, Task

TZ = ZoneInfo("Asia/Shanghai")
YEAR = 2025


def at(month: int, day: int, hour: int = 0, year: int = YEAR) -> datetime:
    return datetime(year, month, day, hour, tzinfo=TZ)


def record(member, day: date, hours: str, *, status=ServiceRecord.Status.VERIFIED, organization=None):
    start = datetime.combine(day, datetime.min.time(), tzinfo=TZ).replace(hour=9)
    return ServiceRecord.objects.create(
        member=member,
        date=day,
        started_at=start,
        ended_at=start + timedelta(hours=5),
        place="社区活动中心",
        content="入户走访",
        hours=Decimal(hours),
        organizer="王书记",
        recording_organization=organization or member.organization,
        status=status,
        verified_at=start if status in ServiceRecord.COUNTED_STATUSES else None,
        voided_at=start if status == ServiceRecord.Status.VOID else None,
    )


def _wish(state, community, secretary, member, created, published=None, claimed=None, fulfilled=None, rating=None):
    wish = wish_in_state(state, community, secretary, member)
    fields = {"created_at": created}
    if published:
        fields.update(verified_at=published, published_at=published)
    if claimed:
        fields["claimed_at"] = claimed
    if fulfilled:
        fields["fulfilled_at"] = fulfilled
    if rating:
        fields.update(rating=rating, confirmed_at=fulfilled + timedelta(days=1))
    MicroWish.objects.filter(pk=wish.pk).update(**fields)
    return wish


@pytest.fixture
def street(org_tree, secretary_a, secretary_b, east_secretary, platform_admin):
    return build_dashboard_street(org_tree, secretary_a, secretary_b, east_secretary, platform_admin)


@pytest.fixture(scope="module")
def _module_street(django_db_setup, django_db_blocker):
    with module_rows(django_db_blocker):
        tree = build_org_tree()
        personas = [_MAKERS[name](tree) for name in ("secretary_a", "secretary_b", "east_secretary", "platform_admin")]
        yield build_dashboard_street(tree, *personas)


@pytest.fixture
def shared_street(_module_street, db):
    """The street made once for the module (module_rows), for a module whose tests only read it or write in their
    own savepoint; each test gets a copy (`copy.deepcopy`), so what one test changes in the objects does not reach
    the next. A module takes it as its `street` with `def street(shared_street): return shared_street` (the
    scheduler in tests/conftest.py then sends the module's tests to one worker)."""
    return copy.deepcopy(_module_street)


def build_dashboard_street(org_tree, secretary_a, secretary_b, east_secretary, platform_admin) -> SimpleNamespace:
    t = org_tree
    a1 = MemberFactory(user__username="a1", name="李明", organization=t.branch_a)
    a2 = MemberFactory(user__username="a2", name="周强", organization=t.branch_a)
    a3 = MemberFactory(user__username="a3", name="吴老", organization=t.branch_a)
    b1 = MemberFactory(user__username="b1", name="孙丽", organization=t.branch_b)
    moved = MemberFactory(user__username="moved", name="郑转", organization=t.branch_a)

    record(a1, date(YEAR, 3, 10), "2")
    record(a1, date(YEAR, 11, 20), "3")
    record(a2, date(YEAR - 1, 12, 31), "5")
    record(a3, date(YEAR, 5, 1), "1")
    record(b1, date(YEAR, 6, 1), "4")
    record(b1, date(YEAR, 6, 2), "2", status=ServiceRecord.Status.PENDING)
    record(b1, date(YEAR, 6, 3), "2", status=ServiceRecord.Status.VOID)
    record(moved, date(YEAR, 4, 1), "2", organization=t.branch_a)
    member_transfer(member=moved, to_organization=t.branch_b, actor=platform_admin, transferred_on=date(YEAR, 7, 1))
    moved.refresh_from_db()
    record(moved, date(YEAR, 9, 1), "1.5", organization=t.branch_b)
    Member.objects.filter(pk=a3.pk).update(status=Member.Status.EXEMPT)

    ca, cb = t.community_a, t.community_b
    _wish("confirmed", ca, secretary_a, a1, at(2, 1), at(2, 2, 12), at(2, 3, 12), at(2, 5, 12), rating=5)
    _wish("confirmed", ca, secretary_a, a1, at(3, 1), at(3, 1, 12), at(3, 1, 18), at(3, 2, 18), rating=3)
    _wish("claimed", ca, secretary_a, a1, at(4, 1), at(4, 2), at(4, 2, 12))
    _wish("submitted", ca, secretary_a, a1, at(5, 1))
    _wish("fulfilled", cb, secretary_b, b1, at(6, 1), at(6, 1, 8), at(6, 1, 10), at(6, 1, 20))

    # Redemptions of a1: one fulfilled (30 points), one cancelled (refunded: spends nothing).
    incentives_services.adjust(member=a1, points=100, actor=platform_admin, reason="测试")
    item = incentives_services.catalogue_item_create(stock=5, name="理发", points_cost=30, per_member_limit=None)
    kept = incentives_services.redemption_request(member=a1, item=item)
    incentives_services.redemption_approve(redemption=kept, actor=platform_admin)
    incentives_services.redemption_fulfil(redemption=kept, actor=platform_admin)
    dropped = incentives_services.redemption_request(member=a1, item=item)
    incentives_services.redemption_cancel(redemption=dropped, actor=platform_admin, reason="不需要了")
    kept.__class__.objects.filter(pk=kept.pk).update(requested_at=at(3, 1))
    kept.__class__.objects.filter(pk=dropped.pk).update(requested_at=at(4, 1))

    # Stars: a1 ★2 in 2024 then ★3 in 2025 (the latest final counts); b1 ★1.
    def rating(member, stars, year):
        run, _ = RatingRun.objects.get_or_create(
            organization=t.street,
            period_start=date(year, 1, 1),
            period_end=date(year, 12, 31),
            defaults={
                "status": RatingRun.Status.FINAL,
                "computed_at": at(12, 31, year=year),
                "published_at": at(12, 31, year=year),
                "publicity_ends_on": date(year, 12, 31),
                "finalized_at": at(12, 31, year=year),
            },
        )
        StarRating.objects.create(
            run=run,
            member=member,
            basis="hours",
            thresholds=[1],
            basis_value=1,
            computed_stars=stars,
            stars=stars,
            status=StarRating.Status.FINAL,
        )

    rating(a1, 2, YEAR - 1)
    rating(a1, 3, YEAR)
    rating(b1, 1, YEAR)

    # Training: 10 h required on the whole street; only a1 has 12 h.
    AnnualRequirement.objects.create(organization=t.street, year=YEAR, total_hours=Decimal("10"))
    course = Course.objects.create(type="theory", title="志愿服务条例", hours=Decimal("12"))
    TrainingRecord.objects.create(
        member=a1,
        course=course,
        hours=Decimal("12"),
        completed_on=date(YEAR, 5, 1),
        evidence="training/evidence/a1.pdf",
    )

    # The street's plan: one overdue task for branch A, one for a1 due later, one done.
    plan = Plan.objects.create(organization=t.street, year=YEAR, title="党员志愿服务年度规划")
    for metric, value in (
        (PlanTarget.Metric.HOURS_PER_MEMBER, "2"),
        (PlanTarget.Metric.WISHES_FULFILLED, "6"),
        (PlanTarget.Metric.PARTICIPATION_RATE, "50"),
        (PlanTarget.Metric.TRAINING_HOURS, "2"),
        (PlanTarget.Metric.PROJECTS_RUN, "2"),
    ):
        PlanTarget.objects.create(plan=plan, metric=metric, value=Decimal(value))
    overdue = Task.objects.create(
        plan=plan, title="建立助老服务队", assignee_organization=t.branch_a, due_on=date(YEAR, 6, 30)
    )
    later = Task.objects.create(plan=plan, title="开展法律咨询", assignee_member=a1, due_on=date(2099, 1, 1))
    done = Task.objects.create(
        plan=plan,
        title="完成年度培训",
        assignee_organization=t.branch_b,
        due_on=date(YEAR, 3, 1),
        status=Task.Status.DONE,
        completed_on=date(YEAR, 2, 28),
    )
    return SimpleNamespace(
        **vars(t),
        a1=a1,
        a2=a2,
        a3=a3,
        b1=b1,
        moved=moved,
        plan=plan,
        overdue=overdue,
        later=later,
        done=done,
        secretary_a=secretary_a,
        secretary_b=secretary_b,
        east_secretary=east_secretary,
        admin=platform_admin,
    )

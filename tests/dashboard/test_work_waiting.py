"""需要您处理 on the 工作台 (volunteer_platform.selectors.work_waiting): each count is of the secretary's own scope, and
the queue it links to shows exactly that many rows — for a branch secretary, for the other branch's, and when a row
leaves its queue. A dashboard page kept whole per person (core/member_cache.py) shows the new count at once."""

import re
from datetime import date, timedelta

import pytest
from django.test import Client

from demands import services as demand_services
from incentives import services as incentive_services
from members import services as member_services
from projects import services as project_services
from tests.demands.factories import submit_wish, wish_in_state
from tests.members.factories import MemberFactory
from tests.projects.factories import ActivityFactory, ProjectFactory, days_ahead_at
from volunteer_platform import selectors
from volunteer_platform.models import Plan, Task

pytestmark = pytest.mark.django_db

KEYS = (
    "wishes-to-verify",
    "attendance-due",
    "self-reports",
    "objections",
    "overdue-tasks",
    "wishes-to-confirm",
    "residence",
)
WAITING = re.compile(
    r'id="waiting-(?P<key>[a-z-]+)" href="(?P<url>[^"]+)">\s*<span class="card-body py-2">\s*'
    r'<span class="d-block h4 mb-0[^"]*" data-count>(?P<count>\d+)</span>'
)


def _side(t, branch, community, secretary, member, *, wishes: int):
    """Rows of every queue on one branch's side, `wishes` of them waiting for verification; and rows that wait for
    nobody (a marked activity, a future one, a done task, one not due yet)."""
    for _i in range(wishes):
        submit_wish(community)
    wish_in_state("confirmed", community, secretary, member)
    ended = ActivityFactory(project=ProjectFactory(organization=branch), starts_at=days_ahead_at(1, hour=9))
    project_services.signup_create(activity=ended, member=member)
    marked = ActivityFactory(project=ProjectFactory(organization=branch), starts_at=days_ahead_at(1, hour=14))
    marked_signup = project_services.signup_create(activity=marked, member=MemberFactory(organization=branch))
    later = ActivityFactory(project=ProjectFactory(organization=branch), starts_at=days_ahead_at(20))
    project_services.signup_create(activity=later, member=member)
    start = days_ahead_at(-2, hour=9)
    project_services.self_report_submit(
        member=member, started_at=start, ended_at=start + timedelta(hours=2), hours=2, place="村委会", content="助餐"
    )
    run = incentive_services.rating_run_create(
        organization=branch, period_start=date(2025, 1, 1), period_end=date(2025, 12, 31), actor=None
    )
    incentive_services.rating_run_compute(run=run)
    incentive_services.rating_run_publish(run=run, actor=None)
    incentive_services.objection_file(rating=run.ratings.get(member=member), member=member, text="漏记了服务")
    plan = Plan.objects.create(organization=branch, year=2026, title="年度规划")
    Task.objects.create(plan=plan, title="走访空巢老人", assignee_organization=branch, due_on=date(2026, 12, 1))
    Task.objects.create(
        plan=plan,
        title="已完成",
        assignee_organization=branch,
        due_on=date(2026, 12, 1),
        status="done",
        completed_on=date(2026, 12, 2),
    )
    Task.objects.create(plan=plan, title="明年", assignee_organization=branch, due_on=date(2027, 3, 1))
    return marked, marked_signup


@pytest.fixture
def queues(clock, org_tree, secretary_a, secretary_b, member_a, member_b):
    t = org_tree
    sides = [
        _side(t, t.branch_a, t.community_a, secretary_a, member_a, wishes=2),
        _side(t, t.branch_b, t.community_b, secretary_b, member_b, wishes=1),
    ]
    member_services.residence_register(member=member_b, community=t.community_a, actor=None)  # A confirms it
    clock.advance(3 * 24 * 3600)  # the activities of tomorrow have ended
    for (marked, signup), secretary in zip(sides, (secretary_a, secretary_b), strict=True):
        project_services.attendance_submit(activity=marked, marks={signup.pk: ("attended", None)}, actor=secretary)
    return t


def _shown(client: Client) -> dict[str, tuple[int, str]]:
    response = client.get("/dashboard/")
    assert response.status_code == 200
    found = {m["key"]: (int(m["count"]), m["url"]) for m in WAITING.finditer(response.content.decode())}
    assert tuple(found) == KEYS
    return found


def _rows_of_queue(client: Client, url: str) -> int:
    """How many rows the queue at `url` shows: the admin's changelist, the wish review's tab, the 双报到 queue."""
    response = client.get(url)
    assert response.status_code == 200, url
    context = response.context
    if "cl" in context:
        return context["cl"].result_count
    if "page" in context:
        return context["page"].paginator.count
    return len(context["registrations"])


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("secretary_a", {"wishes-to-verify": 2, "residence": 1}),
        ("secretary_b", {"wishes-to-verify": 1, "residence": 0}),
    ],
)
def test_each_count_is_of_the_own_scope_and_equals_the_rows_its_queue_shows(client, queues, persona, expected, request):
    client.force_login(request.getfixturevalue(persona))
    shown = _shown(client)
    everything_once = dict.fromkeys(KEYS, 1)
    assert {key: count for key, (count, _url) in shown.items()} == everything_once | expected
    for key, (count, url) in shown.items():
        assert _rows_of_queue(client, url) == count, key


def test_a_row_handled_leaves_its_count_and_its_queue(client, queues, secretary_a):
    client.force_login(secretary_a)
    wish = selectors.demand_selectors.review_queue(secretary_a, tab="submitted").first()
    demand_services.wish_reject(wish=wish, actor=secretary_a, reason="不属于本社区的服务范围")
    shown = _shown(client)
    assert shown["wishes-to-verify"][0] == 1 == _rows_of_queue(client, shown["wishes-to-verify"][1])


def test_a_member_without_a_scope_has_no_workbench(client, member_a):
    client.force_login(member_a.user)
    assert client.get("/dashboard/").status_code == 404


# --- A page kept whole per person (a snapshot's: dashboard_views.py) ------------------------------------------------


@pytest.fixture
def kept_pages(settings, queues):
    """Every organization gets a snapshot, so the default dashboard is kept whole per person."""
    from volunteer_platform import services

    settings.DASHBOARD_SNAPSHOT_MIN_MEMBERS = 1
    services.dashboard_snapshots_refresh()
    return queues


def test_a_kept_page_shows_a_handled_row_at_once(client, kept_pages, secretary_a, django_assert_max_num_queries):
    client.force_login(secretary_a)
    assert _shown(client)["wishes-to-verify"][0] == 2
    with django_assert_max_num_queries(2):  # kept: the user (and the session), no count
        assert _shown(client)["wishes-to-verify"][0] == 2
    wish = selectors.demand_selectors.review_queue(secretary_a, tab="submitted").first()
    demand_services.wish_reject(wish=wish, actor=secretary_a, reason="不属于本社区的服务范围")
    assert _shown(client)["wishes-to-verify"][0] == 1


def test_a_kept_page_is_not_served_once_an_activity_ends_with_its_attendance_due(
    client, clock, kept_pages, secretary_a, member_a, django_assert_max_num_queries
):
    from volunteer_platform import services

    activity = ActivityFactory(project=ProjectFactory(organization=kept_pages.branch_a), starts_at=days_ahead_at(1))
    project_services.signup_create(activity=activity, member=member_a)
    clock.now = activity.ends_at - timedelta(minutes=1)
    services.dashboard_snapshots_refresh()
    client.force_login(secretary_a)
    assert _shown(client)["attendance-due"][0] == 1
    with django_assert_max_num_queries(2):  # kept
        assert _shown(client)["attendance-due"][0] == 1
    clock.advance(120)  # the activity has ended, well within the kept page's timeout
    assert _shown(client)["attendance-due"][0] == 2


def test_a_kept_page_follows_every_wish_transition_and_outlives_claims_and_releases(
    client, clock, kept_pages, secretary_a, member_a
):
    """Each transition of a wish through the services, on the secretary's kept page: the counts shown always equal
    the live ones. A claim, a release, a fulfilment, an expiry or a publication (volunteer_platform/receivers.py:
    UNCOUNTED_WISH_STATES) keeps the version of every kept 需要您处理; the other transitions drop it."""
    from django.core.cache import cache

    from demands.models import MicroWish
    from tests.demands.factories import feedback_token, fulfil, verify

    community = kept_pages.community_a
    client.force_login(secretary_a)

    def shown_equals_live() -> object:
        """Render the page, compare its counts with the live ones; the version it was kept under."""
        live = selectors.demand_selectors.review_counts(secretary_a, tabs=selectors.WORK_WAITING_WISH_TABS)
        shown = _shown(client)
        assert (shown["wishes-to-verify"][0], shown["wishes-to-confirm"][0]) == (live["submitted"], live["confirm"])
        version = cache.get(selectors.WORK_WAITING_VERSION_KEY)
        assert version is not None
        return version

    def step(change, *, keeps: bool):
        before = shown_equals_live()
        result = change()
        assert (cache.get(selectors.WORK_WAITING_VERSION_KEY) == before) is keeps
        shown_equals_live()
        return result

    wish = step(lambda: submit_wish(community, title="想请人帮忙修门锁"), keeps=False)
    wish = step(lambda: verify(wish, secretary_a), keeps=False)
    wish = step(lambda: demand_services.wish_publish(wish=wish, actor=secretary_a), keeps=True)
    wish = step(lambda: demand_services.wish_claim(wish=wish, member=member_a), keeps=True)
    wish = step(lambda: demand_services.wish_release(wish=wish, member=member_a), keeps=True)
    wish = step(lambda: demand_services.wish_claim(wish=wish, member=member_a), keeps=True)
    wish = step(lambda: fulfil(wish, member_a), keeps=True)
    wish = step(
        lambda: demand_services.wish_report_unfulfilled(token=feedback_token(wish), comment="灯还是不亮"), keeps=True
    )
    wish = step(lambda: fulfil(wish, member_a), keeps=True)
    wish = step(lambda: demand_services.wish_rate(token=feedback_token(wish), rating=5, comment="谢谢"), keeps=False)
    step(lambda: demand_services.wish_confirm_service(wish=wish, actor=secretary_a), keeps=False)

    expiring = wish_in_state("published", community, secretary_a)
    MicroWish.objects.filter(pk=expiring.pk).update(claim_deadline=clock.now.date() - timedelta(days=1))
    step(lambda: demand_services.wish_expire(wish=expiring), keeps=True)
    rejected = submit_wish(community, title="想请人帮忙搬家具")
    step(lambda: demand_services.wish_reject(wish=rejected, actor=secretary_a, reason="不属于服务范围"), keeps=False)

    unanswered = wish_in_state("fulfilled", community, secretary_a, member_a, title="居民没有评价")
    clock.advance(timedelta(days=30))
    client.force_login(secretary_a)  # the session of a month ago has expired
    step(lambda: demand_services.wish_auto_close(wish=unanswered), keeps=False)

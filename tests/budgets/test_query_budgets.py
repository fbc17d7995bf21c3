"""Every page's query budget, in one table: what a page costs with small data, and the same with ten times the rows.

The data is the access table's street (tests/security/world.py), then `grow(n)` adds n more rows of everything a
page lists: members and their 双报到 registrations, service records, wishes (on the wall, in the review queue,
claimed), notifications, ledger entries, projects with activities and sign-ups, training sessions, catalogue
items and redemptions, offers, plan tasks. Each page is fetched with 2 and then with 20 rows of each kind, the
cache emptied before each fetch (so a cached page is measured on its miss), and must cost exactly its budget both
times. A page whose budget grows with the rows lists them one query per row: fix the page, not the budget.

To re-measure after a deliberate change: `BUDGETS_PRINT=1 pytest tests/budgets -s` prints the current counts.
"""

import itertools
import os
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone

from audit import services as audit_services
from demands import services as demand_services
from incentives import services as incentive_services
from members import services as member_services
from news import services as news_services
from notifications import services as notification_services
from projects import services as project_services
from tests.demands.factories import submit_wish, verify, wish_category
from tests.members.factories import MemberFactory, ServiceRecordFactory
from tests.projects.factories import ActivityFactory, ProjectFactory, days_ahead_at
from tests.queries import count_queries
from tests.security.args import url_for
from tests.security.routes import sign_in
from tests.security.world import build_world
from tests.training.factories import SessionFactory
from training import services as training_services
from volunteer_platform.models import Report, Task

pytestmark = pytest.mark.django_db

SMALL, LARGE = 2, 20

# fmt: off
BUDGETS = {
    # route name                      (persona,      queries)
    "home":                           ("anon",  3),  # + the newest public news
    "login":                          ("anon",  0),
    "sign_in_code":                   ("anon",  0),
    "password_reset":                 ("anon",  0),
    "second_factor_setup":            ("secretary_a",  7),  # + the account's two kinds of device
    "demands:privacy":                ("anon",  0),
    "demands:wall":                   ("anon",  4),
    "demands:new":                    ("anon",  4),
    "demands:track":                  ("anon",  0),
    "demands:track_status":           ("resident",  4),
    "demands:track_photo":            ("resident",  3),
    "demands:feedback":               ("anon",  1),
    "demands:detail":                 ("member_a",  7),
    "demands:photo":                  ("member_a",  4),
    "demands:fulfil":                 ("member_a",  5),
    "demands:mine":                   ("member_a",  5),
    "demands:offers":                 ("anon",  4),
    "demands:my_offers":              ("member_a",  8),
    "demands:offer_edit":             ("member_a",  8),
    "demands:my_pairings":            ("member_a",  8),
    "demands:visit_new":              ("member_a",  4),
    "demands:review":                 ("secretary_a",  6),
    "demands:review_detail":          ("secretary_a", 14),
    "projects:project_list":          ("anon",  5),
    "projects:project_detail":        ("anon",  7),
    "projects:project_qr":            ("anon",  1),
    "projects:activity_detail":       ("member_a",  7),
    "projects:activity_checkin":      ("member_a",  5),
    "projects:activity_checkin_qr":   ("secretary_a",  3),
    "projects:activity_checkin_screen": ("secretary_a",  4),
    "projects:attendance":            ("secretary_a",  4),
    "projects:my_activities":         ("member_a",  7),
    "projects:self_report":           ("member_a",  4),
    "projects:my_calendar":           ("member_a",  6),
    "projects:calendar_feed":         ("anon",  3),  # the feed, its activities, its training sessions
    "members:me":                     ("member_a", 17),  # + next: activities, wishes, unread, points; news; WeChat
    "members:me_profile":             ("member_a",  7),
    "members:me_residence":           ("member_a",  6),
    "members:me_records":             ("member_a",  9),
    "members:me_record_correction":   ("member_a",  6),
    "members:me_certificate":         ("member_a",  6),
    "members:me_data":                ("member_a",  5),
    "members:me_data_download":       ("member_a", 26),
    "members:member_certificate":     ("secretary_a",  9),
    "members:residence_queue":        ("secretary_a",  4),
    "notifications:inbox":            ("member_a",  4),
    "notifications:preferences":      ("member_a",  3),
    "incentives:points":              ("member_a", 12),
    "incentives:objection":           ("member_a",  4),
    "incentives:publicity":           ("member_a",  9),
    "incentives:leaderboard":         ("member_a",  6),
    "incentives:rewards":             ("member_a",  7),
    "incentives:exemplars":           ("anon",  1),
    "training:index":                 ("member_a", 10),
    "training:session_detail":        ("member_a",  6),
    "training:material_download":     ("member_a",  5),
    "training:evidence_download":     ("member_a",  3),
    "training:attendance":            ("secretary_a",  4),
    "training:external_record_new":   ("secretary_a",  5),
    "training:manage":                ("secretary_a",  5),
    "training:completion":            ("secretary_a", 10),
    "training:completion_export":     ("secretary_a", 12),
    "dashboard:index":                ("secretary_a", 28),  # wishes fulfilled, points; + 需要您处理 (6 counts)
    "dashboard:export":               ("secretary_a", 24),
    "dashboard:plans":                ("secretary_a",  4),
    "dashboard:plan":                 ("secretary_a",  6),
    "dashboard:task":                 ("secretary_a",  4),
    "dashboard:reports":              ("secretary_a",  4),  # the organization, the subtree's reports (one page)
    "dashboard:report_download":      ("secretary_a",  6),  # the report in scope; + the audit event
    "news:list":                      ("member_a",  5),
    "news:detail":                    ("member_a",  4),
    "news:photo":                     ("member_a",  4),
    "news:broadcast_new":             ("secretary_a",  4),
    "members:me_devices":             ("member_a",  3),  # session, user, the live tokens
    # The API, called as an app calls it: "app:<persona>" sends that persona's device token, no cookie (the token's
    # row and its user are one query; a session costs one more, for the session row, when its cache is empty).
    "api:schema":                     ("anon",  0),
    "api:docs":                       ("anon",  0),
    "api:wish_feedback":              ("anon",  1),  # the wish of the token
    "api:wish_wall":                  ("anon",  1),  # one cursor page, no COUNT
    "api:offer_list":                 ("anon",  1),  # one cursor page, no COUNT
    "api:wish_detail":                ("app:member_a",  6),  # token, wish, photos, member, contact rule
    "api:activity_list":              ("anon",  1),  # one page with its counts
    "api:activity_detail":            ("app:member_a",  4),  # token, activity, member, sign-up
    "api:me":                         ("app:member_a",  6),  # token, member, hours, points, stars, unread
    "api:me_records":                 ("app:member_a",  3),  # token, member, one page
    "api:me_points":                  ("app:member_a",  3),  # token, member, one page
    "api:me_certificate":             ("app:member_a",  5),  # as /me/certificate.pdf, with the token
    "api:me_inbox":                   ("app:member_a",  2),  # token, one page
    "api:me_devices":                 ("app:member_a",  2),  # token, the live tokens
    "api:me_stars":                   ("app:member_a",  5),  # token, member, ratings, objections, live values
    "api:me_preferences":             ("app:member_a",  2),  # token, the chosen preferences
    "api:training_sessions":          ("app:member_a",  3),  # token, member, one page with seats and own enrollment
    "api:reward_list":                ("app:member_a",  5),  # token, member, balance, stars, one page
    "api:redemption_list":            ("app:member_a",  3),  # token, member, one page
    "api:review_queue":               ("app:secretary_a",  4),  # token, scope, one page
    "api:attendance_sheet":           ("app:secretary_a",  3),  # token, the activity with its counts, the rows
    "api:self_report_queue":          ("app:secretary_a",  3),  # token, scope, one page
}
# fmt: on

# SQLite has no percentile_cont: the dashboard's wish medians take a second query there (the durations, the median
# in Python); PostgreSQL computes them in the figures' own query.
SQLITE_EXTRA = {"dashboard:index": 1, "dashboard:export": 1}

_n = itertools.count(1)


def grow(w, n: int) -> None:
    """n more rows of every kind the pages above list, all in branch A / community A or of member A."""
    category = wish_category("助老")
    today = timezone.localdate()
    for _i in range(n):
        i = next(_n)
        newcomer = MemberFactory(organization=w.branch_a)
        member_services.residence_register(member=newcomer, community=w.community_a, actor=None)
        record = ServiceRecordFactory(member=w.member_a, start=timezone.localtime() - timedelta(days=2 + i))
        member_services.service_record_verify(record=record, verifier=w.secretary_a)

        submit_wish(w.community_a, category=category)  # the review queue
        published = demand_services.wish_publish(
            wish=verify(submit_wish(w.community_a, category=category), w.secretary_a), actor=w.secretary_a
        )
        demand_services.wish_claim(wish=published, member=w.member_a)
        demand_services.wish_publish(  # stays on the wall
            wish=verify(submit_wish(w.community_a, category=category), w.secretary_a), actor=w.secretary_a
        )
        demand_services.offer_create(
            member=w.member_a, title=f"上门理发{i}", category=category, community=w.community_a
        )

        notification_services.notify(
            template="demands_rated",
            channel="inapp",
            user=w.member_a.user,
            dedupe_key=f"budgets:{i}",
            context={"title": "修理水龙头", "code": "X", "rating": 5, "link": "/wishes/"},
        )
        incentive_services.adjust(member=w.member_a, points=5, actor=w.admin, reason=f"测试{i}")
        item = incentive_services.catalogue_item_create(
            name=f"理发{i}", kind="service", points_cost=1, stock=5, organization=w.branch_a
        )
        incentive_services.redemption_request(member=w.member_a, item=item)

        activity = ActivityFactory(
            project=ProjectFactory(organization=w.branch_a), starts_at=days_ahead_at(10 + i, hour=9)
        )
        project_services.signup_create(activity=activity, member=w.member_a)
        project_services.signup_create(activity=w.activity, member=newcomer)
        reported_from = timezone.now() - timedelta(days=3 + i)
        project_services.self_report_submit(  # the self-report queue
            member=newcomer,
            started_at=reported_from,
            ended_at=reported_from + timedelta(hours=1),
            hours=1,
            place="村委会",
            content="助餐",
        )

        session = SessionFactory(organizer=w.branch_a, starts_at=days_ahead_at(10 + i, hour=14))
        training_services.enrollment_create(session=session, member=w.member_a)
        training_services.enrollment_create(session=w.session, member=newcomer)

        Task.objects.create(
            plan=w.plan, title=f"任务{i}", assignee_member=w.member_a, due_on=today + timedelta(days=30 + i)
        )
        Report.objects.create(  # the reports page's list, with its requesters
            organization=w.branch_a,
            kind="quarterly",
            year=2001 + i % 90,
            quarter=1 + i % 4,
            requested_by=w.secretary_a,
            status="failed",
            finished_at=timezone.now(),
        )

        for audience in ("public", "subtree"):  # the home page's and /me/'s news, and /news/
            news = news_services.news_create(
                actor=w.secretary_a,
                organization=w.branch_a,
                kind="notice",
                audience=audience,
                title=f"通知{i}",
                body="内容",
            )
            news_services.news_submit(news=news, actor=w.secretary_a)
            news_services.news_approve(news=news, actor=w.admin)


def measure(w) -> dict[str, int]:
    counts = {}
    clients = {}
    for name, (persona, _budget) in BUDGETS.items():
        if persona not in clients:
            clients[persona] = Client()
            if persona.startswith("app:"):
                user = getattr(w, persona.removeprefix("app:"))
                _row, token = audit_services.api_token_issue(user=getattr(user, "user", user), device="budget")
                clients[persona].defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
            else:
                sign_in(clients[persona], persona, w)
        client = clients[persona]
        url = url_for(name, w)
        response = None

        def get(client=client, url=url):
            nonlocal response
            response = client.get(url)

        cache.clear()
        n, _sqls = count_queries(get)
        assert response.status_code == 200, f"{name} as {persona}: GET {url} answered {response.status_code}"
        counts[name] = n
    return counts


def test_every_page_keeps_its_query_budget_with_ten_times_the_rows(platform_admin, settings):
    settings.WISH_MAX_OPEN_CLAIMS = LARGE + 5  # member A holds every claimed wish of the list
    w = build_world(platform_admin)
    grow(w, SMALL)
    small = measure(w)
    grow(w, LARGE - SMALL)
    large = measure(w)
    if os.environ.get("BUDGETS_PRINT"):
        for name, n in small.items():
            print(f"{name:34} {n:3} {large[name]:3}")
    extra = SQLITE_EXTRA if connection.vendor == "sqlite" else {}
    wrong = {
        name: (budget + extra.get(name, 0), small[name], large[name])
        for name, (_persona, budget) in BUDGETS.items()
        if not small[name] == large[name] == budget + extra.get(name, 0)
    }
    assert not wrong, "page: (budget, with 2 rows, with 20 rows)\n" + "\n".join(f"{k}: {v}" for k, v in wrong.items())


# Pages that answer 200 in the access table but have no budget here, and why.
NOT_BUDGETED = {
    "healthz": "the load balancer's probe: a fixed set of checks, tested in tests/site",
}


def test_every_page_of_the_access_table_has_a_budget():
    from tests.security.test_access_table import TABLE

    pages = {name for name, row in TABLE.items() if not name.startswith("admin:") and 200 in row.values()}
    assert pages - set(BUDGETS) == set(NOT_BUDGETED)
    assert set(BUDGETS) <= pages

"""Cache correctness in one table, like the query budgets: every service that changes what a cached page shows
(core/public_cache.py for anonymous visitors, core/member_cache.py for /me/ and friends) has a row — the page and
who views it, the service call, and the text the change makes appear (or disappear). The test renders the page,
checks that a second render is a hit (no query for an anonymous page, only the signed-in user for a member page),
runs the service, and renders again: the change must be there. A row that fails found a stale page: fix the
service (its `public_cache.changed` / `members_changed`, or a `watch` in the app's receivers), not the row.

The guard below keeps the member pages' watch list in step with a hand-kept list of what those pages show, so a
new model on /me/ without a `watch` fails here.
"""

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from types import SimpleNamespace

import pytest
from django.db.models.signals import m2m_changed, post_save
from django.test import Client

from demands import services as demand_services
from incentives import services as incentive_services
from members import services as member_services
from members.models import WeChatBinding
from projects import services as project_services
from projects.models import Post
from tests.demands.factories import feedback_token, fulfil, publish, submit_wish
from tests.incentives.conftest import add_hours, fund
from tests.projects.factories import ActivityFactory, ProjectFactory, days_ahead_at
from tests.queries import count_queries

pytestmark = pytest.mark.django_db


@dataclass
class Row:
    viewer: str  # "anon", or the persona whose page it is
    url: object  # the page's address, or a function of the world
    act: object  # the service call, given the world
    shows: object = None  # text on the page after the call (not before); or a function of the world
    hides: object = None  # text on the page before the call and gone after it
    setup: object = field(default=None)  # what the page needs before it is first rendered


def _seats(left: int, of: int = 10) -> str:
    return f'id="seats-left">{left} / {of}'


def _verified_hours(w):
    record = add_hours(w.member, 3, day=date(2026, 5, 1))  # pending
    member_services.service_record_verify(record=record, verifier=w.platform_admin)


def _rated_run(w):
    add_hours(w.member, 30, day=date(2026, 3, 1), verifier=w.platform_admin)
    w.run = incentive_services.rating_run_create(
        organization=w.member.organization,
        period_start=date(2026, 1, 1),
        period_end=date(2026, 12, 31),
        actor=w.secretary,
    )
    incentive_services.rating_run_compute(run=w.run)


def _attended(w):
    w.clock.now = w.activity.starts_at + timedelta(hours=1)  # the activity is under way
    project_services.attendance_submit(activity=w.activity, marks={w.signup.pk: ("attended", None)}, actor=w.secretary)


def _signed_up(w):
    w.signup = project_services.signup_create(activity=w.activity, member=w.member)


def _standing_post(w):
    w.post = project_services.post_save(
        post=Post(project=w.project, title="周六上午陪伴老人", weekday=5, start_time=time(9), minutes=120, places=2)
    )


def _published_wish(w):
    w.wish = publish(submit_wish(w.community), w.secretary)


def _claimed_wish(w):
    _published_wish(w)
    demand_services.wish_claim(wish=w.wish, member=w.member)


def _fulfilled_wish(w):
    _claimed_wish(w)
    fulfil(w.wish, w.member)


def _rated_wish(w):
    _fulfilled_wish(w)
    demand_services.wish_rate(token=feedback_token(w.wish), rating=5)


# fmt: off
def _wechat_bound(w) -> None:
    w.binding = WeChatBinding.objects.create(user=w.member.user, app="open", openid="o-cache", nickname="小周")


ROWS = {
    # Anonymous public pages (core/public_cache.py).
    "project publish": Row(
        "anon", "/projects/",
        act=lambda w: ProjectFactory(organization=w.branch, slug="xin", title="新时代文明实践"),
        shows="新时代文明实践"),
    "project edit": Row(
        "anon", "/projects/yinling/",
        act=lambda w: (setattr(w.project, "title", "银龄关爱·改"),
                       project_services.project_save(project=w.project, actor=None)),
        shows="银龄关爱·改"),
    "activity create": Row(
        "anon", "/projects/yinling/",
        act=lambda w: setattr(w, "new", ActivityFactory(project=w.project, starts_at=days_ahead_at(5))),
        shows=lambda w: f'id="activity-{w.new.pk}"'),
    "activity cancel": Row(
        "anon", "/projects/yinling/",
        act=lambda w: project_services.activity_cancel(activity=w.activity, actor=w.secretary, reason="下雨"),
        hides=lambda w: f'id="activity-{w.activity.pk}"'),
    "sign-up (activity page)": Row(
        "anon", lambda w: f"/activities/{w.activity.pk}/",
        act=_signed_up, shows=_seats(9), hides=_seats(10)),
    "sign-up (brand page)": Row(
        "anon", "/projects/yinling/",
        act=_signed_up, shows="剩余 9 / 10", hides="剩余 10 / 10"),
    "cancellation (activity page)": Row(
        "anon", lambda w: f"/activities/{w.activity.pk}/", setup=_signed_up,
        act=lambda w: project_services.signup_cancel(signup=w.signup), shows=_seats(10), hides=_seats(9)),
    "post claim (brand page)": Row(
        "anon", "/projects/yinling/", setup=_standing_post,
        act=lambda w: project_services.post_claim(post=w.post, member=w.member), shows="已认领 1 / 2",
        hides="已认领 0 / 2"),
    "attendance (brand page figures)": Row(
        "anon", "/projects/yinling/", setup=_signed_up,
        act=_attended, shows='id="figure-members">1<', hides='id="figure-members">0<'),
    "wish publish": Row(
        "anon", "/wishes/", act=_published_wish, shows="修理水龙头"),
    "wish claim": Row(
        "anon", "/wishes/", setup=_published_wish,
        act=lambda w: demand_services.wish_claim(wish=w.wish, member=w.member), hides="修理水龙头"),
    # Signed-in member pages (core/member_cache.py).
    "verified service record": Row(
        "member", "/me/", act=_verified_hours, shows='id="total-hours">3 ', hides='id="total-hours">0 '),
    "verified service record (records)": Row(
        "member", "/me/records/", act=_verified_hours, shows="2026-05-01"),
    "points": Row(
        "member", "/me/points/", act=lambda w: fund(w.member, 70), shows='id="points-balance">70<'),
    "profile edit": Row(
        "member", "/me/",
        act=lambda w: member_services.member_update_own_profile(member=w.member, name="李明明", phone="13900001111"),
        shows="李明明"),
    "rating publication": Row(
        "member", "/me/points/", setup=_rated_run,
        act=lambda w: incentive_services.rating_run_publish(run=w.run, actor=w.secretary),
        shows='id="publicity-stars"'),
    "resident's rating (claimer's /me/)": Row(
        "member", "/me/", setup=_fulfilled_wish,
        act=lambda w: demand_services.wish_rate(token=feedback_token(w.wish), rating=5),
        shows="5.0 分（1 次评价）"),
    "wish service confirmed (claimer's records)": Row(
        "member", "/me/records/", setup=_rated_wish,
        act=lambda w: demand_services.wish_confirm_service(wish=w.wish, actor=w.secretary),
        shows="实现微心愿"),
    "WeChat unbound (/me/)": Row(
        "member", "/me/", setup=_wechat_bound,
        act=lambda w: member_services.wechat_unbind(user=w.member.user, binding_id=w.binding.pk),
        hides="小周 · "),
}
# fmt: on


@pytest.fixture
def world(clock, org_tree, member_a, secretary_a, platform_admin):
    project = ProjectFactory(organization=org_tree.branch_a, slug="yinling", title="银龄关爱行动")
    return SimpleNamespace(
        clock=clock,
        branch=org_tree.branch_a,
        community=org_tree.community_a,
        member=member_a,
        secretary=secretary_a,
        platform_admin=platform_admin,
        project=project,
        activity=ActivityFactory(project=project, capacity=10),
    )


def _value(spec, w):
    return spec(w) if callable(spec) else spec


def _client(row: Row, w) -> Client:
    client = Client()
    if row.viewer != "anon":
        client.force_login(w.member.user)
    return client


def _render(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def _hit(client: Client, url: str, viewer: str) -> bool:
    """An anonymous hit makes no query; a member's makes one (the signed-in user)."""
    queries, _sql = count_queries(lambda: client.get(url))
    return queries == (0 if viewer == "anon" else 1)


@pytest.mark.parametrize("name", list(ROWS))
def test_a_service_that_changes_a_cached_page_is_seen_on_it(name, world):
    row = ROWS[name]
    w = world
    if row.setup:
        row.setup(w)
    client = _client(row, w)
    url = _value(row.url, w)
    before = _render(client, url)
    assert _hit(client, url, row.viewer), f"{name}: {url} is not served from the cache"
    if row.hides:
        assert _value(row.hides, w) in before, name
    row.act(w)
    after = _render(client, url)
    if row.shows:
        shown = _value(row.shows, w)
        assert shown not in before, f"{name}: the row's text is on the page already"
        assert shown in after, f"{name}: {url} is stale after the service"
    if row.hides:
        assert _value(row.hides, w) not in after, f"{name}: {url} is stale after the service"


# What the cached member pages (/me/, /me/records/, /me/points/, the dashboard from a snapshot) show, by model:
# each must be watched (core.member_cache.watch / watch_*_m2m in the owning app's receivers.py). A model added to
# those pages goes here and gets its watch; one that leaves them goes from both.
SHOWN_ON_MEMBER_PAGES = {
    "auth.User",
    "members.Member",
    "members.Member_skills",
    "members.Member_interests",
    "members.Organization_admins",
    "members.ResidenceRegistration",
    "members.ServiceRecord",
    "members.ServiceRecordCorrection",
    "members.WeChatBinding",  # /me/: the bound WeChat and its unbind button
    "members.Organization",
    "members.Community",
    "members.Grid",
    "members.Tag",
    "incentives.LedgerEntry",
    "incentives.PointsBalance",
    "incentives.IncentiveProfile",
    "incentives.Redemption",
    "incentives.StarRating",
    "incentives.Objection",
    "incentives.Commendation",
    "incentives.Rule",
    "incentives.CatalogueItem",
    "incentives.RatingRun",
    "incentives.StarScheme",
    "projects.ActivitySurvey",
    "projects.Activity",  # /me/: the next activities
    "projects.SignUp",
    "notifications.Notification",  # /me/: the unread count
    "demands.MicroWish",
    "volunteer_platform.Task",
    "news.News",  # /me/: the news of the member's organizations
}


def _watched() -> set[str]:
    """The models the member cache's receivers are connected to (their dispatch uids name them)."""
    labels = set()
    for signal in (post_save, m2m_changed):
        for (uid, _sender_key), *_receiver in signal.receivers:
            if isinstance(uid, str) and uid.startswith("member_cache:"):
                labels.add(uid.removeprefix("member_cache:"))
    return labels


def test_every_model_the_member_pages_show_is_watched():
    assert _watched() == SHOWN_ON_MEMBER_PAGES

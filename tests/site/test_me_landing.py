"""我的 (/me/), where a member lands after signing in: their next actions — upcoming activities, claimed wishes to
fulfil and residents' orders to answer, unread messages, points and stars — each linking onward
(volunteer_platform.selectors.next_actions). The page is kept whole per person (core/member_cache.py): each of
these follows its rows at once."""

import re
from datetime import timedelta

import pytest

from demands import services as demand_services
from incentives import services as incentive_services
from notifications import services as notification_services
from notifications.selectors import unread_count
from projects import services as project_services
from tests.demands.factories import wish_category, wish_in_state
from tests.projects.factories import ActivityFactory, ProjectFactory, days_ahead_at
from volunteer_platform.selectors import NEXT_ACTIVITIES

pytestmark = pytest.mark.django_db


def _me(client) -> str:
    response = client.get("/me/")
    assert response.status_code == 200
    return response.content.decode()


def _section(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    return page[start : page.index("</ul>", start)]


def _figure(page: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}"[^>]*>\s*<span class="d-block h4 mb-0">([^<]*)</span>', page).group(1)


def _delivered(user, key: str) -> None:
    """An in-app message written to the outbox and delivered (its dispatch is the save /me/ follows)."""
    notification = notification_services.notify(
        template="demands_rated",
        channel="inapp",
        user=user,
        dedupe_key=f"me-landing:{key}",
        context={"title": "修理水龙头", "code": "X", "rating": 5, "link": "/wishes/"},
    )
    notification_services.notification_dispatch(notification_id=notification.pk)


@pytest.fixture
def signed_in(client, clock, member_a):
    client.force_login(member_a.user)
    return client


def test_the_next_activities_link_to_each_and_to_the_rest(signed_in, org_tree, member_a):
    project = ProjectFactory(organization=org_tree.branch_a)
    activities = [
        ActivityFactory(project=project, title=f"陪伴{i}", starts_at=days_ahead_at(2 + i))
        for i in range(NEXT_ACTIVITIES + 1)
    ]
    for activity in reversed(activities):
        project_services.signup_create(activity=activity, member=member_a)

    page = _me(signed_in)
    listed = re.findall(r'href="/activities/(\d+)/"', _section(page, "next-activities"))
    assert listed == [str(a.pk) for a in activities[:NEXT_ACTIVITIES]]  # the soonest first
    assert 'href="/me/activities/">还有 1 项，查看我的活动<' in page


def test_an_activity_leaves_the_list_when_cancelled_or_started(signed_in, clock, org_tree, member_a):
    project = ProjectFactory(organization=org_tree.branch_a)
    soon, later = (ActivityFactory(project=project, starts_at=days_ahead_at(d)) for d in (2, 5))
    signup = project_services.signup_create(activity=soon, member=member_a)
    project_services.signup_create(activity=later, member=member_a)
    assert f'href="/activities/{soon.pk}/"' in _me(signed_in)

    project_services.signup_cancel(signup=signup)
    assert f'href="/activities/{soon.pk}/"' not in _me(signed_in)  # the kept page followed the sign-up

    project_services.activity_cancel(activity=later, actor=None)
    assert 'id="next-activities-empty"' in _me(signed_in)  # … and the activity (its sign-ups change in bulk)


def test_a_kept_page_is_not_served_once_the_first_activity_has_started(signed_in, clock, org_tree, member_a):
    activity = ActivityFactory(project=ProjectFactory(organization=org_tree.branch_a), starts_at=days_ahead_at(1))
    project_services.signup_create(activity=activity, member=member_a)
    clock.now = activity.starts_at - timedelta(minutes=1)
    signed_in.force_login(member_a.user)
    assert f'href="/activities/{activity.pk}/"' in _me(signed_in)
    clock.advance(120)  # started, well within the kept page's timeout
    assert 'id="next-activities-empty"' in _me(signed_in)


def test_claimed_wishes_to_fulfil_and_orders_to_answer(signed_in, clock, org_tree, secretary_a, member_a):
    wish = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a)  # done: nothing to do
    page = _me(signed_in)
    assert re.findall(r'href="/wishes/(\d+)/"', _section(page, "next-wishes")) == [str(wish.pk)]
    assert "请尽快完成" not in page

    clock.advance(7 * 24 * 3600)  # the reminder's day: the claim is flagged
    signed_in.force_login(member_a.user)
    assert "请尽快完成" in _section(_me(signed_in), "next-wishes")

    demand_services.wish_release(wish=wish, member=member_a)
    assert 'id="next-wishes-empty"' in _me(signed_in)  # released: the former claimer's page follows

    offer = demand_services.offer_create(
        member=member_a, title="上门理发", category=wish_category(), community=org_tree.community_a
    )
    wish_in_state("published", org_tree.community_a, secretary_a, offer=offer)
    assert 'id="next-offers"' in _me(signed_in)


def test_unread_messages_points_and_stars_link_onward(signed_in, member_a, platform_admin):
    page = _me(signed_in)
    assert _figure(page, "next-unread") == "0" and _figure(page, "next-points") == "0"
    assert _figure(page, "next-stars") == "—"
    assert 'id="next-unread" href="/me/inbox/"' in page and 'id="next-points" href="/me/points/"' in page

    for key in ("a", "b"):
        _delivered(member_a.user, key)
    incentive_services.adjust(member=member_a, points=30, actor=platform_admin, reason="测试")
    page = _me(signed_in)
    assert _figure(page, "next-unread") == "2" == str(unread_count(member_a.user))
    assert _figure(page, "next-points") == "30"

    notification_services.inbox_mark_read(user=member_a.user)  # a bulk update: the service drops the page
    assert _figure(_me(signed_in), "next-unread") == "0"

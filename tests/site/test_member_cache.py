"""The per-person cache of /me/, /me/records/ and /me/points/ (core/member_cache.py): a repeat visit costs the
user's row only, and every write that changes what a page shows — from any app, through a service, a bulk write
or a plain save — is on the next visit, while other people's writes leave the page cached."""

import re
import threading
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from core import member_cache
from demands.models import MicroWish
from incentives import selectors as incentives_selectors
from incentives import services as incentives_services
from members import services as members_services
from members.models import Organization, Tag
from tests.dashboard.conftest import street  # noqa: F401
from tests.dashboard.test_feedback import TZ, _activity, _answer, answered  # noqa: F401
from tests.factories import DEFAULT_PASSWORD
from tests.incentives.conftest import add_hours, fund
from tests.queries import count_queries

PAGES = ("/me/", "/me/records/", "/me/points/")


@pytest.fixture
def a1(client, answered):  # noqa: F811
    assert client.login(username="a1", password=DEFAULT_PASSWORD)
    return answered.a1


def _get(client, path="/me/"):
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def _is_cached(client, path="/me/") -> bool:
    """A hit makes exactly one query (the signed-in user; the session comes from the cache) and renders nothing."""
    queries, _sqls = count_queries(lambda: client.get(path))
    return queries == 1


@pytest.mark.parametrize("path", PAGES)
def test_a_repeat_visit_costs_one_query_and_serves_the_same_page(client, a1, path):
    first = _get(client, path)
    queries, sqls = count_queries(lambda: client.get(path))
    assert queries == 1, sqls
    assert "auth_user" in sqls[0]
    second = _get(client, path)
    assert _without_csrf(second) == _without_csrf(first)
    assert f'id="nav-user">{a1.user.get_full_name() or a1.user.get_username()}<' in second
    # The CSRF placeholder never reaches the browser: the visitor's own token is put back in.
    assert "__PUBLIC_CACHE_CSRF__" not in second
    assert 'name="csrfmiddlewaretoken" value="' in second


def _without_csrf(page: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page)


def test_each_person_sees_their_own_page(client, a1, answered):  # noqa: F811
    assert "李明" in _get(client)
    client.logout()
    assert client.login(username="a2", password=DEFAULT_PASSWORD)
    page = _get(client)
    assert "周强" in page and "李明" not in page


def test_the_language_is_part_of_the_key(client, a1):
    assert "我的主页" in _get(client)
    client.cookies["django_language"] = "en"
    english = _get(client)
    assert "我的主页" not in english and "My profile" in english


def test_a_page_cached_yesterday_is_not_served_today(client, a1, monkeypatch):
    _get(client)
    assert _is_cached(client)
    tomorrow = timezone.localdate() + timedelta(days=1)
    monkeypatch.setattr(member_cache.timezone, "localdate", lambda: tomorrow)
    assert not _is_cached(client)


def test_service_hours_reach_me_and_records(client, a1, platform_admin):
    before = _get(client)
    _get(client, "/me/records/")
    add_hours(a1, 3, day=date(2025, 5, 1), verifier=platform_admin)
    assert not _is_cached(client) and not _is_cached(client, "/me/records/")
    assert _get(client) != before
    assert "2025" in _get(client, "/me/records/")


def test_points_and_a_published_rating_reach_points(client, a1, secretary_a, platform_admin):
    _get(client, "/me/points/")
    fund(a1, 70)
    balance = incentives_selectors.balance_of(a1).balance
    assert f'id="points-balance">{balance}<' in _get(client, "/me/points/")
    assert _is_cached(client, "/me/points/")
    # A rating run's publication updates the ratings in bulk (no signals): the service drops the pages itself.
    add_hours(a1, 30, day=date(2025, 3, 1), verifier=platform_admin)
    _get(client, "/me/points/")
    run = incentives_services.rating_run_create(
        organization=a1.organization, period_start=date(2025, 1, 1), period_end=date(2025, 12, 31), actor=secretary_a
    )
    incentives_services.rating_run_compute(run=run)
    _get(client, "/me/points/")
    incentives_services.rating_run_publish(run=run, actor=secretary_a)
    assert not _is_cached(client, "/me/points/")
    assert "公示" in _get(client, "/me/points/")


def test_the_members_own_profile_change_reaches_me(client, a1):
    _get(client)
    tag = Tag.objects.create(kind=Tag.Kind.SKILL, name="理发")
    members_services.member_update_own_profile(member=a1, name="李明明", phone="13900001111", skills=[tag])
    page = _get(client)
    assert "理发" in page and "李明明" in page


def test_skills_changed_from_the_tags_side_reach_me(client, a1):
    tag = Tag.objects.create(kind=Tag.Kind.SKILL, name="修电脑")
    _get(client)
    tag.members_with_skill.add(a1)
    assert "修电脑" in _get(client)


def test_residents_ratings_and_survey_answers_reach_me(client, a1, answered):  # noqa: F811
    assert "4.0 分（2 次评价）" in _get(client)
    wish = MicroWish.objects.filter(claimed_by=a1, rating=3).get()
    wish.rating = 5
    wish.save()
    assert "5.0 分（2 次评价）" in _get(client)
    assert "5.0 分（1 份问卷）" in _get(client)
    _answer(_activity(answered.branch_a, datetime(2025, 4, 1, 9, tzinfo=TZ)), a1, 3)
    assert "4.0 分（2 份问卷）" in _get(client)


def test_a_renamed_organization_and_account_name_reach_every_page(client, a1):
    _get(client)
    branch = Organization.objects.get(pk=a1.organization_id)
    branch.name = "改名后的支部"
    branch.save()
    assert "改名后的支部" in _get(client)
    user = get_user_model().objects.get(pk=a1.user_id)
    user.first_name, user.last_name = "新名字", ""
    user.save()
    assert 'id="nav-user">新名字<' in _get(client)


def test_another_members_write_leaves_my_page_cached(client, a1, answered, platform_admin):  # noqa: F811
    _get(client)
    _get(client, "/me/points/")
    add_hours(answered.a2, 2, day=date(2025, 5, 2), verifier=platform_admin)
    fund(answered.a2, 10)
    assert _is_cached(client) and _is_cached(client, "/me/points/")


def test_a_waiting_message_is_shown_and_not_cached(client, a1):
    _get(client)
    response = client.post(
        "/me/profile/",
        {"name": "李明", "phone": "13900002222", "availability": ["sat-am"]},
        follow=True,
    )
    assert response.status_code == 200
    assert "个人信息已保存" in response.content.decode()
    assert "个人信息已保存" not in _get(client)
    assert _is_cached(client)


def test_signed_out_visitors_are_sent_to_sign_in(client, a1):
    _get(client)
    client.logout()
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302 and "login" in response["Location"]


def test_bulk_helpers_drop_only_the_named_people(client, a1, answered):  # noqa: F811
    _get(client)
    member_cache.members_changed([answered.a2.pk])
    assert _is_cached(client)
    member_cache.members_changed([a1.pk])
    assert not _is_cached(client)
    assert _is_cached(client)
    member_cache.everyone_changed()
    assert not _is_cached(client)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_page_rendered_while_a_write_is_uncommitted_is_not_served_after_the_commit(client, a1, platform_admin):
    """The race the second drop (after the commit) is for: a visit renders the old rows while a service's
    transaction is open, and stores that page under a version started after the first drop."""
    hours = re.compile(r'id="total-hours">([\d.]+) ')
    before = hours.search(_get(client)).group(1)
    written, commit = threading.Event(), threading.Event()
    errors = []

    def write():
        try:
            with transaction.atomic():
                add_hours(a1, 4, day=date(2025, 5, 3), verifier=platform_admin)
                written.set()
                assert commit.wait(30)
        except Exception as exc:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(exc)
            written.set()
        finally:
            connection.close()

    writer = threading.Thread(target=write)
    writer.start()
    assert written.wait(30)
    assert hours.search(_get(client)).group(1) == before  # rendered from the committed rows and stored
    commit.set()
    writer.join(30)
    assert not errors, errors
    assert Decimal(hours.search(_get(client)).group(1)) == Decimal(before) + 4

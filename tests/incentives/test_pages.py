"""Member pages (/me/points/, /rewards/, leaderboard, objection, consent) and the public /exemplars/ page: what they
show, who may open them, and a number of queries that does not grow with the rows."""

import itertools
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core import member_cache
from incentives import services
from incentives.models import Commendation, Objection, PointsBalance, RatingRun, Redemption, StarRating
from tests.incentives.conftest import fund, make_item
from tests.members.factories import MemberFactory
from tests.queries import assert_constant_queries, assert_get_queries

pytestmark = pytest.mark.django_db

_years = itertools.count(1990)


def login(client, member):
    client.force_login(member.user)
    return client


def add_rating(member, *, status=StarRating.Status.FINAL, stars=1, organization=None) -> StarRating:
    """A rating of a past period (one run per call) in the given status."""
    year = next(_years)
    ends = date(year, 12, 31)
    run = RatingRun.objects.create(
        organization=organization or member.organization,
        period_start=date(year, 1, 1),
        period_end=ends,
        status=status,
        publicity_ends_on=timezone.localdate() + timedelta(days=3)
        if status == RatingRun.Status.PUBLICITY
        else ends + timedelta(days=5),
        published_at=timezone.now(),
        finalized_at=timezone.now() if status == RatingRun.Status.FINAL else None,
    )
    return StarRating.objects.create(
        run=run,
        member=member,
        basis="hours",
        thresholds=[100, 300, 600, 1000, 1500],
        basis_value=100 * stars,
        computed_stars=stars,
        stars=stars,
        status=status,
    )


# --- What the pages show ----------------------------------------------------------------------------------------


def test_points_page_shows_balance_entries_redemptions_and_stars(client, member_a, secretary_a):
    fund(member_a, 120)
    services.award(member=member_a, rule="wish_fulfilled", idempotency_key="wish:1", note="帮王奶奶修水管")
    redemption = services.redemption_request(member=member_a, item=make_item(name="理发", points_cost=50))
    services.redemption_approve(redemption=redemption, actor=secretary_a)
    add_rating(member_a, stars=2)

    page = login(client, member_a).get(reverse("incentives:points")).content.decode()

    assert 'id="points-balance">90<' in page
    assert "实现微心愿《帮王奶奶修水管》" in page
    assert "兑换“理发”" in page
    redemption.refresh_from_db()
    assert redemption.pickup_code in page
    assert 'aria-label="2 星"' in page


def test_points_page_paginates_the_statement(client, member_a):
    for i in range(25):
        fund(member_a, 10, key=f"page:{i}")
    response = login(client, member_a).get(reverse("incentives:points"), {"page": 2})
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 5


def test_rewards_page_lists_the_catalogue_and_redeems(client, member_a):
    fund(member_a, 100)
    haircut = make_item(name="理发", points_cost=50, stock=3)
    books = make_item(name="图书", points_cost=300, stock=3)
    login(client, member_a)

    page = client.get(reverse("incentives:rewards")).content.decode()
    assert "理发" in page and "图书" in page and "积分不足" in page

    token = client.get(reverse("incentives:rewards")).context["token"]
    for _ in range(2):  # a double submit of the same form redeems once
        response = client.post(reverse("incentives:redeem", args=[haircut.pk]), {"token": token})
        assert response.status_code == 302
    assert Redemption.objects.filter(member=member_a).count() == 1
    assert PointsBalance.objects.get(member=member_a).balance == 50

    response = client.post(reverse("incentives:redeem", args=[books.pk]), {"token": "other"}, follow=True)
    assert "积分不足" in response.content.decode()
    assert Redemption.objects.filter(member=member_a).count() == 1


def test_redeeming_says_the_points_are_deducted_as_the_balance_shows(client, member_a):
    fund(member_a, 100)
    haircut = make_item(name="理发", points_cost=30, stock=3)
    login(client, member_a)

    response = client.post(reverse("incentives:redeem", args=[haircut.pk]), {"token": "t"}, follow=True)

    page = response.content.decode()
    said = [str(m) for m in response.context["messages"]]
    assert said == ["已提交兑换“理发”，已扣除 30 积分。书记审核后会通知您提货码；如您取消兑换或未获批准，积分将退还。"]
    assert "冻结" not in page
    assert response.context["balance"].balance == PointsBalance.objects.get(member=member_a).balance == 70
    assert "已扣除 30 积分，等待书记审核；取消兑换或未获批准时退还。" in page


def test_a_member_cancels_a_waiting_redemption_from_the_rewards_page(client, member_a):
    fund(member_a, 100)
    redemption = services.redemption_request(member=member_a, item=make_item(points_cost=40))
    login(client, member_a).post(reverse("incentives:redemption_cancel", args=[redemption.pk]))
    redemption.refresh_from_db()
    assert redemption.status == "cancelled"
    assert PointsBalance.objects.get(member=member_a).balance == 100


def test_the_leaderboard_masks_names_and_respects_the_opt_out(client, member_a, org_tree):
    others = [MemberFactory(name=name, organization=org_tree.branch_a) for name in ("张三丰", "王小二")]
    fund(member_a, 50)
    fund(others[0], 80)
    fund(others[1], 30)
    services.leaderboard_opt_out_set(member=others[1], opt_out=True)
    login(client, member_a)

    page = client.get(reverse("incentives:leaderboard")).content.decode()
    assert "张**" in page and "张三丰" not in page
    assert "李明" in page  # the member's own row
    assert "王" not in page.split('id="leaderboard"')[1].split("</ol>")[0]

    client.post(reverse("incentives:leaderboard_opt_out"), {"opt_out": "1"})
    page = client.get(reverse("incentives:leaderboard")).content.decode()
    assert "李明" not in page.split('id="leaderboard"')[1].split("</ol>")[0]
    assert "重新参加排行" in page


def test_the_leaderboard_of_a_higher_organization_ranks_its_whole_subtree(client, member_a, member_b, org_tree):
    fund(member_a, 50)
    fund(member_b, 70)
    login(client, member_a)
    branch_rows = client.get(reverse("incentives:leaderboard")).context["rows"]
    street_rows = client.get(reverse("incentives:leaderboard"), {"organization": org_tree.street.pk}).context["rows"]
    west_rows = client.get(reverse("incentives:leaderboard"), {"organization": org_tree.west.pk}).context["rows"]
    assert [row["points"] for row in branch_rows] == [50]
    assert [row["points"] for row in street_rows] == [70, 50]
    assert [row["points"] for row in west_rows] == [50]  # not on the member's path: their own branch instead


def test_a_member_files_an_objection_from_the_points_page(client, member_a):
    rating = add_rating(member_a, status=StarRating.Status.PUBLICITY, stars=0)
    login(client, member_a)
    assert (
        reverse("incentives:objection", args=[rating.pk]) in client.get(reverse("incentives:points")).content.decode()
    )

    response = client.post(reverse("incentives:objection", args=[rating.pk]), {"text": "漏记了两次活动"})

    assert response.status_code == 302
    assert Objection.objects.get(rating=rating).text == "漏记了两次活动"
    response = client.post(reverse("incentives:objection", args=[rating.pk]), {"text": "再提"})
    assert response.status_code == 200 and "等待答复" in response.content.decode()


def test_a_member_gives_and_withdraws_consent_on_the_points_page(client, member_a, secretary_a, east_secretary):
    commendation = services.commendation_nominate(member=member_a, title="优秀党员", citation="事迹", actor=secretary_a)
    services.commendation_approve(commendation=commendation, actor=east_secretary)
    login(client, member_a)
    assert "同意在先进典型页面展示" in client.get(reverse("incentives:points")).content.decode()

    client.post(reverse("incentives:commendation_consent", args=[commendation.pk]), {"consent": "1"})
    commendation.refresh_from_db()
    assert commendation.member_consented_at is not None

    client.post(reverse("incentives:commendation_consent", args=[commendation.pk]), {"consent": "0"})
    commendation.refresh_from_db()
    assert commendation.member_consented_at is None


# --- Who may open what ------------------------------------------------------------------------------------------


@pytest.fixture
def objects_of_b(member_b, secretary_b, east_secretary, org_tree):
    """Member B's rows, which member A must not reach (404)."""
    fund(member_b, 100)
    redemption = services.redemption_request(member=member_b, item=make_item(points_cost=10))
    commendation = Commendation.objects.create(
        member=member_b,
        organization=org_tree.branch_b,
        title="优秀",
        citation="事迹",
        status=Commendation.Status.APPROVED,
        decided_at=timezone.now(),
    )
    return {
        "item": make_item(organization=org_tree.west, points_cost=10),
        "redemption": redemption,
        "rating": add_rating(member_b, status=StarRating.Status.PUBLICITY),
        "commendation": commendation,
    }


MEMBER_PAGES = ("incentives:points", "incentives:rewards", "incentives:leaderboard")


@pytest.mark.parametrize("name", MEMBER_PAGES)
def test_member_pages_need_a_member_record(name, client, member_a, platform_admin):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    client.force_login(platform_admin)  # an account without a member record
    assert client.get(url).status_code == 404
    login(client, member_a)
    assert client.get(url).status_code == 200


def test_exemplars_are_public(client):
    assert client.get(reverse("incentives:exemplars")).status_code == 200


def test_another_members_rows_answer_404(client, member_a, objects_of_b):
    login(client, member_a)
    fund(member_a, 100)
    b = objects_of_b
    requests = [
        ("post", reverse("incentives:redeem", args=[b["item"].pk]), {}),
        ("post", reverse("incentives:redemption_cancel", args=[b["redemption"].pk]), {}),
        ("get", reverse("incentives:objection", args=[b["rating"].pk]), None),
        ("post", reverse("incentives:objection", args=[b["rating"].pk]), {"text": "x"}),
        ("post", reverse("incentives:commendation_consent", args=[b["commendation"].pk]), {"consent": "1"}),
    ]
    for method, url, data in requests:
        assert getattr(client, method)(url, data).status_code == 404, url
    b["redemption"].refresh_from_db()
    assert b["redemption"].status == "requested"
    assert not Objection.objects.exists()
    assert Commendation.objects.get().member_consented_at is None
    assert not Redemption.objects.filter(member=member_a).exists()


def test_writes_need_post(client, member_a, objects_of_b):
    login(client, member_a)
    assert client.get(reverse("incentives:redeem", args=[objects_of_b["item"].pk])).status_code == 405
    assert client.get(reverse("incentives:leaderboard_opt_out")).status_code == 405


# --- Queries ----------------------------------------------------------------------------------------------------


def test_points_page_queries_do_not_grow_with_rows(client, member_a, secretary_a):
    item = make_item(points_cost=1, stock=1000, per_member_limit=None)
    counter = itertools.count()

    def add_rows(n):
        for _ in range(n):
            i = next(counter)
            fund(member_a, 10, key=f"q:{i}")
            redemption = services.redemption_request(member=member_a, item=item)
            if i % 2:
                services.redemption_approve(redemption=redemption, actor=secretary_a)
            rating = add_rating(member_a, status=StarRating.Status.PUBLICITY if i % 2 else StarRating.Status.FINAL)
            Objection.objects.create(rating=rating, member=member_a, text="异议", stars_before=1)
            Commendation.objects.create(
                member=member_a,
                organization=member_a.organization,
                title=f"表彰{i}",
                citation="事迹",
                status=Commendation.Status.APPROVED,
                decided_at=timezone.now(),
            )

    login(client, member_a)
    url = reverse("incentives:points")
    assert_constant_queries(client, url, add_rows)
    # Rendered (the member's cached page dropped): user, member, balance, earned this year, entries count, entries
    # page, open redemptions, ratings, their objections, the hours the records give now for the ratings' periods,
    # commendations; the session comes from the cache.
    member_cache.users_changed([member_a.user_id])
    assert_get_queries(client, url, 11)
    # Served from the member's cached page (core/member_cache.py): the user only.
    assert_get_queries(client, url, 1)


def test_rewards_page_queries_do_not_grow_with_rows(client, member_a, org_tree):
    fund(member_a, 100000)
    counter = itertools.count()

    def add_rows(n):
        for _ in range(n):
            item = make_item(points_cost=1, organization=org_tree.east if next(counter) % 2 else None)
            services.redemption_request(member=member_a, item=item)

    login(client, member_a)
    url = reverse("incentives:rewards")
    assert_constant_queries(client, url, add_rows)
    # user, member, balance, current stars, catalogue with the member's counts, recent redemptions (the session
    # comes from the cache)
    assert_get_queries(client, url, 6)


def test_leaderboard_and_exemplars_queries_do_not_grow_with_rows(client, member_a, org_tree):
    def add_rows(n):
        for _ in range(n):
            member = MemberFactory(organization=org_tree.branch_a)
            fund(member, 10)
            Commendation.objects.create(
                member=member,
                organization=org_tree.branch_a,
                title="表彰",
                citation="事迹",
                status=Commendation.Status.APPROVED,
                decided_at=timezone.now(),
                published=True,
                member_consented_at=timezone.now(),
            )

    login(client, member_a)
    # user, member, the organizations on the member's path, the ranking, the member's opt-out (the session comes
    # from the cache)
    assert assert_constant_queries(client, reverse("incentives:leaderboard"), add_rows) == 5
    # user (the page is public; a signed-in visitor costs this one), count, page with members
    assert assert_constant_queries(client, reverse("incentives:exemplars"), add_rows) == 3

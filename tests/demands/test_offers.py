"""Service offers (供给清单) and 居民点单: a resident addresses a wish to an offer; after verification it goes to the
offering member, who accepts (= claims) or declines (back to the wall)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from demands import services
from demands.models import MicroWish, ServiceOffer
from notifications.models import Notification
from tests.demands.factories import make_team, publish, submit_wish
from tests.queries import assert_constant_queries

pytestmark = pytest.mark.django_db

State = MicroWish.State


@pytest.fixture
def offer(member_a, helping, org_tree):
    return services.offer_create(
        member=member_a, title="上门修理小家电", category=helping, community=org_tree.community_a, available_time="周末"
    )


def html(response) -> str:
    return response.content.decode()


def test_a_member_publishes_and_edits_offers(client, member_a, helping, org_tree):
    client.force_login(member_a.user)
    response = client.post(
        "/offers/mine/",
        {"title": "中小学数学辅导", "category": helping.pk, "available_time": "周六上午", "active": "on"},
    )
    assert response.status_code == 302
    offer = ServiceOffer.objects.get()
    assert (offer.member, offer.title, offer.active) == (member_a, "中小学数学辅导", True)

    client.post(
        f"/offers/{offer.pk}/edit/", {"title": "数学辅导（初中）", "category": helping.pk, "available_time": "周六"}
    )

    offer.refresh_from_db()
    assert (offer.title, offer.active) == ("数学辅导（初中）", False)


def test_bad_offer_input(client, member_a, helping):
    client.force_login(member_a.user)
    response = client.post("/offers/mine/", {"title": "<b>x</b>", "category": helping.pk})
    assert "请不要输入网页代码" in html(response)
    assert not ServiceOffer.objects.exists()


def test_only_the_owner_edits_an_offer(client, member_b, offer):
    client.force_login(member_b.user)
    assert client.get(f"/offers/{offer.pk}/edit/").status_code == 404
    with pytest.raises(ValidationError, match="只能修改自己的服务清单"):
        services.offer_update(offer=offer, member=member_b, title="改掉", category=offer.category)


def test_a_team_offer_needs_the_leader(org_tree, member_a, helping):
    team = make_team(org_tree.branch_a, leader=member_a, members=[member_a])
    offer = services.offer_create(member=member_a, team=team, title="组团义诊", category=helping)
    assert offer.provider_public_name == team.name
    other = make_team(org_tree.branch_a, leader=None, members=[member_a], name="另一队")
    with pytest.raises(ValidationError) as exc:
        services.offer_create(member=member_a, team=other, title="组团义诊", category=helping)
    assert exc.value.message_dict == {"team": ["只有服务队队长可以以服务队名义发布。"]}


def test_the_public_list_links_to_ordering(client, offer, member_b, helping):
    paused = services.offer_create(member=member_b, title="已暂停的服务", category=helping, active=False)
    page = html(client.get("/offers/"))
    assert "上门修理小家电" in page and paused.title not in page
    assert f'href="/wishes/new/?offer={offer.pk}"' in page
    assert offer.member.name not in page and offer.member.public_name in page  # 李* unless the member consented


def test_an_order_goes_to_the_offering_member_who_accepts(client, org_tree, secretary_a, member_a, member_b, offer):
    wish = submit_wish(org_tree.community_a, offer=offer)
    wish = publish(wish, secretary_a)

    assert wish.state == State.PUBLISHED and wish.offer_pending
    request = Notification.objects.get(template="demands_offer_request")
    assert request.recipient_user == member_a.user
    assert not Notification.objects.filter(template="demands_published").exists()
    assert f'id="wish-{wish.pk}"' not in html(client.get("/wishes/"))
    with pytest.raises(ValidationError, match="正在等待其答复"):
        services.wish_claim(wish=wish, member=member_b)
    with pytest.raises(ValidationError):
        services.wish_invite(wish=wish, member=member_b, actor=secretary_a)

    client.force_login(member_a.user)
    assert f"/wishes/{wish.pk}/" in html(client.get("/wishes/mine/"))
    page = html(client.get(f"/wishes/{wish.pk}/"))
    assert "接单（认领）" in page and "婉拒" in page
    client.post(f"/wishes/{wish.pk}/claim/")

    wish.refresh_from_db()
    assert (wish.state, wish.claimed_by, wish.offer_pending) == (State.CLAIMED, member_a, False)
    assert wish.events.last().action == "offer_accepted"


def test_a_declined_order_goes_to_the_wall(client, org_tree, secretary_a, member_a, member_b, offer):
    wish = publish(submit_wish(org_tree.community_a, offer=offer), secretary_a)
    client.force_login(member_b.user)
    response = client.post(f"/wishes/{wish.pk}/decline/", follow=True)
    assert "该心愿没有在等待您的答复。" in html(response)

    client.force_login(member_a.user)
    client.post(f"/wishes/{wish.pk}/decline/")

    wish.refresh_from_db()
    assert (wish.state, wish.offer_pending) == (State.PUBLISHED, False)
    assert f'id="wish-{wish.pk}"' in html(client.get("/wishes/"))
    assert services.wish_claim(wish=wish, member=member_b).claimed_by == member_b


def test_a_paused_offer_cannot_be_ordered(client, org_tree, offer, secretary_a):
    services.offer_pause(offer=offer, actor=secretary_a)
    with pytest.raises(ValidationError) as exc:
        submit_wish(org_tree.community_a, offer=offer)
    assert exc.value.message_dict == {"offer": ["该服务暂不接受点单，请直接提交心愿。"]}


def test_an_offer_paused_while_the_resident_fills_the_form(client, org_tree, helping, offer, secretary_a):
    services.offer_pause(offer=offer, actor=secretary_a)
    data = {
        "category": helping.pk,
        "title": "修电饭煲",
        "description": "电饭煲不加热了。",
        "community": org_tree.community_a.pk,
        "contact_name": "郑阿姨",
        "phone": "13900007777",
        "consent_processing": "on",
        "offer": offer.pk,
    }
    response = client.post("/wishes/new/", data)
    assert 'id="offer-error">该服务暂不接受点单，请直接提交心愿。<' in html(response)
    assert not MicroWish.objects.exists()


def test_an_order_of_an_offer_paused_after_submission_goes_to_the_wall(org_tree, secretary_a, offer):
    wish = submit_wish(org_tree.community_a, offer=offer)
    services.offer_pause(offer=offer, actor=secretary_a)
    wish = publish(wish, secretary_a)
    assert wish.state == State.PUBLISHED and not wish.offer_pending


def test_secretaries_pause_offers_in_the_admin(client, secretary_a, secretary_b, offer):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

    client.force_login(secretary_b)
    assert offer.title not in html(client.get(reverse("admin:demands_serviceoffer_changelist")))
    client.force_login(secretary_a)
    client.post(
        reverse("admin:demands_serviceoffer_changelist"),
        {"action": "pause_selected", ACTION_CHECKBOX_NAME: [offer.pk]},
    )
    offer.refresh_from_db()
    assert not offer.active


def test_the_offer_list_costs_the_same_with_more_rows(client, helping):
    from tests.members.factories import MemberFactory

    def add(n):
        for member in MemberFactory.create_batch(n):
            services.offer_create(member=member, title="修理", category=helping)

    assert_constant_queries(client, "/offers/", add)

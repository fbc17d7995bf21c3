"""The secretaries' admin for wishes: scoped lists, masked contacts, edits and actions through the services."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from demands.models import ContactAccessLog, MicroWish, WishCategory
from tests.demands.factories import submit_wish, wish_in_state
from tests.queries import assert_constant_queries

pytestmark = pytest.mark.django_db

State = MicroWish.State
CHANGELIST = "admin:demands_microwish_changelist"


def html(response) -> str:
    return response.content.decode()


def test_the_list_is_scoped_and_masks_contacts(client, org_tree, secretary_a):
    mine = submit_wish(org_tree.community_a, phone="13900001234")
    other = submit_wish(org_tree.community_b)
    client.force_login(secretary_a)

    page = html(client.get(reverse(CHANGELIST)))

    assert mine.tracking_code in page and other.tracking_code not in page
    assert "139****1234" in page and "13900001234" not in page and "张桂英" not in page


def test_the_change_page_edits_the_public_text_through_the_service(client, org_tree, secretary_a, wish_a):
    client.force_login(secretary_a)
    url = reverse("admin:demands_microwish_change", args=[wish_a.pk])
    page = html(client.get(url))
    assert "13900" not in page.replace(wish_a.tracking_code, "")  # the contact is masked here too
    assert reverse("demands:review_detail", args=[wish_a.pk]) in page
    assert not ContactAccessLog.objects.exists()

    response = client.post(
        url,
        {
            "public_title": "换水龙头",
            "public_description": "需要上门更换水龙头。",
            "category": wish_a.category_id,
            "grid": org_tree.grid_a.pk,
            "target_group": "disabled",
            "verification_note": "已电话核实",
            "claim_deadline": "",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, html(response)
    wish_a.refresh_from_db()
    assert (wish_a.public_title, wish_a.grid, wish_a.target_group, wish_a.state) == (
        "换水龙头",
        org_tree.grid_a,
        "disabled",
        State.SUBMITTED,
    )
    assert wish_a.events.last().action == "edited"


def test_a_claimed_wish_is_read_only_in_the_admin(client, org_tree, secretary_a, member_a):
    wish = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    client.force_login(secretary_a)
    page = html(client.get(reverse("admin:demands_microwish_change", args=[wish.pk])))
    assert 'name="public_title"' not in page


def _action(client, action, wishes, **extra):
    return client.post(
        reverse(CHANGELIST), {"action": action, ACTION_CHECKBOX_NAME: [w.pk for w in wishes], **extra}, follow=True
    )


def test_verify_and_publish_action(client, org_tree, secretary_a):
    wishes = [submit_wish(org_tree.community_a) for _i in range(2)]
    wishes.append(wish_in_state("verified", org_tree.community_a, secretary_a))
    client.force_login(secretary_a)

    response = _action(client, "verify_and_publish_selected", wishes)

    assert "已发布 3 个心愿。" in html(response)
    assert set(MicroWish.objects.values_list("state", flat=True)) == {State.PUBLISHED}


def test_a_failing_row_rolls_the_whole_action_back(client, org_tree, secretary_a, member_a):
    fresh = submit_wish(org_tree.community_a)
    claimed = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    client.force_login(secretary_a)

    response = _action(client, "verify_and_publish_selected", [fresh, claimed])

    assert "没有做任何更改" in html(response)
    fresh.refresh_from_db()
    assert fresh.state == State.SUBMITTED


def test_reject_action_asks_for_a_reason(client, org_tree, secretary_a, wish_a):
    client.force_login(secretary_a)
    page = _action(client, "reject_selected", [wish_a])
    assert 'name="reason"' in html(page)

    response = _action(client, "reject_selected", [wish_a], apply="1", reason="重复提交")

    assert "已不予受理 1 个心愿。" in html(response)
    wish_a.refresh_from_db()
    assert (wish_a.state, wish_a.reject_reason) == (State.REJECTED, "重复提交")


def test_confirm_service_action(client, org_tree, secretary_a, member_a):
    wish = wish_in_state("confirmed", org_tree.community_a, secretary_a, member_a)
    client.force_login(secretary_a)
    response = _action(client, "confirm_service_selected", [wish])
    assert "已确认 1 个心愿的服务。" in html(response)
    wish.refresh_from_db()
    assert wish.state == State.CLOSED


def test_an_out_of_scope_wish_is_refused_in_actions(client, org_tree, secretary_a, secretary_b):
    theirs = submit_wish(org_tree.community_b)
    client.force_login(secretary_a)
    _action(client, "verify_and_publish_selected", [theirs])
    theirs.refresh_from_db()
    assert theirs.state == State.SUBMITTED


def test_categories_are_shared_and_only_platform_admins_edit_them(client, secretary_a, platform_admin):
    category = WishCategory.objects.get(name="助老")
    url = reverse("admin:demands_wishcategory_change", args=[category.pk])
    client.force_login(secretary_a)
    assert client.get(reverse("admin:demands_wishcategory_changelist")).status_code == 200
    assert 'name="name"' not in html(client.get(url))
    client.force_login(platform_admin)
    assert 'name="name"' in html(client.get(url))


def test_contact_views_are_listed_in_scope(client, org_tree, secretary_a, secretary_b):
    mine = submit_wish(org_tree.community_a)
    theirs = submit_wish(org_tree.community_b)
    ContactAccessLog.objects.create(wish=mine, user=secretary_a, role="secretary")
    ContactAccessLog.objects.create(wish=theirs, user=secretary_b, role="secretary")
    client.force_login(secretary_a)
    page = html(client.get(reverse("admin:demands_contactaccesslog_changelist")))
    assert mine.tracking_code in page and theirs.tracking_code not in page


def test_the_admin_list_costs_the_same_with_more_rows(client, org_tree, secretary_a):
    client.force_login(secretary_a)
    assert_constant_queries(
        client, reverse(CHANGELIST), lambda n: [submit_wish(org_tree.community_a) for _i in range(n)]
    )

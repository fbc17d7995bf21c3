"""The secretaries' review queue and page: verify, publish, edit, reject, invite, confirm, block."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from demands.models import BlockedPhone, MicroWish
from incentives.models import LedgerEntry
from members.models import ServiceRecord
from members.services import residence_register
from notifications.models import Notification
from tests.demands.factories import submit_wish, wish_in_state
from tests.members.factories import MemberFactory, TagFactory

pytestmark = pytest.mark.django_db

State = MicroWish.State


def html(response) -> str:
    return response.content.decode()


def review_form(wish, **changes):
    data = {
        "public_title": "修理水龙头",
        "public_description": "厨房水龙头漏水，需要会修理的志愿者上门。",
        "category": wish.category_id,
        "grid": "",
        "target_group": "empty_nest",
        "note": "电话核实属实",
        "claim_deadline": "",
    }
    data.update(changes)
    return data


def test_the_queue_lists_the_scope_by_tab(client, org_tree, secretary_a, member_a):
    mine = submit_wish(org_tree.community_a)
    other = submit_wish(org_tree.community_b)
    in_progress = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    client.force_login(secretary_a)

    page = html(client.get(reverse("demands:review")))

    assert f'id="review-{mine.pk}"' in page and f'id="review-{other.pk}"' not in page
    assert "139****" in page and mine.contact_phone not in page  # masked in the list
    assert f'id="review-{in_progress.pk}"' in html(client.get(reverse("demands:review") + "?tab=published"))
    counts = re.findall(r'<span class="badge text-bg-secondary">(\d+)</span>', page)
    assert counts == ["1", "0", "1", "0", "0"]


def test_verify_and_publish_from_the_page(client, org_tree, secretary_a, wish_a):
    client.force_login(secretary_a)
    deadline = timezone.localdate() + timedelta(days=10)

    response = client.post(
        reverse("demands:review_save", args=[wish_a.pk]),
        review_form(wish_a, grid=org_tree.grid_a.pk, claim_deadline=deadline.isoformat(), action="verify_publish"),
        follow=True,
    )

    assert "已核实并发布到心愿墙。" in html(response)
    wish_a.refresh_from_db()
    assert (wish_a.state, wish_a.public_title, wish_a.grid, wish_a.claim_deadline) == (
        State.PUBLISHED,
        "修理水龙头",
        org_tree.grid_a,
        deadline,
    )
    assert wish_a.verification_note == "电话核实属实" and wish_a.verified_by == secretary_a
    assert [e.action for e in wish_a.events.all()] == ["submitted", "verified", "published"]


def test_verify_only_then_publish(client, secretary_a, wish_a):
    client.force_login(secretary_a)
    client.post(reverse("demands:review_save", args=[wish_a.pk]), review_form(wish_a, action="verify"))
    wish_a.refresh_from_db()
    assert wish_a.state == State.VERIFIED
    client.post(reverse("demands:review_save", args=[wish_a.pk]), review_form(wish_a, action="publish"))
    wish_a.refresh_from_db()
    assert wish_a.state == State.PUBLISHED


def test_bad_review_input_is_shown_and_nothing_changes(client, org_tree, secretary_a, wish_a):
    client.force_login(secretary_a)
    response = client.post(
        reverse("demands:review_save", args=[wish_a.pk]),
        review_form(wish_a, public_title="", grid=org_tree.grid_b.pk, claim_deadline="2000-01-01", action="verify"),
    )
    assert response.status_code == 400
    page = html(response)
    assert "这个字段是必填项。" in page and "选择一个有效的选项" in page and "认领截止日期不能早于今天。" in page
    wish_a.refresh_from_db()
    assert wish_a.state == State.SUBMITTED


def test_a_publish_failing_half_way_keeps_the_wish_unverified(client, secretary_a, wish_a, monkeypatch):
    from demands.services import review

    def broken(**kwargs):
        raise ValidationError("发布失败")

    monkeypatch.setattr(review, "wish_publish", broken)  # wish_review_save's publication step
    client.force_login(secretary_a)
    client.post(reverse("demands:review_save", args=[wish_a.pk]), review_form(wish_a, action="verify_publish"))
    wish_a.refresh_from_db()
    assert wish_a.state == State.SUBMITTED  # all or nothing


def test_reject_from_the_page(client, secretary_a, wish_a):
    client.force_login(secretary_a)
    assert client.post(reverse("demands:review_reject", args=[wish_a.pk]), {"reason": ""}).status_code == 400
    response = client.post(reverse("demands:review_reject", args=[wish_a.pk]), {"reason": "已由物业处理"}, follow=True)
    assert "已不予受理" in html(response)
    wish_a.refresh_from_db()
    assert (wish_a.state, wish_a.reject_reason) == (State.REJECTED, "已由物业处理")


def test_matching_ranks_members_with_reasons_and_invites(client, org_tree, secretary_a, helping):
    repair = TagFactory(name="水电维修")
    helping.tags.add(repair)
    handy = MemberFactory(organization=org_tree.branch_a, name="刘师傅", skills=[repair], availability=0b111 << 15)
    residence_register(member=handy, community=org_tree.community_a, grid=org_tree.grid_a, actor=None)
    plain = MemberFactory(organization=org_tree.branch_a, name="陈平")
    outsider = MemberFactory(organization=org_tree.branch_b, name="西边人")
    wish = wish_in_state("published", org_tree.community_a, secretary_a, grid=org_tree.grid_a)
    client.force_login(secretary_a)

    page = html(client.get(reverse("demands:review_detail", args=[wish.pk])))

    ranking = re.findall(r'<div class="fw-semibold">(\S+) <small', page)
    assert ranking[0] == "刘师傅" and "陈平" in ranking and "西边人" not in ranking
    for reason in ("特长/兴趣相符：水电维修", "住在本社区", "同一网格", "可服务时段与居民希望的时间相符"):
        assert reason in page
    response = client.post(reverse("demands:review_invite", args=[wish.pk]), {"member": handy.pk}, follow=True)
    assert "已邀请刘师傅认领。" in html(response)
    assert Notification.objects.filter(template="demands_invite", recipient_user=handy.user).exists()
    # Nobody outside the candidates can be invited.
    assert client.post(reverse("demands:review_invite", args=[wish.pk]), {"member": outsider.pk}).status_code == 404
    assert client.post(reverse("demands:review_invite", args=[wish.pk]), {"member": "x"}).status_code == 404
    assert plain  # ranked below the handyman


def test_a_busy_member_ranks_lower(org_tree, secretary_a):
    from demands.selectors import match_members

    busy = MemberFactory(organization=org_tree.branch_a, name="忙人")
    idle = MemberFactory(organization=org_tree.branch_a, name="闲人")
    wish_in_state("claimed", org_tree.community_a, secretary_a, busy)
    wish = wish_in_state("verified", org_tree.community_a, secretary_a)

    names = [m.member.name for m in match_members(wish)]

    assert names.index("闲人") < names.index("忙人")
    busy_match = next(m for m in match_members(wish) if m.member == busy)
    assert "已有1个认领尚未完成" in busy_match.reasons
    assert idle


def test_confirm_service_from_the_page(client, org_tree, secretary_a, member_a):
    wish = wish_in_state("confirmed", org_tree.community_a, secretary_a, member_a)
    client.force_login(secretary_a)
    page = html(client.get(reverse("demands:review") + "?tab=confirm"))
    assert f'id="review-{wish.pk}"' in page

    response = client.post(reverse("demands:review_confirm", args=[wish.pk]), follow=True)

    assert "已确认服务" in html(response)
    assert ServiceRecord.objects.get(source="wish").status == "verified"
    # The record's hours (service_hour, when it was verified), the wish and the resident's rating.
    assert LedgerEntry.objects.filter(member=member_a).count() == 3
    again = client.post(reverse("demands:review_confirm", args=[wish.pk]), follow=True)
    assert "已经确认过" in html(again)


def test_block_a_phone(client, secretary_a, wish_a):
    client.force_login(secretary_a)
    client.post(reverse("demands:review_block", args=[wish_a.pk]), {"reason": "恶意重复提交"})
    client.post(reverse("demands:review_block", args=[wish_a.pk]), {"reason": "再次"})
    blocked = BlockedPhone.objects.get()
    assert blocked.phone_hash == wish_a.phone_hash and blocked.phone_masked == "139****" + wish_a.contact_phone[-4:]


def test_counts_of_some_tabs_equal_those_of_all_tabs(
    org_tree, secretary_a, secretary_b, member_a, staff_without_scope, clock
):
    """The 工作台 asks review_counts for two tabs, counted part by part (demands.selectors.review_counts): each count
    equals the one the review page's count of every tab gives, a wish auto-closed without an answer included, for
    each scope (another branch's secretary sees none of them, a staff account without a scope nothing at all)."""
    from demands import selectors
    from demands import services as demand_services

    community = org_tree.community_a
    for state in ("submitted", "verified", "published", "claimed", "fulfilled", "confirmed", "closed", "rejected"):
        wish_in_state(state, community, secretary_a, member_a, title=f"心愿 {state}")
    unanswered = wish_in_state("fulfilled", community, secretary_a, member_a, title="居民没有评价")
    clock.advance(timedelta(days=30))
    demand_services.wish_auto_close(wish=unanswered)

    every = selectors.review_counts(secretary_a)
    # confirm: the confirmed wish and the auto-closed one; done: the closed (confirmed by the secretary) and rejected
    assert every == {"submitted": 1, "verified": 1, "published": 3, "confirm": 2, "done": 2}
    for tabs in (("submitted", "confirm"), ("confirm",), ("done", "verified"), ("published", "submitted")):
        assert selectors.review_counts(secretary_a, tabs=tabs) == {tab: every[tab] for tab in tabs}
    for user in (secretary_b, staff_without_scope):
        assert selectors.review_counts(user, tabs=("submitted", "confirm")) == {"submitted": 0, "confirm": 0}
        assert set(selectors.review_counts(user).values()) == {0}

"""Every transition of the micro-wish state machine (each forbidden one: test_forbidden_transitions.py)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from demands import services
from demands.models import MicroWish, WishEvent
from incentives.models import LedgerEntry
from members.models import ServiceRecord
from notifications.models import Notification
from tests.demands.factories import feedback_token, fulfil, make_team, submit_wish, verify, wish_in_state
from tests.members.factories import MemberFactory

pytestmark = pytest.mark.django_db

State = MicroWish.State
ALL_STATES = [s.value for s in State]


def events(wish) -> list[str]:
    return list(WishEvent.objects.filter(wish=wish).values_list("action", flat=True))


# --- The happy path ---------------------------------------------------------------------------------------------


def test_submit_stores_consents_encrypts_contact_and_texts_the_code(org_tree, helping, secretary_a):
    wish = submit_wish(org_tree.community_a, category=helping, phone="139 0000 1234", consent_display=True)

    assert wish.state == State.SUBMITTED
    assert len(wish.tracking_code) >= 10
    assert set(wish.tracking_code) <= set("23456789ABCDEFGHJKMNPQRSTUVWXYZ")
    assert wish.consent_processing_at is not None and wish.consent_version
    assert wish.consent_display and wish.consent_display_at is not None
    assert wish.contact_phone == "13900001234"
    assert wish.phone_hash and len(wish.phone_hash) == 64
    with connection.cursor() as cursor:
        cursor.execute("SELECT contact_phone, contact_name FROM demands_microwish WHERE id = %s", [wish.pk])
        raw = cursor.fetchone()
    assert "13900001234" not in raw[0] and "张桂英" not in raw[1]  # encrypted at rest
    assert events(wish) == ["submitted"]
    sms = Notification.objects.get(template="demands_submitted")
    assert sms.channel == "sms" and sms.recipient_phone == "13900001234"
    assert sms.context["code"] == wish.tracking_code
    notice = Notification.objects.get(template="demands_new_wish")
    assert notice.recipient_user == secretary_a


def test_tracking_codes_are_unique(org_tree, helping):
    codes = {submit_wish(org_tree.community_a, category=helping).tracking_code for _i in range(20)}
    assert len(codes) == 20


def test_the_whole_journey_records_service_and_points(org_tree, helping, secretary_a, member_a, settings):
    wish = submit_wish(org_tree.community_a, category=helping, grid=org_tree.grid_a)
    wish = verify(wish, secretary_a, public_title="修水龙头", category=helping)
    assert (wish.state, wish.public_title, wish.verified_by) == (State.VERIFIED, "修水龙头", secretary_a)
    wish = services.wish_publish(wish=wish, actor=secretary_a)
    assert wish.state == State.PUBLISHED
    assert wish.claim_deadline == timezone.localdate() + timedelta(days=settings.WISH_CLAIM_DAYS)
    wish = services.wish_claim(wish=wish, member=member_a)
    assert (wish.state, wish.claimed_by, wish.claimed_at is not None) == (State.CLAIMED, member_a, True)
    wish = fulfil(wish, member_a, hours=Decimal("1.5"))
    assert wish.state == State.FULFILLED and wish.feedback_token_hash
    wish = services.wish_rate(token=feedback_token(wish), rating=5, comment="很满意")
    assert (wish.state, wish.rating, wish.feedback_token_hash) == (State.CONFIRMED, 5, "")
    wish = services.wish_confirm_service(wish=wish, actor=secretary_a)

    assert wish.state == State.CLOSED and wish.closed_at and wish.service_confirmed_by == secretary_a
    record = ServiceRecord.objects.get(source="wish", source_ref=f"wish:{wish.pk}")
    assert record == wish.service_record
    assert (record.member, record.status, record.hours, record.evaluation) == (member_a, "verified", Decimal("1.5"), 5)
    assert record.recording_organization == org_tree.branch_a and record.verified_by == secretary_a
    assert "张桂英" not in record.beneficiary_summary and "139" not in record.content
    entries = {e.rule.code: e.points for e in LedgerEntry.objects.filter(member=member_a)}
    # The record's 1.5 hours (10 an hour), the wish and the resident's five stars (5 a star).
    assert entries == {"service_hour": 15, "wish_fulfilled": 20, "resident_rating": 25}
    assert events(wish) == ["submitted", "verified", "published", "claimed", "fulfilled", "confirmed", "closed"]
    templates = set(Notification.objects.values_list("template", flat=True))
    assert {"demands_published", "demands_claimed", "demands_fulfilled", "demands_rated", "demands_closed"} <= templates


def test_confirming_twice_records_and_awards_once(org_tree, secretary_a, member_a):
    wish = wish_in_state("closed", org_tree.community_a, secretary_a, member_a)

    with pytest.raises(ValidationError, match="已经确认过"):
        services.wish_confirm_service(wish=wish, actor=secretary_a)

    assert ServiceRecord.objects.filter(source="wish").count() == 1
    assert LedgerEntry.objects.filter(member=member_a).count() == 3  # hours, wish, rating


def test_a_low_rating_earns_no_bonus(org_tree, secretary_a, member_a):
    wish = wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a)
    wish = services.wish_rate(token=feedback_token(wish), rating=3)
    services.wish_confirm_service(wish=wish, actor=secretary_a)

    codes = LedgerEntry.objects.filter(member=member_a).values_list("rule__code", flat=True)
    assert sorted(codes) == ["service_hour", "wish_fulfilled"]


def test_reject_from_each_open_state_tells_the_resident(org_tree, secretary_a, member_a):
    for state in ("submitted", "verified", "published", "expired"):
        wish = wish_in_state(state, org_tree.community_a, secretary_a, member_a)
        wish = services.wish_reject(wish=wish, actor=secretary_a, reason="重复提交")
        assert (wish.state, wish.reject_reason) == (State.REJECTED, "重复提交")
        event = wish.events.last()
        assert (event.action, event.public, event.reason, event.actor) == ("rejected", True, "重复提交", secretary_a)
    assert Notification.objects.filter(template="demands_rejected").count() == 4


def test_reject_needs_a_reason(wish_a, secretary_a):
    with pytest.raises(ValidationError) as exc:
        services.wish_reject(wish=wish_a, actor=secretary_a, reason="  ")
    assert exc.value.message_dict == {"reason": ["请填写不予受理的原因。"]}
    wish_a.refresh_from_db()
    assert wish_a.state == State.SUBMITTED


def test_withdraw_from_each_unclaimed_state(org_tree, secretary_a, member_a):
    for state in ("submitted", "verified", "published", "expired"):
        wish = wish_in_state(state, org_tree.community_a, secretary_a, member_a)
        wish = services.wish_withdraw(wish=wish, reason="已经自己解决了")
        assert wish.state == State.WITHDRAWN
        assert wish.events.last().actor_kind == "resident"


def test_expire_tells_the_grid_leader_and_the_secretary(org_tree, secretary_a, member_a):
    org_tree.grid_a.leader = member_a
    org_tree.grid_a.save()
    wish = wish_in_state("published", org_tree.community_a, secretary_a, grid=org_tree.grid_a)
    MicroWish.objects.filter(pk=wish.pk).update(claim_deadline=timezone.localdate() - timedelta(days=1))

    assert services.wishes_expire_overdue() == 1

    wish.refresh_from_db()
    assert wish.state == State.EXPIRED
    recipients = set(Notification.objects.filter(template="demands_expired").values_list("recipient_user", flat=True))
    assert recipients == {secretary_a.pk, member_a.user_id}
    assert services.wishes_expire_overdue() == 0  # nothing twice


def test_expire_waits_for_the_deadline(org_tree, secretary_a):
    wish = wish_in_state("published", org_tree.community_a, secretary_a)
    with pytest.raises(ValidationError, match="还没有到"):
        services.wish_expire(wish=wish)
    assert services.wishes_expire_overdue() == 0


def test_an_expired_wish_can_be_published_again(org_tree, secretary_a):
    wish = wish_in_state("expired", org_tree.community_a, secretary_a)
    deadline = timezone.localdate() + timedelta(days=30)

    wish = services.wish_publish(wish=wish, actor=secretary_a, claim_deadline=deadline)

    assert (wish.state, wish.claim_deadline) == (State.PUBLISHED, deadline)


def test_release_returns_the_wish_to_the_wall_with_time_left(org_tree, secretary_a, member_a):
    wish = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    MicroWish.objects.filter(pk=wish.pk).update(claim_deadline=timezone.localdate() - timedelta(days=3))

    wish = services.wish_release(wish=wish, member=member_a, reason="临时出差")

    assert (wish.state, wish.claimed_by, wish.claimed_at) == (State.PUBLISHED, None, None)
    assert wish.claim_deadline == timezone.localdate() + timedelta(days=services.RELEASE_GRACE_DAYS)
    assert [e.action for e in wish.events.all()][-2:] == ["released", "release_reason"]
    assert not wish.events.get(action="release_reason").public


def test_not_yet_fulfilled_goes_back_to_the_claimer_and_the_secretary(org_tree, secretary_a, member_a):
    wish = wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a)
    token = feedback_token(wish)

    wish = services.wish_report_unfulfilled(token=token, comment="水龙头还在滴水")

    assert (wish.state, wish.fulfilled_at, wish.feedback_token_hash) == (State.CLAIMED, None, "")
    recipients = set(
        Notification.objects.filter(template="demands_not_fulfilled").values_list("recipient_user", flat=True)
    )
    assert recipients == {secretary_a.pk, member_a.user_id}
    with pytest.raises(ValidationError, match="评价链接无效"):  # the link is used up
        services.wish_rate(token=token, rating=5)
    # The claimer fulfils again and the resident gets a new link.
    wish = fulfil(wish, member_a)
    assert feedback_token(wish) != token
    assert services.wish_rate(token=feedback_token(wish), rating=4).state == State.CONFIRMED


def test_auto_close_after_the_feedback_period_then_the_secretary_confirms(clock, org_tree, secretary_a, member_a):
    wish = wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a)
    assert services.wishes_auto_close_unconfirmed() == 0
    clock.advance(timedelta(days=15))

    assert services.wishes_auto_close_unconfirmed() == 1

    wish.refresh_from_db()
    assert (wish.state, wish.rating, wish.service_confirmed_at) == (State.CLOSED, None, None)
    assert Notification.objects.filter(template="demands_auto_closed", recipient_user=secretary_a).exists()
    wish = services.wish_confirm_service(wish=wish, actor=secretary_a)
    assert wish.state == State.CLOSED and wish.service_record.status == "verified"
    assert wish.service_record.evaluation is None
    codes = LedgerEntry.objects.filter(member=member_a).values_list("rule__code", flat=True)
    assert sorted(codes) == ["service_hour", "wish_fulfilled"]
    assert wish.events.last().action == "service_confirmed"


def test_team_leader_claims_for_the_team(org_tree, secretary_a, member_a):
    team = make_team(org_tree.branch_a, leader=member_a, members=[member_a])
    wish = wish_in_state("published", org_tree.community_a, secretary_a)

    wish = services.wish_claim(wish=wish, member=member_a, team=team)

    assert (wish.claimed_by, wish.claimed_team) == (member_a, team)
    assert team.name in wish.events.last().reason


def test_invite_notifies_once(org_tree, secretary_a, member_a):
    wish = wish_in_state("published", org_tree.community_a, secretary_a)

    assert services.wish_invite(wish=wish, member=member_a, actor=secretary_a) is True
    assert services.wish_invite(wish=wish, member=member_a, actor=secretary_a) is False

    invite = Notification.objects.get(template="demands_invite")
    assert invite.recipient_user == member_a.user and f"/wishes/{wish.pk}/" in invite.context["link"]
    assert wish.state == State.PUBLISHED  # an invitation assigns nobody (条例 §25)


def test_claiming_an_unverified_wish_says_why(wish_a, member_a):
    with pytest.raises(ValidationError) as exc:
        services.wish_claim(wish=wish_a, member=member_a)
    assert exc.value.messages == ["该心愿待核实，不能认领。"]


def test_claiming_a_taken_wish_says_it_is_taken(org_tree, secretary_a, member_a, member_b):
    wish = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    with pytest.raises(ValidationError) as exc:
        services.wish_claim(wish=wish, member=member_b)
    assert exc.value.messages == ["该心愿已被其他党员认领。"]


def test_fulfilling_someone_elses_claim_is_refused(org_tree, secretary_a, member_a, member_b):
    wish = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    with pytest.raises(ValidationError) as exc:
        fulfil(wish, member_b)
    assert exc.value.messages == ["只能为自己认领的心愿登记实现情况。"]
    wish.refresh_from_db()
    assert wish.state == State.CLAIMED


def test_releasing_someone_elses_claim_is_refused(org_tree, secretary_a, member_a, member_b):
    wish = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    with pytest.raises(ValidationError, match="只有认领人本人"):
        services.wish_release(wish=wish, member=member_b)
    wish.refresh_from_db()
    assert wish.claimed_by == member_a


def test_nobody_confirms_their_own_claim(org_tree, secretary_a):
    own = secretary_a.member
    wish = wish_in_state("confirmed", org_tree.community_a, secretary_a, own)
    with pytest.raises(ValidationError, match="不能确认本人认领的心愿"):
        services.wish_confirm_service(wish=wish, actor=secretary_a)
    assert not ServiceRecord.objects.exists()


def test_an_inactive_member_cannot_claim(org_tree, secretary_a, member_a):
    from members.services import member_deactivate

    member_deactivate(member=member_a, actor=None)
    wish = wish_in_state("published", org_tree.community_a, secretary_a)
    with pytest.raises(ValidationError, match="只有在册党员"):
        services.wish_claim(wish=wish, member=member_a)


def test_only_the_team_leader_claims_for_a_team(org_tree, secretary_a, member_a):
    leader = MemberFactory(organization=org_tree.branch_a)
    team = make_team(org_tree.branch_a, leader=leader, members=[leader, member_a])
    wish = wish_in_state("published", org_tree.community_a, secretary_a)
    with pytest.raises(ValidationError) as exc:
        services.wish_claim(wish=wish, member=member_a, team=team)
    assert exc.value.message_dict == {"team": ["只有服务队队长可以代表服务队认领。"]}


def test_open_claims_are_limited(org_tree, secretary_a, member_a, settings):
    settings.WISH_MAX_OPEN_CLAIMS = 2
    for _i in range(2):
        wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    wish = wish_in_state("published", org_tree.community_a, secretary_a)
    with pytest.raises(ValidationError, match="2个认领尚未完成"):
        services.wish_claim(wish=wish, member=member_a)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (lambda now: {"note": ""}, {"note": ["请填写实现情况。"]}),
        (lambda now: {"hours": Decimal("5")}, "不能超过开始到结束的时间"),
        (
            lambda now: {"start": now + timedelta(hours=1), "end": now + timedelta(hours=2), "hours": 1},
            "不能晚于现在",
        ),
    ],
    ids=["no-note", "hours-over-span", "in-the-future"],
)
def test_bad_fulfilment_changes_nothing(org_tree, secretary_a, member_a, fields, message):
    wish = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    with pytest.raises(ValidationError) as exc:
        fulfil(wish, member_a, **fields(timezone.now()))
    if isinstance(message, dict):
        assert exc.value.message_dict == message
    else:
        assert message in " ".join(exc.value.messages)
    wish.refresh_from_db()
    assert wish.state == State.CLAIMED


@pytest.mark.parametrize("rating", [0, 6, None, "x"])
def test_rating_outside_one_to_five_is_refused(org_tree, secretary_a, member_a, rating):
    wish = wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a)
    with pytest.raises(ValidationError) as exc:
        services.wish_rate(token=feedback_token(wish), rating=rating)
    assert exc.value.message_dict == {"rating": ["请选择1到5星。"]}
    wish.refresh_from_db()
    assert wish.state == State.FULFILLED


def test_publish_refuses_a_deadline_in_the_past(org_tree, secretary_a):
    wish = verify(submit_wish(org_tree.community_a), secretary_a)
    with pytest.raises(ValidationError) as exc:
        services.wish_publish(wish=wish, actor=secretary_a, claim_deadline=timezone.localdate() - timedelta(days=1))
    assert exc.value.message_dict == {"claim_deadline": ["认领截止日期不能早于今天。"]}


def test_verify_refuses_a_grid_of_another_community(wish_a, secretary_a, org_tree):
    with pytest.raises(ValidationError) as exc:
        verify(wish_a, secretary_a, grid=org_tree.grid_b)
    assert exc.value.message_dict == {"grid": ["所选网格不属于该社区（村）。"]}


def test_public_text_cannot_be_edited_after_a_claim(org_tree, secretary_a, member_a):
    wish = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    with pytest.raises(ValidationError, match="被认领后不能再修改"):
        services.wish_update(
            wish=wish,
            actor=secretary_a,
            public_title="新标题",
            public_description="新内容新内容",
            category=wish.category,
            grid=None,
            target_group="general",
        )


# --- The database keeps the invariants even when code does not ---------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"state": "claimed"},  # claimed without a claimer
        {"rating": 6},
        {"state": "rejected"},  # without a reason
        {"state": "published"},  # without a deadline
        {"contact_phone": ""},  # phone gone, hash left
        {"tracking_code": "ABC"},
        {"consent_display": True},  # no consent time
        {"offer_pending": True},  # not published, no offer
    ],
    ids=lambda c: next(iter(c)) + "=" + str(next(iter(c.values()))),
)
def test_constraints_refuse_inconsistent_rows(wish_a, change):
    with pytest.raises(IntegrityError), transaction.atomic():
        MicroWish.objects.filter(pk=wish_a.pk).update(**change)


def test_a_published_wish_cannot_lose_its_claimer_half_way(org_tree, secretary_a, member_a):
    wish = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        MicroWish.objects.filter(pk=wish.pk).update(claimed_by=None)


def test_one_feedback_reminder_with_a_new_link(clock, org_tree, secretary_a, member_a, settings):
    wish = wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a)
    first = feedback_token(wish)
    assert services.wishes_remind_feedback() == 0  # too early
    clock.advance(timedelta(days=4))

    assert services.wishes_remind_feedback() == 1
    assert services.wishes_remind_feedback() == 0  # once

    reminder = Notification.objects.get(template="demands_feedback_reminder")
    new = reminder.context["link"].rstrip("/").rsplit("/", 1)[1]
    assert reminder.context["days"] == settings.WISH_FEEDBACK_DAYS - 4
    with pytest.raises(ValidationError, match="评价链接无效"):
        services.wish_rate(token=first, rating=5)
    assert services.wish_rate(token=new, rating=5).state == State.CONFIRMED

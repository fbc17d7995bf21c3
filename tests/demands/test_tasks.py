"""The demands app's scheduled tasks (volunteer_platform/schedules.py): each selection at its edges, nothing twice
when a task runs twice, the one feedback reminder, the auto-close and the retention purge of wishes and outbox."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from demands import services, tasks
from demands.models import MicroWish
from notifications.models import Notification
from tests.demands.factories import wish_in_state

pytestmark = pytest.mark.django_db


def _inapp(template):
    """(wish id, user id) of the in-app rows of `template`."""
    return set(
        Notification.objects.filter(template=template, channel="inapp").values_list(
            "context__wish_id", "recipient_user"
        )
    )


def test_escalates_unverified_wishes_after_48_hours_to_the_secretaries_once(clock, org_tree, secretary_a, secretary_b):
    with clock.back(timedelta(hours=49)):
        late = wish_in_state("submitted", org_tree.community_a, secretary_a)
        other = wish_in_state("submitted", org_tree.community_b, secretary_b)
        wish_in_state("verified", org_tree.community_a, secretary_a)
    with clock.back(timedelta(hours=47)):
        wish_in_state("submitted", org_tree.community_a, secretary_a)

    written = tasks.escalate_wishes()

    assert _inapp("demands_escalate_unverified") == {(late.pk, secretary_a.pk), (other.pk, secretary_b.pk)}
    row = Notification.objects.get(template="demands_escalate_unverified", channel="inapp", recipient_user=secretary_a)
    assert row.kind == "work" and row.context["community"] == org_tree.community_a.name
    assert written == Notification.objects.filter(template="demands_escalate_unverified").count()
    assert tasks.escalate_wishes() == 0  # beat fired twice: nothing new
    assert Notification.objects.filter(template="demands_escalate_unverified").count() == written


def test_expires_wishes_past_their_claim_deadline(clock, org_tree, secretary_a):
    due = wish_in_state("published", org_tree.community_a, secretary_a)
    today = wish_in_state("published", org_tree.community_a, secretary_a)
    MicroWish.objects.filter(pk=due.pk).update(claim_deadline=timezone.localdate() - timedelta(days=1))
    MicroWish.objects.filter(pk=today.pk).update(claim_deadline=timezone.localdate())

    assert tasks.escalate_wishes() == 1
    due.refresh_from_db()
    today.refresh_from_db()
    assert (due.state, today.state) == ("expired", "published")
    assert _inapp("demands_expired") == {(due.pk, secretary_a.pk)}
    assert Notification.objects.get(template="demands_expired", channel="inapp").kind == "work"
    assert tasks.escalate_wishes() == 0


def test_claims_unfulfilled_7_days_remind_the_claimer_and_14_days_the_secretaries(
    clock, org_tree, secretary_a, member_a, member_b
):
    wishes = {}
    for days in (6, 8, 13, 15):
        with clock.back(timedelta(days=days)):
            wishes[days] = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    with clock.back(timedelta(days=20)):
        wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_b)

    tasks.escalate_wishes()

    assert _inapp("demands_claim_reminder") == {(wishes[d].pk, member_a.user_id) for d in (8, 13, 15)}
    assert _inapp("demands_claim_overdue") == {(wishes[15].pk, secretary_a.pk)}
    reminder = Notification.objects.filter(template="demands_claim_reminder")
    assert set(reminder.values_list("kind", flat=True)) == {"wish_update"}
    # wish_update's default channels: the claimer is also texted (and emailed when they have an address).
    assert reminder.filter(channel="sms").count() == 3
    overdue = Notification.objects.get(template="demands_claim_overdue", channel="inapp")
    assert overdue.kind == "work" and overdue.context["who"] == member_a.public_name
    before = Notification.objects.count()
    assert tasks.escalate_wishes() == 0
    assert Notification.objects.count() == before


def test_a_new_claim_after_a_release_is_followed_again(clock, org_tree, secretary_a, member_a, member_b):
    wish = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    clock.advance(timedelta(days=8))
    tasks.escalate_wishes()
    services.wish_release(wish=wish, member=member_a)
    services.wish_claim(wish=wish, member=member_b)
    clock.advance(timedelta(days=8))

    tasks.escalate_wishes()

    assert _inapp("demands_claim_reminder") == {(wish.pk, member_a.user_id), (wish.pk, member_b.user_id)}


def test_feedback_reminder_is_sent_once_after_3_days(clock, org_tree, secretary_a, member_a):
    with clock.back(timedelta(days=2)):
        fresh = wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a)
    with clock.back(timedelta(days=4)):
        due = wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a)

    assert tasks.process_wish_feedback() == 1
    assert tasks.process_wish_feedback() == 0  # once

    sms = Notification.objects.filter(template="demands_feedback_reminder")
    assert list(sms.values_list("context__code", flat=True)) == [due.tracking_code]
    assert sms.get().channel == "sms"
    fresh.refresh_from_db()
    due.refresh_from_db()
    assert (fresh.state, due.state) == ("fulfilled", "fulfilled")


def test_feedback_auto_closes_after_14_days_without_a_reminder_first(clock, org_tree, secretary_a, member_a):
    with clock.back(timedelta(days=13)):
        open_ = wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a)
    with clock.back(timedelta(days=15)):
        late = wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a)

    assert tasks.process_wish_feedback() == 2  # one closed, one reminded
    open_.refresh_from_db()
    late.refresh_from_db()
    assert (open_.state, late.state) == ("fulfilled", "closed")
    reminded = Notification.objects.filter(template="demands_feedback_reminder")
    assert list(reminded.values_list("context__code", flat=True)) == [open_.tracking_code]
    assert _inapp("demands_auto_closed") == {(late.pk, secretary_a.pk)}
    assert Notification.objects.get(template="demands_auto_closed", channel="inapp").kind == "work"
    assert tasks.process_wish_feedback() == 0


def test_purge_clears_wish_contacts_and_the_outbox_but_keeps_anonymous_figures(clock, org_tree, secretary_a, member_a):
    with clock.back(timedelta(days=200)):
        old = wish_in_state("closed", org_tree.community_a, secretary_a, member_a)
    recent = wish_in_state("closed", org_tree.community_a, secretary_a, member_a)
    Notification.objects.filter(channel="sms").update(status="sent", sent_at=timezone.now())
    pending = Notification.objects.filter(channel="sms", context__code=old.tracking_code).first()
    Notification.objects.filter(pk=pending.pk).update(status="pending", sent_at=None)
    sms_of_old = Notification.objects.filter(channel="sms", context__code=old.tracking_code)
    old_sms_ids = set(sms_of_old.values_list("pk", flat=True))
    assert len(old_sms_ids) >= 3  # submitted, published, claimed, fulfilled
    total = Notification.objects.count()

    assert tasks.purge_resident_contacts() == 1

    old.refresh_from_db()
    assert (old.contact_name, old.contact_phone, old.phone_hash) == ("", "", "")
    assert (old.state, old.rating, old.public_title) == ("closed", 5, "修理水龙头")
    assert Notification.objects.count() == total  # rows (and their figures) stay
    for row in Notification.objects.filter(pk__in=old_sms_ids - {pending.pk}):
        assert (row.recipient_phone, row.context, row.status) == (services.PURGED_PHONE, {}, "sent")
    still_pending = Notification.objects.get(pk=pending.pk)
    assert still_pending.recipient_phone != services.PURGED_PHONE and still_pending.context
    for row in Notification.objects.filter(channel="sms", context__code=recent.tracking_code):
        assert row.recipient_phone != services.PURGED_PHONE
    # The member's and secretaries' in-app rows are not the resident's data: untouched.
    assert Notification.objects.filter(channel="inapp").exclude(context={}).count() == (
        Notification.objects.filter(channel="inapp").count()
    )

    # The pending SMS is sent later; a later run (within the catch-up days) erases it too, and only it.
    Notification.objects.filter(pk=pending.pk).update(status="sent", sent_at=timezone.now())
    assert tasks.purge_resident_contacts() == 0
    assert Notification.objects.get(pk=pending.pk).recipient_phone == services.PURGED_PHONE
    assert services.wishes_purge_outbox() == 0  # nothing twice


def test_every_resident_sms_template_is_known_to_the_purge():
    root = Path(__file__).resolve().parents[2] / "notifications/templates/notifications"
    with_sms = {d.name for d in root.glob("demands_*") if (d / "sms.txt").exists()}
    # The claimer's reminder is texted to a member (their own phone), not to a resident.
    assert with_sms - {"demands_claim_reminder"} == set(services.RESIDENT_SMS_TEMPLATES)


def test_the_new_messages_render(clock, org_tree, secretary_a, member_a):
    from notifications.rendering import render_message

    with clock.back(timedelta(hours=49)):
        wish_in_state("submitted", org_tree.community_a, secretary_a)
    with clock.back(timedelta(days=15)):
        wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    tasks.escalate_wishes()

    templates = ("demands_escalate_unverified", "demands_claim_reminder", "demands_claim_overdue")
    rows = Notification.objects.filter(template__in=templates)
    assert {row.template for row in rows} == set(templates)
    for row in rows:
        message = render_message(row)
        assert "修理水龙头" in (message.subject + message.body) or "帮忙修理" in (message.subject + message.body)
        assert "{{" not in message.body

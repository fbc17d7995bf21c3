"""A secretary's message to every member of their subtree: the count first, then chunks through the outbox —
in-app always, SMS and email as each member chose for 通知公告, SMS held in the quiet hours, nobody twice."""

import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from members.models import Member
from news import selectors, services, tasks
from news.models import Broadcast
from notifications.models import Notification
from notifications.services import preferences_save
from tests.conftest import wait_until
from tests.members.factories import MemberFactory

pytestmark = pytest.mark.django_db

URL = "/dashboard/messages/new/"


@pytest.fixture
def branch_a_members(org_tree, secretary_a, member_a):
    """Branch A: its secretary, member A and five more; plus one member of branch B and one who left A."""
    extra = [MemberFactory(organization=org_tree.branch_a) for _ in range(5)]
    MemberFactory(organization=org_tree.branch_b)
    gone = MemberFactory(organization=org_tree.branch_a)
    Member.objects.filter(pk=gone.pk).update(status=Member.Status.TRANSFERRED)
    return [secretary_a.member, member_a, *extra]


def _form(organization, **extra):
    return {
        "organization": organization.pk,
        "subject": "周六集中清扫",
        "body": "请于周六上午九点到党群服务中心集合。",
        **extra,
    }


def test_the_count_is_shown_before_anything_is_sent(client, org_tree, secretary_a, branch_a_members):
    client.force_login(secretary_a)
    assert client.get(URL).status_code == 200

    response = client.post(URL, _form(org_tree.branch_a))

    assert response.status_code == 200
    assert response.context["count"] == len(branch_a_members) == 7
    assert "将发送给 7 名党员" in response.content.decode()
    assert not Broadcast.objects.exists()
    assert not Notification.objects.exists()


def test_confirming_sends_to_every_member_of_the_subtree_in_chunks(
    client, org_tree, secretary_a, branch_a_members, monkeypatch, django_capture_on_commit_callbacks, sms_outbox, clock
):
    monkeypatch.setattr(services, "BROADCAST_CHUNK", 3)
    client.force_login(secretary_a)
    preview = client.post(URL, _form(org_tree.branch_a))
    key = preview.context["form"].initial["request_key"]

    with (
        mock.patch.object(tasks.send_broadcast_chunk, "delay", wraps=tasks.send_broadcast_chunk.delay) as chunk,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(URL, _form(org_tree.branch_a, request_key=key, confirm="1"))

    assert response.status_code == 302
    broadcast = Broadcast.objects.get()
    assert (broadcast.recipient_count, broadcast.sender, broadcast.organization) == (7, secretary_a, org_tree.branch_a)
    assert broadcast.planned_at is not None
    assert [len(c.kwargs["ids"]) for c in chunk.call_args_list] == [3, 3, 1]
    inbox = Notification.objects.filter(channel="inapp", template="news_broadcast")
    assert {n.recipient_user_id for n in inbox} == {m.user_id for m in branch_a_members}
    assert set(inbox.values_list("status", flat=True)) == {"sent"}
    # SMS is the kind's default: every member with a phone got one text, at noon at once.
    assert len(sms_outbox) == len(branch_a_members)
    assert "周六集中清扫" in sms_outbox[0].text


def test_running_the_plan_again_sends_nobody_twice(
    org_tree, secretary_a, branch_a_members, django_capture_on_commit_callbacks, sms_outbox, clock
):
    with django_capture_on_commit_callbacks(execute=True):
        broadcast = services.broadcast_send(
            actor=secretary_a, organization=org_tree.branch_a, subject="通知", body="内容", request_key=uuid.uuid4()
        )
    rows, texts = Notification.objects.count(), len(sms_outbox)

    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_plan(broadcast_id=broadcast.pk)
        services.broadcast_chunk_send(broadcast_id=broadcast.pk, member_ids=[m.pk for m in branch_a_members])

    assert Notification.objects.count() == rows == 2 * len(branch_a_members)
    assert len(sms_outbox) == texts == len(branch_a_members)


def test_the_same_confirmation_posted_twice_sends_once(
    client, org_tree, secretary_a, branch_a_members, django_capture_on_commit_callbacks
):
    client.force_login(secretary_a)
    key = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL, _form(org_tree.branch_a, request_key=key, confirm="1"))
        client.post(URL, _form(org_tree.branch_a, request_key=key, confirm="1"))
    assert Broadcast.objects.count() == 1
    assert Notification.objects.filter(channel="inapp").count() == len(branch_a_members)


def test_at_night_the_texts_wait_for_the_morning_and_the_inbox_does_not(
    org_tree, secretary_a, branch_a_members, django_capture_on_commit_callbacks, sms_outbox, clock
):
    clock.set_local(23, 30)
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_send(
            actor=secretary_a, organization=org_tree.branch_a, subject="通知", body="内容", request_key=uuid.uuid4()
        )

    texts = Notification.objects.filter(channel="sms")
    assert texts.count() == len(branch_a_members) and sms_outbox == []
    morning = (timezone.localtime(clock.now) + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    assert set(texts.values_list("next_attempt_at", flat=True)) == {morning}
    assert set(Notification.objects.filter(channel="inapp").values_list("status", flat=True)) == {"sent"}


def test_each_member_s_channels_for_notices_are_respected(
    org_tree, secretary_a, member_a, branch_a_members, django_capture_on_commit_callbacks, clock, mailoutbox
):
    preferences_save(user=member_a.user, choices={"notice": []})  # no SMS for notices
    other = branch_a_members[2]
    preferences_save(user=other.user, choices={"notice": ["email"]})  # email instead of SMS
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast_send(
            actor=secretary_a, organization=org_tree.branch_a, subject="通知", body="内容", request_key=uuid.uuid4()
        )

    def channels(member):
        return set(Notification.objects.filter(recipient_user=member.user).values_list("channel", flat=True))

    assert channels(member_a) == {"inapp"}
    assert channels(other) == {"inapp", "email"}
    assert channels(branch_a_members[3]) == {"inapp", "sms"}
    assert [m.to for m in mailoutbox] == [[other.user.email]]


def test_a_secretary_cannot_message_another_branch(client, org_tree, secretary_b, branch_a_members):
    client.force_login(secretary_b)
    response = client.post(URL, _form(org_tree.branch_a, request_key=str(uuid.uuid4()), confirm="1"))
    assert response.status_code == 200
    assert "organization" in response.context["form"].errors
    assert not Broadcast.objects.exists()
    assert list(selectors.broadcast_organizations(secretary_b)) == [org_tree.branch_b]


def test_the_secretary_above_reaches_every_branch_below(org_tree, east_secretary, branch_a_members):
    # The east committee's subtree is branch A, where its secretary (钱书记) is a member too; the street holds
    # both branches, so branch B's member as well.
    assert selectors.broadcast_recipient_count(org_tree.east) == len(branch_a_members) + 1
    assert selectors.broadcast_recipient_count(org_tree.street) == len(branch_a_members) + 2
    assert selectors.broadcast_recipient_count(org_tree.west) == 1


def test_a_member_who_administers_nothing_gets_a_404(client, member_a):
    client.force_login(member_a.user)
    assert client.get(URL).status_code == 404
    assert client.post(URL, {}).status_code == 404


def test_members_who_joined_after_the_broadcast_are_not_planned(org_tree, secretary_a, branch_a_members, clock):
    broadcast = services.broadcast_send(
        actor=secretary_a, organization=org_tree.branch_a, subject="通知", body="内容", request_key=uuid.uuid4()
    )
    clock.advance(60)
    MemberFactory(organization=org_tree.branch_a)
    with mock.patch.object(tasks.send_broadcast_chunk, "delay") as chunk:
        services.broadcast_plan(broadcast_id=broadcast.pk)
    assert sorted(chunk.call_args.kwargs["ids"]) == sorted(m.pk for m in branch_a_members)


def test_a_deactivated_member_is_left_out(org_tree, secretary_a, branch_a_members):
    user = branch_a_members[-1].user
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert selectors.broadcast_recipient_count(org_tree.branch_a) == len(branch_a_members) - 1


@pytest.mark.redis
@pytest.mark.postgres
def test_a_real_worker_delivers_the_broadcast_in_chunks(org_tree, secretary_a, branch_a_members, celery_worker):
    with transaction.atomic():
        broadcast = services.broadcast_send(
            actor=secretary_a, organization=org_tree.branch_a, subject="通知", body="内容", request_key=uuid.uuid4()
        )

    inbox = Notification.objects.filter(channel="inapp", template="news_broadcast")
    wait_until(lambda: inbox.filter(status="sent").count() == len(branch_a_members), timeout=60)
    assert Broadcast.objects.get(pk=broadcast.pk).planned_at is not None
    assert inbox.count() == len(branch_a_members)

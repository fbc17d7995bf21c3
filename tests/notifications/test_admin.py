"""The outbox in the admin: a read-only log with masked phones and a "retry failed" action."""

import pytest
from django.urls import reverse

from notifications.models import Notification
from notifications.services import notification_dispatch, notify
from tests.factories import UserFactory
from tests.queries import assert_constant_queries

CHANGELIST = reverse("admin:notifications_notification_changelist")
PHONE = "13812345678"


@pytest.fixture
def admin_client_(client, platform_admin):
    client.force_login(platform_admin)
    return client


def failed_sms(key="failed", phone=PHONE):
    notification = notify(template="welcome", channel="sms", dedupe_key=key, phone=phone, user=UserFactory())
    Notification.objects.filter(pk=notification.pk).update(
        status=Notification.Status.FAILED, attempts=5, last_error="TransientChannelError: provider timeout"
    )
    return notification


def test_changelist_shows_the_phone_masked(admin_client_):
    failed_sms()

    response = admin_client_.get(CHANGELIST)

    assert response.status_code == 200
    content = response.content.decode()
    assert "138****5678" in content
    assert PHONE not in content


def test_detail_page_is_read_only_and_masks_the_phone(admin_client_):
    notification = failed_sms()

    response = admin_client_.get(reverse("admin:notifications_notification_change", args=[notification.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert "138****5678" in content
    assert PHONE not in content
    assert 'name="_save"' not in content
    assert "provider timeout" in content
    assert admin_client_.get(reverse("admin:notifications_notification_add")).status_code == 403


def test_changelist_query_count_does_not_grow_with_rows(admin_client_):
    def add_rows(n):
        for _ in range(n):
            failed_sms(key=f"row-{Notification.objects.count()}")

    assert_constant_queries(admin_client_, CHANGELIST, add_rows)


def test_retry_action_sends_failed_messages_again_and_skips_others(
    admin_client_, member_user, django_capture_on_commit_callbacks, sms_outbox, mailoutbox
):
    failed = failed_sms()
    sent = notify(template="welcome", channel="email", dedupe_key="sent", user=member_user)
    notification_dispatch(notification_id=sent.pk)
    assert len(mailoutbox) == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            CHANGELIST, {"action": "retry_failed", "_selected_action": [failed.pk, sent.pk]}, follow=True
        )

    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert "已将 1 条通知重新加入发送队列。" in messages
    assert "1 条通知不是发送失败状态，未重新发送。" in messages
    failed.refresh_from_db()
    assert failed.status == Notification.Status.SENT
    assert failed.attempts == 1  # counting starts again
    assert [m.phone for m in sms_outbox] == [PHONE]
    assert len(mailoutbox) == 1


def test_retry_action_needs_the_change_permission(db, client, django_capture_on_commit_callbacks, sms_outbox):
    from django.contrib.auth.models import Permission

    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_notification"))
    client.force_login(viewer)
    failed = failed_sms()

    assert client.get(CHANGELIST).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        client.post(CHANGELIST, {"action": "retry_failed", "_selected_action": [failed.pk]})

    failed.refresh_from_db()
    assert failed.status == Notification.Status.FAILED
    assert sms_outbox == []

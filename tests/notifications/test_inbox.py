"""/me/inbox/: a member's delivered in-app messages, newest first; only their own."""

import itertools

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from notifications.selectors import unread_count
from notifications.services import notification_dispatch, notify
from tests.factories import UserFactory
from tests.queries import assert_constant_queries

INBOX = reverse("notifications:inbox")
_keys = itertools.count()


def delivered(user, name="张三"):
    notification = notify(
        template="welcome", channel="inapp", dedupe_key=f"inbox:{next(_keys)}", user=user, context={"name": name}
    )
    notification_dispatch(notification_id=notification.pk)
    return notification


@pytest.fixture
def other_member(db):
    return UserFactory(username="other")


@pytest.fixture
def member_client(client, member_user):
    client.force_login(member_user)
    return client


def test_anonymous_visitor_is_sent_to_sign_in(anonymous):
    response = anonymous.get(INBOX)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_member_sees_only_their_own_delivered_messages_newest_first(member_client, member_user, other_member):
    older = delivered(member_user, name="第一位")
    newer = delivered(member_user, name="第二位")
    delivered(other_member, name="别人家")
    notify(template="welcome", channel="inapp", dedupe_key="not-yet", user=member_user, context={"name": "未发送"})

    response = member_client.get(INBOX)

    assert response.status_code == 200
    assert [n.pk for n, _ in response.context["items"]] == [newer.pk, older.pk]
    content = response.content.decode()
    assert content.index("第二位，您好！") < content.index("第一位，您好！")
    assert "欢迎加入党员志愿服务平台" in content
    assert "别人家" not in content
    assert "未发送" not in content


def test_message_text_is_escaped_on_the_page(member_client, member_user):
    delivered(member_user, name="<script>alert(1)</script>")

    content = member_client.get(INBOX).content.decode()

    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


def test_inbox_is_paginated(member_client, member_user):
    for _ in range(25):
        delivered(member_user)

    first = member_client.get(INBOX)
    second = member_client.get(INBOX, {"page": 2})

    assert len(first.context["items"]) == 20
    assert len(second.context["items"]) == 5


def test_inbox_query_count_does_not_grow_with_messages(member_client, member_user):
    # session, user, count for the paginator, one page of rows — whatever the number of rows.
    assert_constant_queries(member_client, INBOX, lambda n: [delivered(member_user) for _ in range(n)])


def test_mark_one_read(member_client, member_user):
    first = delivered(member_user)
    second = delivered(member_user)
    assert unread_count(member_user) == 2

    response = member_client.post(
        reverse("notifications:inbox_mark_read", args=[first.pk]), {"next": INBOX + "?page=1"}
    )

    assert response.status_code == 302
    assert response.url == INBOX + "?page=1"
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None
    assert unread_count(member_user) == 1
    page = member_client.get(INBOX).content.decode()
    assert "1 条未读" in page
    assert reverse("notifications:inbox_mark_read", args=[first.pk]) not in page
    assert reverse("notifications:inbox_mark_read", args=[second.pk]) in page


def test_mark_all_read(member_client, member_user, other_member):
    delivered(member_user)
    delivered(member_user)
    theirs = delivered(other_member)

    response = member_client.post(reverse("notifications:inbox_mark_all_read"))

    assert response.status_code == 302
    assert response.url == INBOX
    assert unread_count(member_user) == 0
    assert unread_count(other_member) == 1
    page = member_client.get(INBOX).content.decode()
    assert 'id="inbox-unread"' not in page
    assert reverse("notifications:inbox_mark_all_read") not in page  # nothing left to mark
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_someone_elses_message_answers_404_and_stays_unread(member_client, other_member):
    theirs = delivered(other_member)

    response = member_client.post(reverse("notifications:inbox_mark_read", args=[theirs.pk]))

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_redirect_after_marking_read_stays_on_this_site(member_client, member_user):
    notification = delivered(member_user)

    response = member_client.post(
        reverse("notifications:inbox_mark_read", args=[notification.pk]), {"next": "https://evil.example/"}
    )

    assert response.url == INBOX


def test_mark_read_needs_post(member_client, member_user):
    notification = delivered(member_user)

    response = member_client.get(reverse("notifications:inbox_mark_read", args=[notification.pk]))

    assert response.status_code == 405
    notification.refresh_from_db()
    assert notification.read_at is None


def test_unread_count_is_zero_for_anonymous_visitors_without_a_query(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert unread_count(AnonymousUser()) == 0

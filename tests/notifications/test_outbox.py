"""notify(): the row is written in the caller's transaction and dispatched only after that transaction commits."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.template import TemplateDoesNotExist

from notifications.models import Notification
from notifications.services import notification_dispatch, notification_sweep, notify
from notifications.tasks import dispatch_notification
from tests.factories import UserFactory


class EventFailed(Exception):
    pass


def welcome(user=None, *, channel="email", key="welcome:1", **kwargs):
    return notify(template="welcome", channel=channel, dedupe_key=key, user=user, context={"name": "张三"}, **kwargs)


def test_rolled_back_transaction_stores_and_sends_nothing(
    member_user, django_capture_on_commit_callbacks, mailoutbox, sms_outbox, clock
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(EventFailed),
        transaction.atomic(),
    ):
        welcome(member_user, channel="email", key="a")
        welcome(member_user, channel="inapp", key="b")
        welcome(channel="sms", key="c", phone="13800001234")
        raise EventFailed

    assert callbacks == []
    assert not Notification.objects.exists()
    assert mailoutbox == []
    assert sms_outbox == []


def test_committed_transaction_delivers_once_and_dispatching_again_changes_nothing(
    member_user, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        notification = welcome(member_user)
        assert mailoutbox == []  # nothing leaves before the commit

    assert len(callbacks) == 1
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [member_user.email]
    assert mailoutbox[0].subject == "欢迎加入党员志愿服务平台"
    assert "张三，您好！" in mailoutbox[0].body
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert notification.attempts == 1
    assert notification.sent_at is not None

    assert notification_dispatch(notification_id=notification.pk) is False
    dispatch_notification.delay(notification.pk)
    assert notification_sweep(older_than_seconds=0) == 0
    assert len(mailoutbox) == 1
    notification.refresh_from_db()
    assert notification.attempts == 1


def test_explicit_email_address_wins_over_the_users(member_user, django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        welcome(member_user, email="other@example.org")

    assert [m.to for m in mailoutbox] == [["other@example.org"]]


def test_sms_to_a_resident_is_delivered_once(db, django_capture_on_commit_callbacks, sms_outbox, clock):
    with django_capture_on_commit_callbacks(execute=True):
        notification = welcome(channel="sms", phone="13800001234")

    assert len(sms_outbox) == 1
    assert sms_outbox[0].phone == "13800001234"
    assert sms_outbox[0].text == "【党员志愿服务平台】张三，您好！欢迎加入党员志愿服务平台。"
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert notification.recipient_phone == "13800001234"


def test_phone_is_encrypted_at_rest(db, clock):
    notification = welcome(channel="sms", phone="13800001234")

    with connection.cursor() as cursor:
        cursor.execute("SELECT recipient_phone FROM notifications_notification WHERE id = %s", [notification.pk])
        (stored,) = cursor.fetchone()
    assert "13800001234" not in stored
    assert notification.masked_phone == "138****1234"


def test_in_app_message_is_delivered_to_the_inbox(member_user, django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        notification = welcome(member_user, channel="inapp")

    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert notification.read_at is None
    assert mailoutbox == []


def test_same_dedupe_key_gives_one_row_and_one_delivery(member_user, django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = welcome(member_user, key="signup-confirmed:42")
        second = welcome(member_user, key="signup-confirmed:42")

    assert first.pk == second.pk
    assert Notification.objects.count() == 1
    assert len(callbacks) == 1
    assert len(mailoutbox) == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "inapp"}, "needs a user"),
        ({"channel": "sms"}, "needs a phone"),
        ({"channel": "email"}, "needs an address or a user"),
        ({"channel": "fax", "email": "a@example.org"}, "fax"),
        ({"channel": "email", "email": "a@example.org", "language": "fr"}, "unknown language"),
    ],
)
def test_unusable_arguments_fail_in_the_caller(db, kwargs, error):
    with pytest.raises(ValueError, match=error):
        welcome(**kwargs)
    assert not Notification.objects.exists()


def test_unknown_or_malformed_template_fails_in_the_caller(member_user):
    with pytest.raises(TemplateDoesNotExist):
        notify(template="no_such_template", channel="inapp", dedupe_key="x", user=member_user)
    with pytest.raises(ValueError, match="invalid notification template key"):
        notify(template="../welcome", channel="inapp", dedupe_key="y", user=member_user)
    assert not Notification.objects.exists()


def test_database_refuses_a_row_without_the_recipient_its_channel_needs(db):
    for channel in ("inapp", "sms", "email"):
        with pytest.raises(IntegrityError), transaction.atomic():
            Notification.objects.create(channel=channel, template="welcome", dedupe_key=f"bad-{channel}")
    assert not Notification.objects.exists()


# --- Transactions for real: autocommit, on_commit hooks fired by an actual COMMIT ------------------------------


def test_real_commit_and_rollback(transactional_db, mailoutbox):
    user = UserFactory()

    with pytest.raises(EventFailed), transaction.atomic():
        welcome(user, key="rolled-back")
        raise EventFailed
    assert mailoutbox == []

    with transaction.atomic():
        welcome(user, key="committed")
        assert mailoutbox == []
    assert len(mailoutbox) == 1

    # Outside any transaction notify commits at once and dispatches at once.
    welcome(user, key="autocommit")
    assert len(mailoutbox) == 2
    assert set(Notification.objects.values_list("dedupe_key", flat=True)) == {"committed", "autocommit"}


@pytest.mark.postgres
def test_concurrent_notify_with_one_dedupe_key_stores_one_row(transactional_db, mailoutbox):
    """The second insert waits on the unique index, gets IntegrityError, and returns the first caller's row."""
    user = UserFactory()
    barrier = threading.Barrier(2)
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def first():
        try:
            with transaction.atomic():
                results["first"] = welcome(user, key="race").pk
                barrier.wait(timeout=5)
                # Keep the transaction open so the second insert really has to wait for this one.
                threading.Event().wait(0.5)
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread below
            errors.append(exc)
        finally:
            connection.close()

    def second():
        try:
            barrier.wait(timeout=5)
            with transaction.atomic():
                results["second"] = welcome(user, key="race").pk
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)

    assert errors == []
    assert results["first"] == results["second"]
    assert Notification.objects.filter(dedupe_key="race").count() == 1
    assert len(mailoutbox) == 1

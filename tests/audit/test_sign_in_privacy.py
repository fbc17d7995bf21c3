"""Personal data stays masked outside its encrypted home: a sign-in with a member's phone or ID
number as the username, failed, leaves that number in no log line and in no text column of the database — not in
the audit trail (masked for reading, keyed hash for matching), not in django-axes' tables (keyed hash) — while the
lockout keeps counting it. The trail itself is kept AUDIT_RETENTION_DAYS days."""

import importlib
import logging
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import SESSION_KEY
from django.core import checks
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit import services, tasks
from audit.models import AuditEvent
from core.crypto import blind_index, encrypted_columns
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

ID_NUMBER = "11010519491231002X"
LOGIN = "/accounts/login/"


def _fail(client, username, *, page=LOGIN, ip="203.0.113.5", password="wrong-password"):
    return client.post(page, {"username": username, "password": password}, REMOTE_ADDR=ip)


def _text_columns() -> list[tuple[str, str]]:
    """(table, column) of every column of the database that holds text — also tables without a model — except the
    encrypted ones, which hold ciphertext."""
    encrypted = {(model._meta.db_table, field.column) for model, field in encrypted_columns()}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb')"
        )
        return [column for column in cursor.fetchall() if column not in encrypted]


def _columns_holding(needle: str) -> list[str]:
    found = []
    with connection.cursor() as cursor:
        for table, column in _text_columns():
            name, col = connection.ops.quote_name(table), connection.ops.quote_name(column)
            cursor.execute(f"SELECT 1 FROM {name} WHERE {col}::text ILIKE %s LIMIT 1", [f"%{needle}%"])
            if cursor.fetchone():
                found.append(f"{table}.{column}")
    return found


def _logged(caplog) -> str:
    """Every log record of the test: its message and its extra fields (the audit logger's `record.audit`)."""
    return "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)


@pytest.fixture
def member_with_id(member_a):
    member_a.set_id_number(ID_NUMBER)
    member_a.save()
    return member_a


@pytest.mark.postgres
def test_a_failed_sign_in_with_a_phone_or_an_id_number_leaves_it_nowhere_in_clear(caplog, member_with_id):
    for logger in (None, "audit", "axes"):
        caplog.set_level(logging.DEBUG, logger=logger)
    phone = member_with_id.phone
    spaced = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    # The search finds what is there (the volunteer number, in clear by design), and the number is nowhere yet.
    assert "members_member.volunteer_number" in _columns_holding(member_with_id.volunteer_number)
    assert {("audit_auditevent", "username"), ("axes_accessattempt", "username")} <= set(_text_columns())
    assert _columns_holding(phone) == [] and _columns_holding(ID_NUMBER) == []

    client = Client()
    # The sign-in page may be reached from a page that searched for the number (?next=…?q=<phone>).
    assert _fail(client, phone, page=f"{LOGIN}?next=/admin/members/member/%3Fq%3D{phone}").status_code == 200
    assert _fail(client, spaced).status_code == 200
    assert _fail(client, f"+86{phone}", page="/admin/login/").status_code == 200
    assert _fail(client, ID_NUMBER.lower()).status_code == 200

    for needle in (phone, spaced, ID_NUMBER):
        assert _columns_holding(needle) == [], needle
        assert needle.lower() not in _logged(caplog).lower(), needle

    # What is there instead: the trail, masked for reading, with the keyed hash the member's own columns use …
    failed = AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED).order_by("pk")
    assert [(e.username, e.username_hash) for e in failed] == [
        (f"{phone[:3]}****{phone[-4:]}", member_with_id.phone_hash),
        (f"{phone[:3]}****{phone[-4:]}", member_with_id.phone_hash),
        (f"+86*******{phone[-4:]}", member_with_id.phone_hash),
        ("110***********002x", member_with_id.id_number_hash),
    ]
    line = next(r.getMessage() for r in caplog.records if r.name == "audit")
    assert f'username="{phone[:3]}****{phone[-4:]}"' in line and f'username_hash="{member_with_id.phone_hash}"' in line
    # … and django-axes counts the hash: the three spellings of the phone are one count.
    attempts = {a.username: a.failures_since_start for a in AccessAttempt.objects.all()}
    assert attempts == {member_with_id.phone_hash: 3, member_with_id.id_number_hash: 1}


def test_the_lockout_still_counts_a_phone_number(member_a):
    client = Client()
    for _ in range(5):
        assert _fail(client, member_a.phone).status_code in (200, 429)
    response = _fail(client, member_a.phone, password=DEFAULT_PASSWORD)
    assert response.status_code == 429  # the right password, locked out
    assert SESSION_KEY not in client.session
    attempt = AccessAttempt.objects.get()
    # Five failures, and the refused right password counts as a sixth (a failure during a lockout restarts it).
    assert (attempt.username, attempt.failures_since_start) == (member_a.phone_hash, 6)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOCKOUT, username_hash=member_a.phone_hash).exists()
    # Another address is not locked out, and the member signs in from there.
    assert _fail(Client(), member_a.phone, ip="198.51.100.7", password=DEFAULT_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("nobody-like-this", "n**"),  # not an account: may be anything, even a password typed in the wrong box
        ("张三丰", "张**"),
        ("13800138000", "138****8000"),
        ("138-0013-8000", "138****8000"),
        ("11010519491231002X", "110***********002X"),
        ("1234567", "1**"),  # too short to show a part of it
    ],
)
def test_what_was_typed_is_shown_masked(db, typed, shown):
    _fail(Client(), typed)
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN_FAILED)
    assert event.username == shown
    assert len(event.username_hash) == 64 and typed not in event.username_hash


def test_an_accounts_own_username_is_shown_as_it_is(member_a):
    """A volunteer number or an admin's name is the account's public name, as in the trail of a good sign-in."""
    _fail(Client(), member_a.user.username)
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN_FAILED)
    assert event.username == member_a.user.username


def test_the_admin_finds_the_attempts_of_a_number_typed_in_full(client, platform_admin, member_a):
    _fail(Client(), member_a.phone)
    _fail(Client(), "someone-else")
    client.force_login(platform_admin)
    changelist = reverse("admin:audit_auditevent_changelist")
    spaced = f"{member_a.phone[:3]} {member_a.phone[3:7]} {member_a.phone[7:]}"
    result = client.get(changelist, {"q": spaced}).context["cl"].result_list
    assert [(e.action, e.username_hash) for e in result] == [("login_failed", member_a.phone_hash)]
    page = client.get(changelist).content.decode()
    assert member_a.phone not in page and f"{member_a.phone[:3]}****{member_a.phone[-4:]}" in page


# --- Existing rows (the migration) ---------------------------------------------------------------------------------


def test_the_migration_masks_and_hashes_what_was_stored_in_clear(member_a):
    migration = importlib.import_module("audit.migrations.0002_sign_in_identifiers_masked")
    phone = member_a.phone
    old = AuditEvent.objects.create(action=AuditEvent.Action.LOGIN_FAILED, username=f"{phone[:3]} {phone[3:]}")
    locked = AuditEvent.objects.create(action=AuditEvent.Action.LOCKOUT, username=phone)
    account = AuditEvent.objects.create(action=AuditEvent.Action.LOGIN_FAILED, username=member_a.user.username)
    login = AuditEvent.objects.create(action=AuditEvent.Action.LOGIN, user=member_a.user, username="anything")
    AccessAttempt.objects.create(
        username=phone, ip_address="203.0.113.5", user_agent="x", failures_since_start=4, get_data="", post_data=""
    )
    AccessFailureLog.objects.create(username=phone, ip_address="203.0.113.5", user_agent="x")
    AccessLog.objects.create(username="other", ip_address="203.0.113.5", user_agent="x")

    migration.mask_sign_in_identifiers(apps, None)

    masked = f"{phone[:3]}****{phone[-4:]}"
    for event in (old, locked):
        event.refresh_from_db()
        assert (event.username, event.username_hash) == (masked, member_a.phone_hash)
    account.refresh_from_db()
    assert (account.username, account.username_hash) == (member_a.user.username, blind_index(member_a.user.username))
    login.refresh_from_db()
    assert (login.username, login.username_hash) == ("anything", "")  # a good sign-in names the account
    assert AccessAttempt.objects.get().username == member_a.phone_hash  # the lockout's count goes on
    assert AccessFailureLog.objects.get().username == member_a.phone_hash
    assert AccessLog.objects.get().username == blind_index("other")


# --- Retention -----------------------------------------------------------------------------------------------------


def test_events_older_than_the_retention_period_are_deleted(db, settings, platform_admin, clock):
    settings.AUDIT_RETENTION_DAYS = 365
    now = clock.now
    for name, days in (("old", 366), ("edge", 364), ("new", 1)):
        clock.now = now - timedelta(days=days)
        services.audit_record(action=AuditEvent.Action.EXPORT, object_repr=name)
    clock.now = now

    # The admin's own log rows, which the trail copies, go at the same age.
    for repr_, days in (("李明", 366), ("周强", 364)):
        LogEntry.objects.create(
            user=platform_admin, action_flag=CHANGE, object_repr=repr_, action_time=now - timedelta(days=days)
        )

    assert services.audit_events_purge() == 1
    assert sorted(AuditEvent.objects.values_list("object_repr", flat=True)) == ["edge", "new"]
    assert list(LogEntry.objects.values_list("object_repr", flat=True)) == ["周强"]
    assert services.audit_events_purge() == 0  # safe to run again


def test_the_purge_task_is_thin_and_scheduled(db, settings):
    from volunteer_platform.schedules import SCHEDULES

    settings.AUDIT_RETENTION_DAYS = 200
    event = services.audit_record(action=AuditEvent.Action.EXPORT)
    AuditEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(days=201))
    assert tasks.purge_audit_events() == 1
    assert not AuditEvent.objects.exists()
    assert [s.task for s in SCHEDULES if s.name == "audit trail retention purge"] == ["audit.tasks.purge_audit_events"]


@pytest.mark.parametrize(("days", "errors"), [(365, []), (183, []), (182, ["audit.E001"]), (0, ["audit.E001"])])
def test_the_retention_is_at_least_six_months(settings, days, errors):
    settings.AUDIT_RETENTION_DAYS = days
    found = [message.id for message in checks.run_checks() if message.id.startswith("audit.")]
    assert found == errors


def test_the_default_retention_is_a_year_and_axes_hashes_what_it_counts(settings):
    assert settings.AUDIT_RETENTION_DAYS == 365  # as settings.py has it (the test settings keep it)
    settings.AXES_USERNAME_CALLABLE = None
    assert [m.id for m in checks.run_checks() if m.id.startswith("audit.")] == ["audit.E002"]

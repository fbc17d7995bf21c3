"""The audit trail (docs/security.md, item 8): who, from which address, when — for sign-ins, denials, CSRF failures,
exports, full-value views and admin changes — stored and logged, one line per event whatever the input."""

import csv
import io
import logging

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.test import Client, RequestFactory
from django.urls import reverse

from audit.models import AuditEvent
from audit.services import audit_record, escape_for_log
from core.net import client_ip
from demands.models import Household
from members.resources import MemberResource
from tests.demands.factories import wish_category, wish_in_state

# --- Log injection ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("张三", "张三"),
        ("a\r\nINFO audit action=login", "a\\x0d\\x0aINFO audit action=login"),
        ("tab\there", "tab\\x09here"),
        ("\x1b[31mred\x00", "\\x1b[31mred\\x00"),
        ("line\u2028sep\u2029para\x85", "line\\u2028sep\\u2029para\\x85"),
        ("rtl\u202eevil\u200b", "rtl\\u202eevil\\u200b"),  # bidi override and zero-width space
        ('quote" user="admin', 'quote\\" user=\\"admin'),
        ("back\\slash", "back\\\\slash"),
    ],
)
def test_escape_for_log(raw, escaped):
    assert escape_for_log(raw) == escaped


def test_a_forged_line_stays_one_line_in_the_log(client, db, caplog):
    caplog.set_level(logging.INFO, logger="audit")
    typed = 'zhang\r\n2026-01-01 INFO audit action="login" username="admin"\u2028x'
    # The sign-in forms refuse control characters (core/text.py); any other caller of authenticate() still reaches
    # the trail with them — masked (audit/sign_in.py): of what was typed, only its first character is kept.
    authenticate(RequestFactory().post("/accounts/login/", REMOTE_ADDR="203.0.113.5"), username=typed, password="x")
    # Free text the trail keeps as it is (an object's name) is escaped in the line.
    audit_record(action=AuditEvent.Action.EXPORT, object_repr=typed)
    failed, export = [r for r in caplog.records if r.name == "audit"]
    for record in (failed, export):
        line = record.getMessage()
        assert "\n" not in line and "\r" not in line and "\u2028" not in line
    assert failed.getMessage().startswith('action="login_failed" username="z**" username_hash="')
    assert 'ip="203.0.113.5"' in failed.getMessage()
    assert failed.audit["action"] == "login_failed" and failed.audit["ip"] == "203.0.113.5"
    escaped = 'object_repr="zhang\\x0d\\x0a2026-01-01 INFO audit action=\\"login\\" username=\\"admin\\"\\u2028x"'
    assert escaped in export.getMessage()
    # The database keeps the object's name as it was (the admin escapes it as HTML when it shows it).
    assert AuditEvent.objects.get(action=AuditEvent.Action.EXPORT).object_repr == typed


# --- Client address ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "forwarded", "remote", "expected"),
    [
        (0, "198.51.100.1", "10.0.0.2", "10.0.0.2"),  # no proxy trusted: the header is the client's own words
        (1, "6.6.6.6, 198.51.100.1", "10.0.0.2", "198.51.100.1"),  # our proxy appended the right-most entry
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.9", "10.0.0.2", "198.51.100.1"),
        (2, "198.51.100.1", "10.0.0.2", "10.0.0.2"),  # shorter than the proxies: not from them
        (1, "not-an-address", "10.0.0.2", "10.0.0.2"),
        (1, "", "10.0.0.2", "10.0.0.2"),
        (1, " 2001:db8::1 ", "10.0.0.2", "2001:db8::1"),
        (1, "fe80::1%eth0", "10.0.0.2", "10.0.0.2"),  # scoped: no internet client has one
    ],
)
def test_client_ip(settings, proxies, forwarded, remote, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)
    assert client_ip(request) == expected


def test_axes_counts_by_the_same_address(settings, client, member_a):
    """Behind one proxy, two residents of the same proxy are two addresses to django-axes as to the trail."""
    settings.TRUSTED_PROXY_COUNT = 1
    username = member_a.user.username

    def attempt(forwarded, password="wrong"):
        return client.post(
            "/accounts/login/",
            {"username": username, "password": password},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    for _ in range(5):
        attempt("203.0.113.5")
    assert attempt("203.0.113.5", "test-pass-123").status_code == 429
    assert attempt("spoofed, 198.51.100.7", "test-pass-123").status_code == 302
    assert set(AuditEvent.objects.values_list("ip", flat=True)) == {"203.0.113.5", "198.51.100.7"}


# --- Denials -----------------------------------------------------------------------------------------------------


def test_a_permission_denied_is_recorded(client, secretary_a):
    client.force_login(secretary_a)
    response = client.get("/admin/audit/auditevent/", REMOTE_ADDR="203.0.113.5")  # the trail is for platform admins
    assert response.status_code == 403
    event = AuditEvent.objects.get(action=AuditEvent.Action.PERMISSION_DENIED)
    assert (event.user, event.ip, event.method, event.path) == (
        secretary_a,
        "203.0.113.5",
        "GET",
        "/admin/audit/auditevent/",
    )


def test_a_csrf_failure_is_recorded_once_with_its_reason(db):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "x", "password": "y"}, REMOTE_ADDR="203.0.113.5")
    assert response.status_code == 403
    [event] = AuditEvent.objects.all()
    assert event.action == AuditEvent.Action.CSRF_FAILURE
    assert event.ip == "203.0.113.5"
    assert "CSRF cookie not set" in event.detail["reason"]


def test_a_nul_in_the_path_or_the_details_is_stored_escaped_not_a_500(client, secretary_a):
    client.force_login(secretary_a)
    response = client.get("/admin/audit/auditevent/%00/change/")
    assert response.status_code == 403
    event = AuditEvent.objects.get(action=AuditEvent.Action.PERMISSION_DENIED)
    assert event.path == "/admin/audit/auditevent/\\x00/change/"
    event = audit_record(action=AuditEvent.Action.EXPORT, username="a\x00b", detail={"k\x00": ["v\x00"]})
    event.refresh_from_db()
    assert (event.username, event.detail) == ("a\\x00b", {"k\\x00": ["v\\x00"]})


def test_out_of_scope_404s_are_not_recorded(client, secretary_a, member_b):
    client.force_login(secretary_a)
    url = reverse("members:member_certificate", args=[member_b.volunteer_number])
    assert client.get(url).status_code == 404
    assert not AuditEvent.objects.exclude(action=AuditEvent.Action.LOGIN).exists()


# --- Exports and full-value views -------------------------------------------------------------------------------------


def test_dashboard_exports_are_recorded(client, secretary_a, org_tree):
    client.force_login(secretary_a)
    response = client.get("/dashboard/export/figures.xlsx?from=2025-01-01&to=2025-12-31", REMOTE_ADDR="203.0.113.5")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert (event.user, event.ip, event.object_type, event.object_id) == (
        secretary_a,
        "203.0.113.5",
        "members.organization",
        str(org_tree.branch_a.pk),
    )
    assert event.detail == {"kind": "figures", "start": "2025-01-01", "end": "2025-12-31"}


def test_training_and_certificate_exports_are_recorded(client, secretary_a, org_tree, member_a):
    client.force_login(secretary_a)
    url = reverse("training:completion_export") + f"?organization={org_tree.branch_a.pk}&year=2025"
    assert client.get(url).status_code == 200
    assert client.get(reverse("members:member_certificate", args=[member_a.volunteer_number])).status_code == 200
    events = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).order_by("pk")
    assert [(e.detail["kind"], e.object_type, e.object_id) for e in events] == [
        ("training_completion", "members.organization", str(org_tree.branch_a.pk)),
        ("certificate", "members.member", str(member_a.pk)),
    ]


def test_roster_exports_are_recorded_with_their_size(client, platform_admin, member_a, member_b):
    client.force_login(platform_admin)
    fields = {f"memberresource_{name}": "on" for name in MemberResource._meta.fields}
    response = client.post(reverse("admin:members_member_export"), {"resource": "0", "format": "1", **fields})
    assert response.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))) == 2
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.detail == {"kind": "roster", "rows": 2, "full_phones": True}
    assert event.user == platform_admin


def test_a_members_full_record_in_the_admin_is_a_full_data_view(client, secretary_a, member_a):
    client.force_login(secretary_a)
    url = reverse("admin:members_member_change", args=[member_a.pk])
    response = client.get(url, REMOTE_ADDR="203.0.113.5")
    assert response.status_code == 200
    assert member_a.phone in response.content.decode()  # the page shows the number in full …
    event = AuditEvent.objects.get(action=AuditEvent.Action.FULL_DATA_VIEW)  # … so the view is on the record
    assert (event.user, event.ip, event.object_type, event.object_id) == (
        secretary_a,
        "203.0.113.5",
        "members.member",
        str(member_a.pk),
    )
    assert event.detail == {"fields": ["phone", "id_number"]}
    # The list shows masked numbers only: not a full-value view.
    client.get(reverse("admin:members_member_changelist"))
    assert AuditEvent.objects.filter(action=AuditEvent.Action.FULL_DATA_VIEW).count() == 1


def test_a_households_page_is_a_full_data_view(client, platform_admin, org_tree):
    from demands import services as demands_services

    household = demands_services.household_save(
        household=None,
        actor=platform_admin,
        community=org_tree.community_a,
        grid=None,
        contact_name="刘奶奶",
        phone="13912345678",
        address="东风村 3 组",
        priority_groups=[],
        consent_processing=True,
        consent_sensitive=False,
        note="",
        active=True,
    )
    client.force_login(platform_admin)
    assert client.get(reverse("admin:demands_household_change", args=[household.pk])).status_code == 200
    event = AuditEvent.objects.get(action=AuditEvent.Action.FULL_DATA_VIEW)
    assert (event.object_type, event.object_id) == ("demands.household", str(household.pk))
    assert Household.objects.count() == 1


def test_a_residents_contact_shown_to_the_secretary_is_a_full_data_view(client, secretary_a, org_tree):
    wish = wish_in_state("verified", org_tree.community_a, secretary_a, category=wish_category())
    client.force_login(secretary_a)
    assert client.get(reverse("demands:review_detail", args=[wish.pk]), REMOTE_ADDR="203.0.113.5").status_code == 200
    event = AuditEvent.objects.get(action=AuditEvent.Action.FULL_DATA_VIEW)
    assert (event.user, event.ip, event.object_type, event.object_id) == (
        secretary_a,
        "203.0.113.5",
        "demands.microwish",
        str(wish.pk),
    )
    assert event.detail["role"] == "secretary"
    assert wish.contact_accesses.count() == 1  # the per-wish log stays as it was


# --- Admin changes -------------------------------------------------------------------------------------------------


def test_admin_changes_are_copied_with_the_address_also_bulk_deletions(client, platform_admin):
    client.force_login(platform_admin)
    response = client.post("/admin/auth/group/add/", {"name": "审核员"}, REMOTE_ADDR="203.0.113.5")
    assert response.status_code == 302
    Group.objects.create(name="临时一")
    Group.objects.create(name="临时二")
    ids = list(Group.objects.exclude(name="审核员").values_list("pk", flat=True))
    response = client.post(
        "/admin/auth/group/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
        REMOTE_ADDR="203.0.113.6",
    )
    assert response.status_code == 302
    events = AuditEvent.objects.filter(action=AuditEvent.Action.ADMIN_CHANGE).order_by("pk")
    assert [(e.ip, e.object_type, e.object_repr, e.detail["flag"]) for e in events] == [
        ("203.0.113.5", "auth.group", "审核员", "addition"),
        ("203.0.113.6", "auth.group", "临时一", "deletion"),
        ("203.0.113.6", "auth.group", "临时二", "deletion"),
    ]
    assert all(e.user == platform_admin and e.admin_log_entry_id for e in events)


# --- The trail in the admin ---------------------------------------------------------------------------------------


def test_platform_admins_read_and_filter_the_trail_and_nobody_edits_it(client, platform_admin, member_a):
    audit_record(action=AuditEvent.Action.LOGIN_FAILED, username="<script>alert(1)</script>")
    audit_record(action=AuditEvent.Action.EXPORT, user=member_a.user, detail={"kind": "roster"})
    client.force_login(platform_admin)
    changelist = reverse("admin:audit_auditevent_changelist")
    page = client.get(changelist, {"action": "login_failed"}).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert member_a.user.username not in page.split('id="result_list"')[1]
    assert member_a.user.username in client.get(changelist, {"q": member_a.user.username}).content.decode()
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert client.get(reverse("admin:audit_auditevent_change", args=[event.pk])).status_code == 200
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    assert client.post(reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()

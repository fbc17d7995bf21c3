"""Every date and time a person sees is in the site's time zone (Asia/Shanghai), never in UTC.

One instant serves every test: 2026-12-10 18:30 UTC is 2026-12-11 02:30 in Shanghai, so a UTC rendering shows
another day and another hour, and a test can tell the two apart anywhere — in each model's __str__ (and so in the
admin's titles, list columns and messages), the exports, the certificate, the messages and the calendar feed.
"""

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from django.apps import apps
from django.db import models
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

INSTANT = datetime(2026, 12, 10, 18, 30, tzinfo=UTC)  # 2026-12-11 02:30 in Shanghai
LOCAL_DAY = date(2026, 12, 11)
LOCAL_MINUTE = "2026-12-11 02:30"
# How a UTC rendering of INSTANT would show: its day (in any common spelling) or its hour, or a UTC marker.
UTC_MARKS = ("2026-12-10", "20261210", "12-10", "12月10日", "18:30", "+00:00", "UTC")
OTHER_INSTANT = datetime(2025, 3, 4, 20, 45, tzinfo=UTC)  # 2025-03-05 04:45 in Shanghai

APPS = ("audit", "notifications", "members", "incentives", "training", "demands", "projects", "volunteer_platform")


def test_the_instant_falls_on_another_day_in_the_site_time_zone(settings):
    assert settings.TIME_ZONE == "Asia/Shanghai" and settings.USE_TZ
    assert timezone.localtime(INSTANT).date() == LOCAL_DAY != INSTANT.date()


def assert_local(text: str, what: str, *, shows_time: bool = True) -> None:
    """`text` shows no UTC rendering of INSTANT; when it shows a time, it shows the local day and hour."""
    for mark in UTC_MARKS:
        assert mark not in text, f"{what} shows a UTC time ({mark!r}): {text!r}"
    if shows_time:
        assert "2026-12-11" in text, f"{what} does not show the local day 2026-12-11: {text!r}"
        for clock in re.findall(r"\d{1,2}:\d{2}(?::\d{2})?", text):
            assert clock.startswith("02:30"), f"{what} shows {clock}, not the local 02:30: {text!r}"


def test_the_check_refuses_a_utc_rendering():
    with pytest.raises(AssertionError, match="UTC"):
        assert_local(f"网格平安巡逻 {INSTANT:%Y-%m-%d %H:%M}", "Activity")
    with pytest.raises(AssertionError, match="local day"):
        assert_local("网格平安巡逻", "Activity")
    with pytest.raises(AssertionError, match="not the local"):
        assert_local("网格平安巡逻 2026-12-11 10:30", "Activity")
    assert_local(f"网格平安巡逻 {LOCAL_MINUTE}", "Activity")


def test_the_time_helpers():
    from core import times

    assert times.format_local(INSTANT) == LOCAL_MINUTE
    assert times.format_local(INSTANT, times.SECOND) == f"{LOCAL_MINUTE}:00"
    assert times.local_date(INSTANT) == LOCAL_DAY == times.local_date(LOCAL_DAY)
    assert times.format_local(LOCAL_DAY, times.DATE) == "2026-12-11"  # a date is written as it is
    assert times.local_iso(INSTANT) == "2026-12-11T02:30:00+08:00" and times.local_iso(LOCAL_DAY) == "2026-12-11"
    assert times.local_naive(INSTANT) == datetime(2026, 12, 11, 2, 30)
    naive = datetime(2026, 12, 11, 2, 30)
    assert times.local(naive) is naive  # taken as already local
    assert times.format_local(None) == ""
    assert times.local(None) is times.local_date(None) is times.local_iso(None) is times.local_naive(None) is None


# --- Every model's __str__, built in memory ---------------------------------------------------------------------


def concrete_models() -> list[type[models.Model]]:
    """Every concrete model of our apps — a new one is checked the day it is added."""
    return [
        model
        for label in APPS
        for model in apps.get_app_config(label).get_models()
        if not model._meta.proxy and not model._meta.abstract
    ]


def _label(model) -> str:
    return model._meta.label


MAX_DEPTH = 4  # related objects are built this deep (nullable ones stop there: Organization.parent is a tree)


def _value(field: models.Field, when: datetime):
    """A plausible value of `field` for an instance whose times are all `when`; dates are the local day of `when`,
    as the services store them."""
    if field.choices:
        return field.flatchoices[0][0]
    if isinstance(field, models.DateTimeField):
        return when
    if isinstance(field, models.DateField):
        return timezone.localtime(when).date()
    if isinstance(field, models.TimeField):
        return time(9, 0)
    if isinstance(field, models.DurationField):
        return timedelta(hours=2)
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.DecimalField):
        return Decimal("1.50")
    if isinstance(field, models.FloatField):
        return 1.5
    if isinstance(field, models.IntegerField):
        return 7
    if isinstance(field, models.UUIDField):
        return uuid.UUID(int=7)
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.BinaryField):
        return b""
    if isinstance(field, models.FileField):
        return "uploads/file.png"
    if isinstance(field, models.GenericIPAddressField):
        return "10.0.0.1"
    if isinstance(field, models.EmailField):
        return "someone@example.com"
    if "phone" in field.name:
        return "13812345678"
    return f"{field.name}值"


def build(model: type[models.Model], when: datetime, depth: int = 0) -> models.Model:
    """An unsaved instance of `model` with every field filled (times = `when`) and its related objects built the
    same way, so that __str__ runs without a database."""
    instance = model()
    for field in model._meta.concrete_fields:
        if field.is_relation:
            if depth >= MAX_DEPTH and field.null:
                continue
            if depth >= 2 * MAX_DEPTH:
                continue
            setattr(instance, field.name, build(field.related_model, when, depth + 1))
        else:
            setattr(instance, field.attname, _value(field, when))
    if hasattr(model, "instance_type") and "history_object" in dir(model):
        # A simple-history record: the object it shows is the tracked model's, rebuilt from the record's columns
        # (related objects by id — a database read); give it the in-memory one instead.
        instance.history_object = build(model.instance_type, when, depth + 1)
    return instance


def shows_a_time(model) -> bool:
    return str(build(model, INSTANT)) != str(build(model, OTHER_INSTANT))


@pytest.mark.parametrize("model", concrete_models(), ids=_label)
def test_str_shows_times_in_the_site_time_zone(model):
    assert_local(str(build(model, INSTANT)), f"{_label(model)}.__str__", shows_time=shows_a_time(model))


def test_the_walk_reaches_the_models_that_show_a_time():
    """The check above looks for the local time only where a model shows one: it must see the ones known to."""
    known = {
        "audit.AuditEvent",
        "audit.UserSession",
        "members.HistoricalMember",
        "members.HistoricalOrganization_admins",
        "members.ServiceRecord",
        "incentives.HistoricalRule",
        "training.TrainingSession",
        "training.Enrollment",
        "demands.ContactAccessLog",
        "demands.PairingVisit",
        "projects.Activity",
        "projects.SignUp",
        "projects.SelfReport",
    }
    assert known <= {_label(model) for model in concrete_models() if shows_a_time(model)}


# --- The admin: an activity's change page and list ----------------------------------------------------------------


@pytest.fixture
def frozen(clock):
    """The clock five days before INSTANT."""
    clock.now = INSTANT - timedelta(days=5)
    return clock


@pytest.fixture
def patrol(org_tree, frozen):
    """网格平安巡逻, starting at INSTANT (19:00-style: a local night-time start whose UTC day is the day before)."""
    from tests.projects.factories import ActivityFactory, ProjectFactory

    project = ProjectFactory(title="网格平安巡逻", brand_name="网格平安巡逻", organization=org_tree.branch_a)
    return ActivityFactory(project=project, starts_at=INSTANT, ends_at=INSTANT + timedelta(hours=2))


@pytest.mark.django_db
def test_admin_activity_change_title_and_list_column_are_local(client, platform_admin, patrol):
    client.force_login(platform_admin)

    page = client.get(reverse("admin:projects_activity_change", args=[patrol.pk])).content.decode()
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert_local(title, "the change page's title")
    assert LOCAL_MINUTE in re.search(r"<h2>(.*?)</h2>", page, re.S).group(1)  # the object's name above the form

    listing = client.get(reverse("admin:projects_activity_changelist")).content.decode()
    row = re.search(r'<tr[^>]*>\s*<td class="action-checkbox">.*?</tr>', listing, re.S).group(0)
    assert f"网格平安巡逻 {LOCAL_MINUTE}" in row  # the __str__ column
    assert_local(re.sub(r"<[^>]+>", " ", row), "the activity list's row")


# --- Exports --------------------------------------------------------------------------------------------------------


def _rows(content: bytes) -> list[tuple]:
    return list(load_workbook(BytesIO(content), read_only=True).active.iter_rows(values_only=True))


def _pairs(rows) -> dict:
    """A (label, value) sheet as a dict (a row whose value is empty is read back one cell short)."""
    return {row[0]: row[1] if len(row) > 1 else None for row in rows}


def _cells_text(rows) -> str:
    return " | ".join("" if v is None else str(v) for row in rows for v in row)


@pytest.fixture
def night_service(org_tree, member_a, secretary_a, frozen):
    """李明 served two hours from INSTANT (02:30–04:30 local on 12-11); verified. The clock stands at INSTANT."""
    from members import services
    from tests.members.factories import ServiceRecordFactory

    frozen.now = INSTANT + timedelta(hours=6)
    record = ServiceRecordFactory(member=member_a, start=INSTANT, end=INSTANT + timedelta(hours=2))
    record = services.service_record_verify(record=record, verifier=secretary_a)
    frozen.now = INSTANT
    return record


@pytest.mark.django_db
def test_a_night_service_is_on_its_local_day(night_service):
    assert night_service.date == LOCAL_DAY


@pytest.mark.django_db
def test_dashboard_exports_count_a_service_on_its_local_day(org_tree, night_service):
    from volunteer_platform import exports, selectors

    day_before = selectors.Period(date(2026, 12, 10), date(2026, 12, 10))
    local_day = selectors.Period(LOCAL_DAY, LOCAL_DAY)

    def figures(period):
        return _pairs(_rows(exports.build("figures", org_tree.street, period))[1:])

    assert figures(local_day)["服务时长（小时）"] == 2 and figures(day_before)["服务时长（小时）"] == 0
    assert figures(local_day)["开始日期"] == "2026-12-11"

    def league_hours(period):
        return {row[0]: row[4] for row in _rows(exports.build("league", org_tree.street, period))[1:]}

    assert league_hours(local_day)["东社区党委"] == 2 and league_hours(day_before)["东社区党委"] == 0

    def member_hours(period):
        return {row[1]: row[3] for row in _rows(exports.build("member-hours", org_tree.branch_a, period))[1:]}

    assert member_hours(local_day)["李明"] == 2 and member_hours(day_before).get("李明", 0) == 0
    for kind in exports.KINDS:
        assert_local(_cells_text(_rows(exports.build(kind, org_tree.street, local_day))), kind, shows_time=False)


@pytest.mark.django_db
def test_the_dashboard_export_of_today_ends_on_the_local_day(client, secretary_a, night_service):
    client.force_login(secretary_a)  # no period asked: this year up to today, the local today

    response = client.get(reverse("dashboard:export", args=["member-hours"]))

    assert response.status_code == 200
    assert "-20261211.xlsx" in response["Content-Disposition"]
    assert {row[1]: row[3] for row in _rows(response.content)[1:]}["李明"] == 2
    figures = _pairs(_rows(client.get(reverse("dashboard:export", args=["figures"])).content)[1:])
    assert figures["结束日期"] == "2026-12-11"


@pytest.mark.django_db
def test_the_training_export_counts_a_session_in_its_local_year(org_tree, member_a, secretary_a, frozen):
    """A session at 2026-12-31 17:00 UTC is at 01:00 on New Year's Day 2027 in Shanghai: 2027's hours."""
    from tests.training.factories import SessionFactory
    from training import services
    from volunteer_platform import exports, selectors

    new_year = datetime(2026, 12, 31, 17, tzinfo=UTC)
    frozen.now = new_year - timedelta(days=3)
    session = SessionFactory(organizer=org_tree.branch_a, starts_at=new_year, ends_at=new_year + timedelta(hours=2))
    services.enrollment_create(session=session, member=member_a)
    frozen.now = new_year + timedelta(days=1)
    services.attendance_record(session=session, attended=[member_a.pk], absent=[], actor=secretary_a)

    def branch_a_hours(year):
        rows = _rows(exports.build("training", org_tree.street, selectors.Period.year(year)))
        return next(row for row in rows if row[0] == "东一支部")[5]

    assert branch_a_hours(2027) == 2 and branch_a_hours(2026) == 0


def test_a_time_in_an_export_cell_is_the_local_wall_time():
    """Excel has no time zone: a time in a sheet is the local one, without an offset."""
    from volunteer_platform import exports

    rows = _rows(exports._sheet("t", ["时间", "数值"], [[INSTANT, 1]]))
    assert rows[1:] == [(datetime(2026, 12, 11, 2, 30), 1)]


@pytest.mark.django_db
def test_the_roster_export_is_named_and_numbered_by_the_local_day(client, platform_admin, org_tree, frozen):
    from members.resources import MemberResource
    from tests.members.factories import MemberFactory

    new_year = datetime(2026, 12, 31, 17, tzinfo=UTC)  # 2027-01-01 01:00 in Shanghai
    frozen.now = new_year
    member = MemberFactory(name="陈新", organization=org_tree.branch_a)
    assert member.volunteer_number.startswith("V2027")
    client.force_login(platform_admin)

    fields = {f"memberresource_{name}": "on" for name in MemberResource._meta.fields}
    response = client.post(reverse("admin:members_member_export"), {"resource": "0", "format": "0", **fields})

    assert response.status_code == 200, response.content.decode()[:2000]
    assert "2027-01-01" in response["Content-Disposition"], response["Content-Disposition"]
    text = _cells_text(_rows(response.content))
    assert member.volunteer_number in text and "2026-12-31" not in text


# --- The certificate --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_certificate_dates_are_local(client, member_a, night_service):
    client.force_login(member_a.user)

    response = client.get(reverse("members:me_certificate"))

    assert response.status_code == 200
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(response.content)).pages).replace("\n", "")
    assert "2026-12-11" in text  # the service's day
    assert "2026年12月11日" in text  # issued today, the local today
    assert_local(text, "the certificate", shows_time=False)


# --- Messages, the personal data download and the calendar feed ------------------------------------------------


@pytest.mark.django_db
def test_the_activity_reminder_says_the_local_time(patrol, member_a, frozen, sms_outbox):
    from notifications.models import Notification
    from notifications.rendering import render_message
    from projects import services

    services.signup_create(activity=patrol, member=member_a)
    frozen.now = INSTANT - timedelta(hours=20)
    signup = patrol.signups.get()

    services.activity_reminders_send(signup_ids=[signup.pk], hours_before=24)

    rows = Notification.objects.filter(template="projects_activity_reminder")
    assert rows.exists()
    for row in rows:
        message = render_message(row)
        assert_local(f"{message.subject} {message.body}", f"the {row.channel} reminder")


@pytest.mark.django_db
def test_the_personal_data_download_has_local_times(client, member_a, night_service):
    client.force_login(member_a.user)

    data = client.get(reverse("members:me_data_download")).content.decode()

    assert "2026-12-11T02:30:00+08:00" in data  # the record's start
    assert "2026-12-10T18:30" not in data and "+00:00" not in data


@pytest.mark.django_db
def test_the_calendar_feed_keeps_utc_with_z(client, patrol, member_a):
    """iCalendar's own rule: a UTC time written with Z, which every calendar shows in its own zone."""
    from projects import services

    services.signup_create(activity=patrol, member=member_a)
    feed = services.calendar_feed_for(member=member_a)

    body = client.get(reverse("projects:calendar_feed", args=[feed.token])).content.decode()

    assert "DTSTART:20261210T183000Z" in body and "DTEND:20261210T203000Z" in body

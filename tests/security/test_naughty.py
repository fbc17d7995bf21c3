"""A fixed corpus of hostile input (tests/data/naughty.json) into every form and query parameter.

Every form a persona meets on the site (public, member, secretary pages — found by reading the rendered pages, so
the submission starts from what a browser would send), the change and add forms of the main models in the admin,
and every query parameter the list pages read get each corpus string, one field at a time with the others valid.
For every request:

- no answer is a server error;
- a refused request (anything but a redirect) stored nothing: the tables it wrote to (PostgreSQL's own counts for
  the transaction, pg_stat_xact_user_tables) hold the same rows as before it, seen by rolling the case back;
- a stored value carrying markup is shown escaped on the page the form leads to and on the pages listed as showing
  it (no raw `<script>` in the HTML).

`test_every_form_of_the_site_is_walked` reads every page of the URL resolver as each persona: a new form (or a new
field of a GET form) must be added to the lists below. Fields that take free text (text inputs, text areas, hidden
inputs, query parameters) get the whole corpus under NAUGHTY=full (`make test-thorough`, run by .ci/run) and a
sample of every kind of string in it under `make test`; choices, check boxes and numbers always get the sample (the
C0 controls all take the same path through a choice or a number; the validator's own test takes each of them).
Under `make test` the fields of one form share the sample out (`_dealt`): every field gets a NUL and the length,
the other strings go round the fields, so each still reaches every form.

One world per module (built once, inside a transaction rolled back at the end); each case runs in a savepoint that
is rolled back, so cases never see each other's writes.
"""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.admin.helpers import AdminForm
from django.core.cache import caches
from django.db import connection, transaction
from django.forms import BaseForm, BaseFormSet
from django.test import Client
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.html import escape
from django_otp.plugins.otp_totp.models import TOTPDevice

from demands.models import MicroWish
from incentives import services as incentive_services
from notifications.models import Notification
from projects import services as project_services
from projects.models import SignUp
from tests.factories import UserFactory
from tests.personas import module_rows
from tests.projects.factories import ActivityFactory
from tests.security.args import url_for
from tests.security.html_forms import HtmlForm, page_forms
from tests.security.routes import route_names, sign_in
from tests.security.world import build_world
from tests.timing import earlier
from training import services as training_services
from training.models import TrainingSession
from volunteer_platform.middleware import SECOND_FACTOR_SESSION_KEY

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

_DATA = json.loads((Path(__file__).parents[1] / "data" / "naughty.json").read_text(encoding="utf-8"))
CORPUS: list[tuple[str, str]] = [(e["name"], e["value"] * e.get("repeat", 1)) for e in _DATA["strings"]]
_SAMPLE_NAMES = {
    *("nul", "C0 U+001B", "DEL", "CR LF", "10,000 characters", "bare word", "script", "SQL", "DDE cmd"),
    *("4-byte emoji", "RTL override", "full-width digits", "minus", "only spaces"),
}
SAMPLE = [(name, value) for name, value in CORPUS if name in _SAMPLE_NAMES]
# `make test` puts the sample (every kind of string the corpus holds: a NUL, C0 and DEL controls, CR LF, the length,
# a bare word, markup, SQL, a formula, an astral character, an RTL override, full-width digits, spaces) into typed
# text too; NAUGHTY=full — `make test-thorough`, which .ci/run runs — the whole corpus of 65.
FULL = os.environ.get("NAUGHTY", "") == "full"
C0_NAMES = [name for name, _ in CORPUS if name.startswith("C0 U+")]
# A few strings that take every path the corpus takes (a NUL, another control, the length, a bare word, markup and an
# astral character), for what is walked more than once or costs more: each query parameter alone (the whole
# corpus goes into all of a page's parameters at once), and the admin (a page there costs three to five times a
# site page: its change forms get these in every field, its add forms ADD_SAMPLE in their text fields).
_FEW = {"nul", "C0 U+001B", "10,000 characters", "bare word", "script", "4-byte emoji"}
FEW = [(name, value) for name, value in CORPUS if name in _FEW]
ADD_SAMPLE = [(name, value) for name, value in CORPUS if name in {"nul", "10,000 characters", "script"}]
# Markup payloads, and the part of each that must never appear raw on a page: from its first "<", 12 characters.
MARKUP = {name: value[value.index("<") : value.index("<") + 12] for name, value in CORPUS if "<" in value}
TYPED_TEXT_KINDS = {"text", "textarea", "email", "url", "tel", "search", "password"}

# Tables a refused request may still write: the session, the sign-in lockout's records, the audit trail, and the
# failures a wrong code counts (an SMS code's attempts; a second-factor device's wait before the next try).
MAY_WRITE = {
    *("django_session", "axes_accessattempt", "axes_accessfailurelog", "axes_accesslog", "audit_auditevent"),
    *("members_signincode", "otp_totp_totpdevice", "otp_static_staticdevice"),
}

W = object  # the world: tests/security/world.py's namespace, with the extras below


@dataclass(frozen=True)
class Target:
    """A form (POST) or a page's query parameters (GET) as one persona uses it."""

    persona: str
    route: str  # the route the form posts to, or the page read
    url: Callable | None = None  # world -> the URL, when args.py's object is not the one (default: url_for)
    page: Callable | None = None  # world -> the page showing the form (default: the form's URL)
    valid: Callable = lambda w: {}  # values that make the rendered form valid
    params: tuple[str, ...] = ()  # fields the view reads that the page does not render (GET: the parameters)
    shows: Callable = lambda w: []  # world -> [(persona, url)] pages that show what the form stores
    method: str = "post"
    prepare: Callable | None = None  # (world, client) -> None: what the persona does before the page shows the form

    @property
    def id(self) -> str:
        return f"{self.persona}-{self.method}-{self.route}"


def _day(days: int, hour: int) -> str:
    return (timezone.localtime() + timedelta(days=days)).replace(hour=hour, minute=0).strftime("%Y-%m-%d %H:%M")


def _latest_wish_review(w) -> list:
    return [("secretary_a", reverse("demands:review_detail", args=[MicroWish.objects.latest("pk").pk]))]


def _wish_review(attr: str) -> Callable:
    return lambda w: [("secretary_a", reverse("demands:review_detail", args=[getattr(w, attr).pk]))]


NEXT = ("next",)


def _second_factor_on(user, client, *, owed: bool = False) -> None:
    """Give `user` a TOTP device; with `owed`, their session then owes it (as after a sign-in)."""
    TOTPDevice.objects.get_or_create(user=user, defaults={"name": "app", "confirmed": True})
    if owed:
        session = client.session
        session[SECOND_FACTOR_SESSION_KEY] = "verify"
        session.save()


def _code_asked(route: str) -> Callable:
    """Ask for an SMS code for member A's number, so the code page shows its form."""

    def prepare(w, client) -> None:
        response = client.post(reverse(route), {"phone": w.member_a.phone})
        assert response.status_code == 302, response.status_code

    return prepare


def _wechat_waiting(*, code_asked: bool = False) -> Callable:
    """A WeChat sign-in that found no binding: its identity waits in the session (volunteer_platform/wechat_views.py);
    with `code_asked`, a bind code was then asked for member A's number."""

    def prepare(w, client) -> None:
        session = client.session
        identity = {"app": "open", "openid": "o-naughty", "unionid": "", "nickname": "", "next": ""}
        session["_wechat_identity"] = {**identity, "until": int(timezone.now().timestamp()) + 3600}
        session.save()
        if code_asked:
            response = client.post(reverse("wechat_bind"), {"phone": w.member_a.phone})
            assert response.status_code == 302, response.status_code

    return prepare


SITE_FORMS = [
    # Public
    Target("anon", "login", valid=lambda w: {"username": "member_a", "password": "wrong"}),
    Target("anon", "set_language", page=lambda w: "/", valid=lambda w: {"next": "/projects/"}),
    Target("anon", "sign_in_code", valid=lambda w: {"phone": w.member_a.phone}, params=NEXT),
    Target("anon", "sign_in_code_confirm", valid=lambda w: {"code": "123456"}, prepare=_code_asked("sign_in_code")),
    Target("anon", "password_reset", valid=lambda w: {"phone": w.member_a.phone}),
    Target("anon", "wechat_bind", valid=lambda w: {"phone": w.member_a.phone}, prepare=_wechat_waiting()),
    Target("anon", "wechat_bind_confirm", valid=lambda w: {"code": "123456"}, prepare=_wechat_waiting(code_asked=True)),
    Target("member_a", "wechat_unbind", page=lambda w: "/me/", valid=lambda w: {"binding": w.wechat_binding.pk}),
    Target(
        "anon",
        "password_reset_confirm",
        valid=lambda w: {"code": "123456", "new_password1": "Aa-123456-xyz", "new_password2": "Aa-123456-xyz"},
        prepare=_code_asked("password_reset"),
    ),
    Target(
        "anon",
        "demands:new",
        valid=lambda w: {
            "category": w.published.category_id,
            "title": "帮忙修理漏水的水龙头",
            "description": "厨房水龙头一直滴水，老人自己修不了。",
            "community": w.community_a.pk,
            "preferred_time": "周六上午",
            "contact_name": "张桂英",
            "phone": "13900007777",
            "consent_processing": "on",
        },
        params=("offer",),
        shows=_latest_wish_review,
    ),
    Target(
        "anon", "demands:track", valid=lambda w: {"code": w.fulfilled.tracking_code, "last4": w.resident_phone[-4:]}
    ),
    Target("anon", "demands:feedback", valid=lambda w: {"rating": "5"}, shows=_wish_review("fulfilled")),
    Target(
        "anon",
        "members:invite_accept",
        page=lambda w: w.invitation,
        valid=lambda w: {"new_password1": "Aa-123456-xyz", "new_password2": "Aa-123456-xyz", "name": "刘阳"},
    ),
    # Second factor (secretaries may set it up; the code pages of one that is on)
    Target("secretary_a", "second_factor_setup", valid=lambda w: {"token": "123456"}),
    Target(
        "secretary_a",
        "second_factor",
        valid=lambda w: {"token": "123456"},
        prepare=lambda w, client: _second_factor_on(w.secretary_a, client, owed=True),
    ),
    Target(
        "secretary_a",
        "second_factor_turn_off",
        page=lambda w: reverse("second_factor_setup"),
        valid=lambda w: {"token": "123456"},
        prepare=lambda w, client: _second_factor_on(w.secretary_a, client),
    ),
    # Members
    Target(
        "member_a",
        "members:me_profile",
        shows=lambda w: [("member_a", "/me/"), ("secretary_a", reverse("admin:members_member_changelist"))],
    ),
    Target("member_a", "members:me_data", valid=lambda w: {"confirm": "on"}),
    # The admin's import of records kept elsewhere (the file itself: tests/members/test_national.py's hostile rows).
    Target(
        "secretary_a",
        "admin:members_servicerecord_import_external",
        valid=lambda w: {"organization": w.branch_a.pk, "origin": "全国志愿服务信息系统"},
    ),
    Target("member_a", "members:me_residence", valid=lambda w: {"community": w.community_a.pk}),
    Target(
        "member_a",
        "members:me_record_correction",
        valid=lambda w: {"new_place": "东风村活动室", "reason": "地点记错了"},
        shows=lambda w: [("member_a", "/me/records/")],
    ),
    Target(
        "member_a",
        "demands:my_offers",
        valid=lambda w: {"title": "上门修理小家电", "category": w.published.category_id, "community": w.community_a.pk},
        shows=lambda w: [("anon", "/offers/")],
    ),
    Target("member_a", "demands:offer_edit", shows=lambda w: [("anon", "/offers/")]),
    Target(
        "member_a",
        "projects:self_report",
        valid=lambda w: {
            "date": (timezone.localdate() - timedelta(days=1)).isoformat(),
            "start": "09:00",
            "end": "11:00",
            "hours": "2",
            "place": "社区活动中心",
            "content": "打扫楼道",
        },
        shows=lambda w: [("member_a", reverse("projects:my_activities"))],
    ),
    Target(
        "member_a", "projects:activity_checkin", url=lambda w: reverse("projects:activity_checkin", args=[w.running.pk])
    ),
    Target(
        "member_a",
        "projects:activity_signup",
        url=lambda w: reverse("projects:activity_signup", args=[w.open_activity.pk]),
        page=lambda w: reverse("projects:activity_detail", args=[w.open_activity.pk]),
        params=NEXT,
    ),
    Target(
        "member_a",
        "projects:activity_cancel_signup",
        page=lambda w: reverse("projects:activity_detail", args=[w.activity.pk]),
        params=NEXT,
    ),
    Target(
        "member_a",
        "projects:activity_survey",
        url=lambda w: reverse("projects:activity_survey", args=[w.ended.pk]),
        params=("rating", "comment"),
    ),
    Target("member_a", "projects:post_claim", page=lambda w: reverse("projects:project_detail", args=[w.project.slug])),
    Target(
        "member_a",
        "incentives:objection",
        valid=lambda w: {"text": "我的服务时长少算了一次。"},
        shows=lambda w: [("member_a", reverse("incentives:publicity", args=[w.rating.run_id]))],
    ),
    Target("member_a", "incentives:leaderboard_opt_out", page=lambda w: reverse("incentives:leaderboard")),
    Target("member_a", "incentives:redemption_cancel", page=lambda w: reverse("incentives:rewards")),
    Target("member_a", "incentives:commendation_consent", page=lambda w: reverse("incentives:points")),
    Target("member_a", "demands:claim", page=lambda w: reverse("demands:detail", args=[w.published.pk])),
    Target(
        "member_a", "demands:release", page=lambda w: reverse("demands:detail", args=[w.claimed.pk]), params=("reason",)
    ),
    Target(
        "member_a",
        "demands:visit_new",
        valid=lambda w: {"start": _day(-1, 9), "end": _day(-1, 11), "hours": "2", "summary": "陪老人聊天"},
        shows=lambda w: [("member_a", "/me/records/")],
    ),
    Target(
        "member_a",
        "demands:fulfil",
        valid=lambda w: {"note": "已修好", "start": _day(-1, 9), "end": _day(-1, 11)},
        shows=_wish_review("claimed"),
    ),
    Target("member_a", "notifications:preferences"),
    Target("member_a", "members:me_device_revoke", page=lambda w: reverse("members:me_devices")),
    Target("member_a", "notifications:inbox_mark_read", page=lambda w: reverse("notifications:inbox"), params=NEXT),
    Target("member_a", "notifications:inbox_mark_all_read", page=lambda w: reverse("notifications:inbox"), params=NEXT),
    Target(
        "member_a",
        "training:enroll",
        url=lambda w: reverse("training:enroll", args=[w.open_session.pk]),
        page=lambda w: reverse("training:session_detail", args=[w.open_session.pk]),
        params=NEXT,
    ),
    Target(
        "member_a",
        "training:cancel_enrollment",
        page=lambda w: reverse("training:session_detail", args=[w.session.pk]),
        params=NEXT,
    ),
    Target("member_a", "logout", page=lambda w: "/", params=NEXT),
    Target("member_a", "projects:my_calendar"),
    # Secretaries
    Target(
        "secretary_a",
        "news:broadcast_new",
        valid=lambda w: {"organization": w.branch_a.pk, "subject": "周六清扫", "body": "九点集合"},
        params=("confirm", "edit"),
    ),
    Target(
        "secretary_a", "dashboard:task", shows=lambda w: [("secretary_a", reverse("dashboard:task", args=[w.task.pk]))]
    ),
    Target(
        "secretary_a",
        "dashboard:reports",
        valid=lambda w: {"kind": "quarterly", "year": str(timezone.localdate().year - 1), "quarter": "4"},
        shows=lambda w: [("secretary_a", url_for("dashboard:reports", w))],
    ),
    Target(
        "secretary_a",
        "training:external_record_new",
        valid=lambda w: {"member": w.member_a.pk, "hours": "2", "completed_on": timezone.localdate().isoformat()},
    ),
    Target(
        "secretary_a",
        "demands:review_save",
        page=lambda w: reverse("demands:review_detail", args=[w.submitted.pk]),
        shows=_wish_review("submitted"),
    ),
    Target(
        "secretary_a",
        "demands:review_reject",
        page=lambda w: reverse("demands:review_detail", args=[w.submitted.pk]),
        valid=lambda w: {"reason": "不属于服务范围"},
        shows=_wish_review("submitted"),
    ),
    Target(
        "secretary_a",
        "demands:review_block",
        page=lambda w: reverse("demands:review_detail", args=[w.submitted.pk]),
        valid=lambda w: {"reason": "恶意提交"},
    ),
    Target(
        "secretary_a", "demands:review_invite", page=lambda w: reverse("demands:review_detail", args=[w.published.pk])
    ),
    Target("secretary_a", "members:residence_confirm", page=lambda w: reverse("members:residence_queue")),
    Target("secretary_a", "projects:attendance", url=lambda w: reverse("projects:attendance", args=[w.running.pk])),
    Target(
        "secretary_a",
        "projects:activity_new_code",
        url=lambda w: reverse("projects:activity_new_code", args=[w.running.pk]),
        page=lambda w: reverse("projects:activity_checkin_screen", args=[w.running.pk]),
    ),
    Target(
        "secretary_a",
        "projects:activity_checkin_place",
        url=lambda w: reverse("projects:activity_checkin_place", args=[w.running.pk]),
        page=lambda w: reverse("projects:activity_checkin_screen", args=[w.running.pk]),
    ),
    Target(
        "secretary_a", "training:attendance", url=lambda w: reverse("training:attendance", args=[w.past_session.pk])
    ),
]

LIST_PAGES = [
    Target("anon", "home", method="get", params=("page", "q")),
    Target(
        "anon",
        "projects:project_list",
        method="get",
        params=("category", "mode", "target_group", "community", "date_from", "date_to", "matches", "seats", "page"),
    ),
    Target("anon", "demands:wall", method="get", params=("community", "grid", "category", "target_group", "page")),
    Target("anon", "demands:offers", method="get", params=("community", "grid", "category", "page")),
    Target("anon", "demands:new", method="get", params=("offer",)),
    Target("anon", "incentives:exemplars", method="get", params=("page",)),
    Target("anon", "login", method="get", params=("next",)),
    Target("member_a", "members:me_records", method="get", params=("from", "to", "page")),
    Target("member_a", "incentives:points", method="get", params=("page",)),
    Target("member_a", "incentives:leaderboard", method="get", params=("p", "organization")),
    Target("member_a", "incentives:publicity", method="get", params=("page",)),
    Target("member_a", "notifications:inbox", method="get", params=("page",)),
    Target("member_a", "training:index", method="get", params=("page", "year")),
    Target("member_a", "projects:my_activities", method="get", params=("page",)),
    Target("member_a", "projects:activity_checkin", method="get", params=("code",)),
    Target("secretary_a", "dashboard:index", method="get", params=("org", "from", "to", "year", "month", "page")),
    Target("secretary_a", "dashboard:plans", method="get", params=("org",)),
    Target("secretary_a", "demands:review", method="get", params=("tab", "page")),
    Target("secretary_a", "training:completion", method="get", params=("organization", "year", "page")),
    Target("secretary_a", "training:manage", method="get", params=("page",)),
    Target("secretary_a", "members:residence_queue", method="get", params=("page",)),
    Target(
        "admin", "admin:members_member_changelist", method="get", params=("q", "p", "o", "e", "organization__id__exact")
    ),
    Target("admin", "admin:demands_microwish_changelist", method="get", params=("q", "p", "o", "state__exact")),
    Target("admin", "admin:projects_activity_changelist", method="get", params=("q", "p", "o", "starts_at__gte")),
    Target("admin", "admin:incentives_ledgerentry_changelist", method="get", params=("q", "p", "member")),
]

# The main models of the admin and the world's object whose change form is walked.
ADMIN_MODELS = {
    "members.member": "member_a",
    "members.organization": "branch_a",
    "members.community": "community_a",
    "members.servicerecord": "service_record",
    "projects.serviceproject": "project",
    "projects.activity": "activity",
    "demands.microwish": "submitted",
    "demands.serviceoffer": "offer",
    "demands.household": "pairing.household",
    "training.trainingsession": "session",
    "training.course": "session.course",
    "incentives.catalogueitem": "item",
    "incentives.commendation": "commendation",
    "volunteer_platform.plan": "plan",
    "volunteer_platform.task": "task",
}


# --- The world ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """tests/security/world.py's street, plus the states that put the remaining forms on their pages: member A
    signed up (cancel), enrolled (cancel), at a running activity (check-in, the attendance sheet), attended at an
    ended one (survey), a past session (training attendance), an approved commendation (consent), a delivered
    message (inbox)."""
    with module_rows(django_db_blocker):
        w = build_world(UserFactory(username="admin", is_staff=True, is_superuser=True))
        project_services.signup_create(activity=w.activity, member=w.member_a)
        w.open_activity = ActivityFactory(project=w.project, starts_at=timezone.now() + timedelta(days=20))
        now = timezone.now()
        # Made and signed up for three days ago, so that now one is under way and one is over.
        with earlier(timedelta(days=3)):
            w.running = ActivityFactory(project=w.project, starts_at=now - timedelta(minutes=20))
            project_services.signup_create(activity=w.running, member=w.member_a)
            w.ended = ActivityFactory(project=w.project, starts_at=now - timedelta(hours=5))
            signup = project_services.signup_create(activity=w.ended, member=w.member_a)
            past = TrainingSession.objects.create(
                course=w.session.course,
                organizer=w.branch_a,
                starts_at=now - timedelta(days=2),
                ends_at=now - timedelta(days=2, hours=-2),
                place="党群服务中心",
                capacity=30,
            )
            training_services.enrollment_create(session=past, member=w.member_a)
        SignUp.objects.filter(pk=signup.pk).update(status=SignUp.Status.ATTENDED, hours=Decimal("1"))
        training_services.enrollment_create(session=w.session, member=w.member_a)
        w.open_session = TrainingSession.objects.create(
            course=w.session.course,
            organizer=w.branch_a,
            starts_at=timezone.now() + timedelta(days=9),
            ends_at=timezone.now() + timedelta(days=9, hours=2),
            place="党群服务中心",
            capacity=30,
        )
        w.past_session = past
        w.commendation = incentive_services.commendation_approve(commendation=w.commendation, actor=w.admin)
        Notification.objects.filter(pk=w.notification.pk).update(
            status=Notification.Status.SENT, sent_at=timezone.now()
        )
        yield w


@pytest.fixture
def limits_off(settings):
    # The limits would answer 429 after a few cases; here every request must reach the form.
    for name in ("WISH_SUBMIT_IP_LIMIT", "WISH_SUBMIT_PHONE_LIMIT", "WISH_TRACK_IP_LIMIT", "WISH_TRACK_CODE_LIMIT"):
        setattr(settings, name, (10**6, 3600))
    settings.WISH_FEEDBACK_IP_LIMIT = settings.CHECKIN_ATTEMPT_LIMIT = (10**6, 3600)
    for name in ("RESEND", "PHONE", "IP", "CHECK_IP"):
        setattr(settings, f"SIGN_IN_CODE_{name}_LIMIT", (10**6, 3600))


# --- One case -------------------------------------------------------------------------------------------------


def _write_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables")
        return dict(cursor.fetchall())


def _contents(tables) -> dict[str, str]:
    """A digest of every row of each table (small tables: the world's)."""
    if not tables:
        return {}
    with connection.cursor() as cursor:
        digest = "(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} t)"
        parts = [digest.format(connection.ops.quote_name(table)) for table in sorted(tables)]
        cursor.execute("SELECT " + ", ".join(parts))
        return dict(zip(sorted(tables), cursor.fetchone(), strict=True))


@dataclass
class Walk:
    """The clients of the personas and what went wrong, for one test."""

    world: object
    clients: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    requests: int = 0
    escaped_seen: int = 0

    def client(self, persona: str) -> Client:
        if persona not in self.clients:
            client = Client(raise_request_exception=False)
            sign_in(client, persona, self.world)
            self.clients[persona] = client
        return self.clients[persona]

    def case(self, target: Target, url: str, data: dict, what: str, value_name: str, value: str) -> None:
        client = self.client(target.persona)
        cookies = client.cookies
        client.cookies = type(cookies)(cookies)  # a sign-in or language change stays in this case
        label = f"{target.id} {what}={value_name}"
        refused_writes: dict[str, str] = {}
        try:
            with transaction.atomic():
                before = _write_counts()
                self.requests += 1
                response = (client.get if target.method == "get" else client.post)(url, data)
                if response.status_code >= 500:
                    self.failures.append(f"{label}: {response.status_code}")
                    transaction.set_rollback(True)
                    return
                after = _write_counts()
                written = {t for t, n in after.items() if n != before.get(t, 0)} - MAY_WRITE
                if _refused(response):
                    refused_writes = _contents(written)
                elif value_name in MARKUP and target.method == "post":
                    self._check_escaped(target, response, MARKUP[value_name], label)
                transaction.set_rollback(True)
            if refused_writes and _contents(refused_writes) != refused_writes:
                changed = [t for t, digest in _contents(refused_writes).items() if digest != refused_writes[t]]
                self.failures.append(f"{label}: refused ({response.status_code}) but changed {changed}")
        finally:
            client.cookies = cookies
            caches["default"].clear()

    def _check_escaped(self, target: Target, response, raw: str, label: str) -> None:
        """The answer (or the page it leads to) and the pages that show what the form stored."""
        pages = [(target.persona, response.url)] if response.status_code == 302 else [(None, response)]
        for persona, url in [*pages, *target.shows(self.world)]:
            if persona is None:
                page = url
            elif urlsplit(url).netloc:
                continue
            else:
                page = self.client(persona).get(url)
            if page.status_code != 200 or "html" not in page.get("Content-Type", ""):
                continue
            html = page.content.decode()
            if raw in html:
                self.failures.append(f"{label}: shown unescaped on {url}")
            if escape(raw) in html:
                self.escaped_seen += 1


def _refused(response) -> bool:
    """A form drawn again with its errors, or an answer that is no success (a redirect or a page without errors)."""
    if response.status_code in (200, 302):
        return response.status_code == 200 and _has_errors(response)
    return True


def _has_errors(response) -> bool:
    contexts = response.context if isinstance(response.context, list) else [response.context]
    for context in contexts:
        if context is None:
            continue
        for key, value in context.flatten().items():
            if isinstance(value, AdminForm):
                value = value.form
            if isinstance(value, BaseForm | BaseFormSet) and value.is_bound and value.errors:
                return True
            if key == "errors" and value:
                return True
    return False


def _values(kind: str):
    """Typed text gets the whole corpus (NAUGHTY=full) or the sample; hidden fields, choices, check boxes, numbers
    and dates the sample."""
    return CORPUS if FULL and kind in TYPED_TEXT_KINDS else SAMPLE


# Under `make test` a form's fields share the strings out: each field gets these two (a NUL, which PostgreSQL
# refuses in text, and the length, which overflows a column) and the others are dealt round the fields, so every
# string still reaches every form. NAUGHTY=full gives every field all of them.
ALWAYS = ("nul", "10,000 characters")


def _dealt(
    values: list[tuple[str, str]], slot: int, slots: int, always: tuple[str, ...] = ALWAYS
) -> list[tuple[str, str]]:
    """The share of `values` the field in `slot` (of `slots`) gets under `make test`; all of them under NAUGHTY=full."""
    if FULL:
        return values
    rest = [v for v in values if v[0] not in always]
    return [v for v in values if v[0] in always] + rest[slot::slots]


def _target_url(target: Target, w) -> str:
    return target.url(w) if target.url else url_for(target.route, w)


def _the_form(target: Target, w, walk: Walk) -> tuple[str, HtmlForm]:
    """The form of `target` as its page renders it, and the URL it posts to."""
    url = _target_url(target, w)
    page_url = target.page(w) if target.page else url
    if target.prepare is not None:
        target.prepare(w, walk.client(target.persona))
    page = walk.client(target.persona).get(page_url, follow=True)
    assert page.status_code == 200, f"{target.id}: {page_url} answered {page.status_code}"
    final = page.request["PATH_INFO"]
    for form in page_forms(page.content.decode(), final):
        if form.method == "post" and _view_name(form.action) == target.route:
            return form.action, form
    raise AssertionError(f"{target.id}: no form posting to {target.route} on {page_url}")


def _view_name(path: str) -> str | None:
    try:
        return resolve(urlsplit(path).path).view_name
    except Resolver404:
        return None


# --- The tests ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", SITE_FORMS, ids=lambda t: t.id)
def test_site_forms_take_the_corpus(target, world, limits_off):
    walk = Walk(world)
    action, form = _the_form(target, world, walk)
    base = {**form.data(), **{k: [str(v)] for k, v in target.valid(world).items()}}
    kinds = {f.name: f.kind for f in form.fields}
    # A form without fields (a button) still gets the sample in a field it does not know.
    names = list(dict.fromkeys([*form.names(), *target.params])) or ["unknown"]
    typed = [name for name in names if kinds.get(name) in TYPED_TEXT_KINDS]
    for slot, name in enumerate(names):
        values = _values(kinds.get(name, "hidden" if name != "unknown" else "checkbox"))
        if name in typed:
            # Every control character reaches every form: the C0 controls are dealt out over its typed fields
            # (one validator takes them all, core/text.py; its own test sends each into a field).
            place = typed.index(name)
            values = [v for v in values if v[0] not in C0_NAMES or C0_NAMES.index(v[0]) % len(typed) == place]
        values = _dealt(values, slot, len(names))
        for value_name, value in values:
            walk.case(target, action, {**base, name: value}, name, value_name, value)
    assert not walk.failures, "\n".join(walk.failures)


@pytest.mark.parametrize("target", LIST_PAGES, ids=lambda t: t.id)
def test_query_parameters_take_the_corpus(target, world):
    walk = Walk(world)
    url = reverse(target.route) if target.route.startswith("admin:") else url_for(target.route, world)
    path = urlsplit(url).path
    base = dict(pair.split("=", 1) for pair in urlsplit(url).query.split("&") if pair)
    # Each corpus string in every parameter at once (each is read on its own), then a few in one parameter at a time
    # with the others absent.
    corpus = CORPUS if FULL and target.persona != "admin" else SAMPLE
    for value_name, value in corpus:
        walk.case(target, path, {**base, **dict.fromkeys(target.params, value)}, "all", value_name, value)
    for slot, name in enumerate(target.params):
        for value_name, value in _dealt(FEW, slot, len(target.params)):
            walk.case(target, path, {**base, name: value}, name, value_name, value)
    assert not walk.failures, "\n".join(walk.failures)


def _get(obj, dotted: str):
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.thorough  # the admin forms, at three to five times a site page each: make test-thorough
@pytest.mark.parametrize("label", sorted(ADMIN_MODELS))
def test_admin_forms_take_the_corpus(label, world):
    """The change form of the world's object gets the corpus in every field; the add form gets the sample in its
    text fields, the others filled from the change form."""
    walk = Walk(world)
    app, model = label.split(".")
    change = reverse(f"admin:{app}_{model}_change", args=[_get(world, ADMIN_MODELS[label]).pk])
    add = reverse(f"admin:{app}_{model}_add")
    target = Target(
        "admin",
        f"admin:{app}_{model}_change",
        shows=lambda w: [("admin", change), ("admin", reverse(f"admin:{app}_{model}_changelist"))],
    )
    forms = {}
    for url in (change, add):
        page = walk.client("admin").get(url)
        if url == add and page.status_code == 403:  # added elsewhere (a wish by its resident, an offer by its member)
            continue
        assert page.status_code == 200, url
        forms[url] = max(
            (f for f in page_forms(page.content.decode(), url) if f.method == "post"), key=lambda f: len(f.fields)
        )
    base = forms[change].data()
    # The model's own fields (an inline's rows are its own model's; the buttons only choose where to go next).
    names = [n for n in forms[change].names() if "-" not in n and not n.startswith("_")]
    for slot, name in enumerate(names):
        # An admin page costs three to five times a site page: under `make test` each field gets the NUL, and the
        # length goes round with the others.
        for value_name, value in _dealt(FEW, slot, len(names), always=("nul",)):
            walk.case(target, change, {**base, name: value}, name, value_name, value)
    if add not in forms:
        assert not walk.failures, "\n".join(walk.failures)
        return
    add_target = Target("admin", f"admin:{app}_{model}_add", shows=target.shows)
    add_base = {**forms[add].data(), **{k: v for k, v in base.items() if k in forms[add].names() and "-" not in k}}
    typed = [f.name for f in forms[add].fields if f.kind in TYPED_TEXT_KINDS and "-" not in f.name]
    for slot, name in enumerate(typed):
        for value_name, value in _dealt(ADD_SAMPLE, slot, len(typed)):
            walk.case(add_target, add, {**add_base, name: value}, name, value_name, value)
    assert not walk.failures, "\n".join(walk.failures)


def test_every_form_of_the_site_is_walked(world):
    """Every page of the URL resolver, as each persona: each form posting somewhere is in SITE_FORMS, and each field
    of a GET form is a parameter of LIST_PAGES."""
    walk = Walk(world)
    walked = {(t.persona, t.route) for t in SITE_FORMS}
    posted_routes = {t.route for t in SITE_FORMS}
    parameters = {(t.route, p) for t in LIST_PAGES for p in t.params}
    missing = set()
    pages = [url_for(name, world) for name in route_names() if not name.startswith("admin:")]
    pages += [t.page(world) for t in SITE_FORMS if t.page] + [t.url(world) for t in SITE_FORMS if t.url]
    for persona in ("anon", "resident", "member_a", "secretary_a"):
        client = walk.client(persona)
        for url in dict.fromkeys(pages):
            response = client.get(url, follow=True)
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            for form in page_forms(response.content.decode(), response.request["PATH_INFO"]):
                route = _view_name(form.action)
                if form.method == "get":
                    missing |= {f"GET {route}?{name}" for name in form.names() if (route, name) not in parameters}
                elif route not in posted_routes:
                    missing.add(f"POST {route} (as {persona}, on {url})")
    assert walked  # the lists are not empty
    assert not missing, "add these to SITE_FORMS / LIST_PAGES:\n" + "\n".join(sorted(missing))


SCRIPT = "<script>alert(1)</script>"
# (persona, the form's page, the field, the pages that show it) — forms whose text may hold markup, stored as typed.
SHOWN = [
    ("member_a", lambda w: reverse("members:me_profile"), "name", lambda w: ["/me/", "/me/profile/"]),
    (
        "secretary_a",
        lambda w: reverse("dashboard:task", args=[w.task.pk]),
        "text",
        lambda w: [reverse("dashboard:task", args=[w.task.pk])],
    ),
    (
        "admin",
        lambda w: reverse("admin:projects_serviceproject_change", args=[w.project.pk]),
        "title",
        lambda w: [
            reverse("projects:project_detail", args=[w.project.slug]),
            "/projects/",
            reverse("admin:projects_serviceproject_changelist"),
        ],
    ),
    (
        "admin",
        lambda w: reverse("admin:projects_activity_change", args=[w.activity.pk]),
        "place",
        lambda w: [reverse("projects:activity_detail", args=[w.activity.pk])],
    ),
]


@pytest.mark.parametrize(("persona", "page", "field", "shown_on"), SHOWN, ids=[f"{s[0]}-{s[2]}" for s in SHOWN])
def test_stored_markup_is_shown_escaped(persona, page, field, shown_on, world):
    walk = Walk(world)
    client = walk.client(persona)
    url = page(world)
    html = client.get(url).content.decode()
    forms = [f for f in page_forms(html, url) if f.method == "post" and field in f.names()]
    form = max(forms, key=lambda f: len(f.fields))
    with transaction.atomic():
        response = client.post(form.action, {**form.data(), field: SCRIPT})
        assert response.status_code == 302, _has_errors(response) and response.context
        for shown in shown_on(world):
            body = client.get(shown).content.decode()
            assert SCRIPT not in body, shown
            assert escape(SCRIPT) in body, f"{shown} does not show the stored {field}"
        transaction.set_rollback(True)
    caches["default"].clear()

"""The projects admin: projects with target groups, a validated logo and posts; activities through the service;
the self-report approval queue; scoped choices; list query counts."""

from datetime import time, timedelta
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from audit.models import AuditEvent
from incentives.models import LedgerEntry
from members.models import ServiceRecord
from projects import services
from projects.models import Activity, ProjectCategory, SelfReport, ServiceProject
from tests.members.factories import MemberFactory
from tests.projects.factories import ActivityFactory, ProjectFactory
from tests.queries import assert_constant_queries

pytestmark = pytest.mark.django_db


def _png(width=800, height=600) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (width, height), (179, 19, 27)).save(buffer, format="PNG")
    return buffer.getvalue()


def _project_post(org, **changes):
    data = {
        "title": "银龄关爱行动",
        "slug": "silver-care",
        "brand_name": "银龄关爱",
        "slogan": "党员常上门",
        "status": "published",
        "category": ProjectCategory.objects.get(name="助老").pk,
        "service_mode": "direct",
        "target_groups": ["elderly_alone", "disabled"],
        "organization": org.pk,
        "place": "幸福里社区党群服务中心",
        "description": "",
        "recurrence": "none",
        "posts-TOTAL_FORMS": "1",
        "posts-INITIAL_FORMS": "0",
        "posts-0-title": "周三下午陪伴",
        "posts-0-weekday": "2",
        "posts-0-start_time": "14:00",
        "posts-0-minutes": "120",
        "posts-0-places": "4",
        "posts-0-active": "on",
    }
    data.update(changes)
    return data


def test_secretary_creates_a_project_with_groups_logo_and_a_post(client, org_tree, secretary_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(secretary_a)
    logo = SimpleUploadedFile("logo.png", _png(), content_type="image/png")
    response = client.post(reverse("admin:projects_serviceproject_add"), _project_post(org_tree.branch_a, logo=logo))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    project = ServiceProject.objects.get(slug="silver-care")
    assert project.target_group_codes == ["disabled", "elderly_alone"]
    assert project.posts.get().places == 4
    with Image.open(project.logo.path) as stored:
        assert stored.format == "PNG" and max(stored.size) == 512
    served = client.get(reverse("projects:project_logo", args=["silver-care"]))
    assert served["Content-Type"] == "image/png"


def test_a_bad_logo_or_an_incomplete_rule_is_a_form_error(client, org_tree, secretary_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(secretary_a)
    fake = SimpleUploadedFile("logo.png", b"<html><script>alert(1)</script></html>", content_type="image/png")
    response = client.post(reverse("admin:projects_serviceproject_add"), _project_post(org_tree.branch_a, logo=fake))
    assert response.status_code == 200 and "logo" in response.context["adminform"].form.errors
    response = client.post(
        reverse("admin:projects_serviceproject_add"),
        _project_post(org_tree.branch_a, recurrence="weekly", recurrence_weekday="2"),
    )
    assert response.status_code == 200
    assert "recurrence_time" in response.context["adminform"].form.errors
    assert not ServiceProject.objects.exists()


def test_organization_choices_are_scoped(client, org_tree, secretary_a):
    client.force_login(secretary_a)
    response = client.post(reverse("admin:projects_serviceproject_add"), _project_post(org_tree.branch_b))
    assert response.status_code == 200 and "organization" in response.context["adminform"].form.errors


def test_secretary_adds_an_activity_with_default_windows(client, org_tree, secretary_a):
    project = ProjectFactory(organization=org_tree.branch_a)
    day = (timezone.localtime() + timedelta(days=5)).date().isoformat()
    client.force_login(secretary_a)
    response = client.post(
        reverse("admin:projects_activity_add"),
        {
            "project": project.pk,
            "title": "",
            "starts_at_0": day,
            "starts_at_1": "09:00:00",
            "ends_at_0": day,
            "ends_at_1": "11:00:00",
            "capacity": "20",
            "place": "",
            "signups-TOTAL_FORMS": "0",
            "signups-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    activity = Activity.objects.get()
    assert activity.place == project.place and activity.signup_closes_at == activity.starts_at
    assert activity.cancel_cutoff_at == activity.starts_at - timedelta(hours=24)
    assert len(activity.checkin_code) == 6


def test_approving_self_reports_from_the_queue(client, org_tree, secretary_a, member_a):
    start = (timezone.localtime() - timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    report = services.self_report_submit(
        member=member_a, started_at=start, ended_at=start + timedelta(hours=2), hours=2, place="村委会", content="助餐"
    )
    client.force_login(secretary_a)
    url = reverse("admin:projects_selfreport_changelist")
    response = client.post(url, {"action": "approve_selected", "_selected_action": [report.pk]})
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == "approved" and report.record.status == ServiceRecord.Status.VERIFIED
    assert LedgerEntry.objects.get().points == 20


def test_rejecting_asks_for_a_reason(client, org_tree, secretary_a, member_a):
    start = (timezone.localtime() - timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    report = services.self_report_submit(
        member=member_a, started_at=start, ended_at=start + timedelta(hours=1), hours=1, place="村委会", content="助餐"
    )
    client.force_login(secretary_a)
    url = reverse("admin:projects_selfreport_changelist")
    page = client.post(url, {"action": "reject_selected", "_selected_action": [report.pk]})
    assert page.status_code == 200 and "原因" in page.content.decode()
    client.post(url, {"action": "reject_selected", "_selected_action": [report.pk], "apply": "1", "reason": "重复申报"})
    assert SelfReport.objects.get().status == "rejected"


def test_generate_action_creates_the_next_weeks(client, org_tree, secretary_a):
    project = ProjectFactory(
        organization=org_tree.branch_a,
        recurrence="weekly",
        recurrence_weekday=4,
        recurrence_time=time(9),
        recurrence_minutes=60,
        recurrence_capacity=5,
    )
    client.force_login(secretary_a)
    client.post(
        reverse("admin:projects_serviceproject_changelist"),
        {"action": "generate_activities", "_selected_action": [project.pk]},
    )
    assert project.activities.count() >= 7


def test_activity_changelist_queries_are_constant(client, org_tree, secretary_a):
    client.force_login(secretary_a)
    project = ProjectFactory(organization=org_tree.branch_a)

    counter = iter(range(0, 1000, 10))

    def add_rows(n):
        offset = next(counter)
        for i in range(n):
            activity = ActivityFactory(
                project=project, starts_at=timezone.now() + timedelta(days=3, hours=3 * (offset + i) + 1)
            )
            services.signup_create(activity=activity, member=MemberFactory(organization=org_tree.branch_a))

    assert_constant_queries(client, reverse("admin:projects_activity_changelist"), add_rows, small=2, large=8)
    response = client.get(reverse("admin:projects_activity_change", args=[Activity.objects.first().pk]))
    assert response.status_code == 200


def test_capacity_below_the_seats_taken_is_a_form_error(client, org_tree, secretary_a, member_a, member_b):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=5)
    for member in (member_a, member_b):
        services.signup_create(activity=activity, member=member)
    local = timezone.localtime(activity.starts_at)
    data = {
        "title": "",
        "starts_at_0": local.date().isoformat(),
        "starts_at_1": local.time().isoformat(),
        "ends_at_0": local.date().isoformat(),
        "ends_at_1": (local + timedelta(hours=2)).time().isoformat(),
        "place": activity.place,
        "capacity": "1",
        "signups-TOTAL_FORMS": "0",
        "signups-INITIAL_FORMS": "0",
    }
    client.force_login(secretary_a)
    url = reverse("admin:projects_activity_change", args=[activity.pk])
    response = client.post(url, data)
    assert response.status_code == 200 and "capacity" in response.context["adminform"].form.errors
    assert client.post(url, {**data, "capacity": "3"}).status_code == 302
    activity.refresh_from_db()
    assert activity.capacity == 3


def test_a_new_check_in_code_from_the_activity_page(client, org_tree, secretary_a, member_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    old = activity.checkin_code
    client.force_login(secretary_a)
    page = client.get(reverse("admin:projects_activity_change", args=[activity.pk]))
    url = reverse("admin:projects_activity_new_code", args=[activity.pk])
    assert f'action="{url}"' in page.content.decode()

    assert client.get(url).status_code == 405  # a GET (a link, a prefetch) changes nothing
    activity.refresh_from_db()
    assert activity.checkin_code == old

    response = client.post(url, follow=True, REMOTE_ADDR="203.0.113.7")
    activity.refresh_from_db()
    assert activity.checkin_code != old and len(activity.checkin_code) == 6
    assert response.redirect_chain[-1][0] == reverse("admin:projects_activity_change", args=[activity.pk])
    assert "已更换签到码" in response.content.decode()
    event = AuditEvent.objects.get(action=AuditEvent.Action.ADMIN_CHANGE)
    assert (event.user, event.ip, event.object_id) == (secretary_a, "203.0.113.7", str(activity.pk))


def test_a_new_check_in_code_needs_the_csrf_token_and_the_activity_in_scope(org_tree, secretary_a, secretary_b):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    old = activity.checkin_code
    url = reverse("admin:projects_activity_new_code", args=[activity.pk])
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(secretary_a)
    assert guarded.post(url).status_code == 403
    other = Client()
    other.force_login(secretary_b)
    assert other.post(url).status_code == 404  # another branch's activity: as if missing
    activity.refresh_from_db()
    assert activity.checkin_code == old

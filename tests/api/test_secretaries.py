"""Secretaries through the API: the attendance sheet of an activity in their scope (marks, hours, the service's
messages) and the approval queue of self-reports (the admin's scope and services); outsiders find nothing, members
are refused."""

from datetime import timedelta

import pytest
from django.utils import timezone

from members.models import ServiceRecord
from projects import services
from projects.models import SelfReport, SignUp
from tests.api.conftest import bearer
from tests.projects.conftest import started_ago
from tests.projects.factories import ActivityFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ended_activity(org_tree, member_a, member_b, clock):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=5)
    services.signup_create(activity=activity, member=member_a)
    services.signup_create(activity=activity, member=member_b)
    started_ago(clock, activity, timedelta(hours=3))
    return activity


def test_a_secretary_reads_and_submits_the_attendance_sheet(api, ended_activity, member_a, member_b, secretary_a):
    bearer(api, secretary_a)
    url = f"/api/v1/attendance/{ended_activity.pk}/"
    sheet = api.get(url)
    assert sheet.status_code == 200 and sheet["ETag"]
    rows = {row["name"]: row for row in sheet.json()["rows"]}
    assert set(rows) == {member_a.name, member_b.name}
    assert rows[member_a.name]["default_hours"] == "2.00" and sheet.json()["started"] is True
    assert "phone" not in rows[member_a.name]

    a, b = rows[member_a.name]["id"], rows[member_b.name]["id"]
    empty = api.post(f"{url}submit/", {}, format="json")
    assert empty.status_code == 400 and empty.json()["detail"] == "请至少标记一名党员。"
    too_long = api.post(f"{url}submit/", {f"mark-{a}": "attended", f"hours-{a}": "9"}, format="json")
    assert too_long.status_code == 400
    assert too_long.json()["detail"] == f"{member_a.name}的服务时长不能超过活动时长（2.00小时）。"
    assert not ServiceRecord.objects.exists()

    done = api.post(f"{url}submit/", {f"mark-{a}": "attended", f"mark-{b}": "no_show"}, format="json")
    assert done.status_code == 200
    assert done.json()["detail"] == "考勤已保存：已到 1 人，缺席 1 人；服务时长已确认，积分已发放。"
    statuses = dict(SignUp.objects.filter(activity=ended_activity).values_list("member_id", "status"))
    assert statuses == {member_a.pk: SignUp.Status.ATTENDED, member_b.pk: SignUp.Status.NO_SHOW}
    assert ServiceRecord.objects.get().member == member_a


def test_others_find_no_attendance_sheet(api, ended_activity, member_a, secretary_b):
    row = SignUp.objects.get(activity=ended_activity, member=member_a)
    for user in (secretary_b, member_a.user):
        bearer(api, user)
        assert api.get(f"/api/v1/attendance/{ended_activity.pk}/").status_code == 404
        answer = api.post(f"/api/v1/attendance/{ended_activity.pk}/submit/", {f"mark-{row.pk}": "attended"})
        assert answer.status_code == 404
    assert SignUp.objects.get(pk=row.pk).status == SignUp.Status.CONFIRMED


@pytest.fixture
def report(member_a):
    start = timezone.now() - timedelta(days=2)
    return services.self_report_submit(
        member=member_a, started_at=start, ended_at=start + timedelta(hours=2), hours=2, place="村委会", content="助餐"
    )


def test_a_secretary_approves_a_self_report(api, report, secretary_a):
    bearer(api, secretary_a)
    queue = api.get("/api/v1/review/self-reports/")
    assert queue.status_code == 200 and [r["id"] for r in queue.json()["results"]] == [report.pk]
    approved = api.post(f"/api/v1/review/self-reports/{report.pk}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    report.refresh_from_db()
    assert report.record.status == ServiceRecord.Status.VERIFIED
    assert api.get("/api/v1/review/self-reports/").json()["results"] == []


def test_a_rejection_needs_a_reason(api, report, secretary_a):
    bearer(api, secretary_a)
    url = f"/api/v1/review/self-reports/{report.pk}/reject/"
    missing = api.post(url, {}, format="json")
    assert missing.status_code == 400 and missing.json()["errors"] == {"reason": ["这个字段是必填项。"]}
    assert SelfReport.objects.get(pk=report.pk).status == SelfReport.Status.PENDING
    rejected = api.post(url, {"reason": "重复申报"}, format="json")
    assert rejected.status_code == 200
    assert (rejected.json()["status"], rejected.json()["review_note"]) == ("rejected", "重复申报")


def test_members_are_refused_and_outsiders_find_nothing(api, report, member_a, secretary_b):
    bearer(api, member_a.user)
    assert api.get("/api/v1/review/self-reports/").status_code == 403
    assert api.post(f"/api/v1/review/self-reports/{report.pk}/approve/").status_code == 403
    bearer(api, secretary_b)
    assert api.get("/api/v1/review/self-reports/").json()["results"] == []
    assert api.post(f"/api/v1/review/self-reports/{report.pk}/approve/").status_code == 404
    assert api.post(f"/api/v1/review/self-reports/{report.pk}/reject/", {"reason": "x"}).status_code == 404
    assert SelfReport.objects.get(pk=report.pk).status == SelfReport.Status.PENDING
    assert not ServiceRecord.objects.exists()

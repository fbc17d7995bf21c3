"""The training pages: what members and secretaries see and do, bad input, the Excel export, query counts."""

from datetime import timedelta
from decimal import Decimal
from io import BytesIO
from urllib.parse import quote

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from tests.members.factories import MemberFactory, OrganizationFactory
from tests.queries import assert_constant_queries, assert_get_queries
from tests.training.conftest import move_to_past
from tests.training.factories import CourseFactory, SessionFactory
from training import services
from training.models import Course, CourseMaterial, Enrollment, TrainingRecord

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n%%EOF\n"


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def requirement(org_tree, this_year):
    """The street asks 8 hours this year, 4 of them theory."""
    return services.requirement_set(
        organization=org_tree.street,
        year=this_year,
        total_hours=Decimal(8),
        theory_hours=Decimal(4),
        actor=None,
    )


# --- Member pages ---------------------------------------------------------------------------------------------


def test_index_shows_progress_as_an_accessible_bar(client, member_a, requirement):
    course = CourseFactory(hours=Decimal(2))
    services.external_training_record(
        member=member_a,
        course=course,
        hours=2,
        completed_on=timezone.localdate(),
        evidence=SimpleUploadedFile("证书.pdf", PDF),
        actor=None,
    )
    client.force_login(member_a.user)
    html = client.get(reverse("training:index")).content.decode()
    assert 'id="progress-total"' in html
    assert 'role="progressbar"' in html
    assert 'aria-valuemax="8" aria-valuenow="2"' in html
    assert 'aria-valuetext="2 / 8 学时"' in html
    assert "w-pct-25" in html  # the bar's width: a stylesheet class (CSP style-src 'self')
    assert 'id="progress-theory"' in html and "2 / 4 学时" in html


def test_index_without_requirement_says_so(client, member_a):
    client.force_login(member_a.user)
    assert "尚未设定本年度学时要求" in client.get(reverse("training:index")).content.decode()


def test_member_enrolls_and_cancels_from_the_index(client, org_tree, member_a):
    session = SessionFactory(organizer=org_tree.branch_a, capacity=3)
    client.force_login(member_a.user)
    index = reverse("training:index")
    assert "3 / 3" in client.get(index).content.decode()

    response = client.post(reverse("training:enroll", args=[session.pk]), {"next": index})
    assert response.status_code == 302 and response.url == index
    assert any("报名成功" in m for m in messages_of(response))
    html = client.get(index).content.decode()
    assert "2 / 3" in html and "取消报名" in html

    response = client.post(reverse("training:cancel_enrollment", args=[session.pk]), {"next": index})
    assert any("已取消报名" in m for m in messages_of(response))
    assert not Enrollment.objects.filter(status=Enrollment.Status.ENROLLED).exists()


def test_enrolling_in_a_full_session_is_a_message(client, org_tree, member_a):
    session = SessionFactory(organizer=org_tree.branch_a, capacity=1)
    services.enrollment_create(session=session, member=MemberFactory(organization=org_tree.branch_a))
    client.force_login(member_a.user)
    response = client.post(reverse("training:enroll", args=[session.pk]))
    assert response.status_code == 302
    assert messages_of(response) == ["该场次名额已满。"]
    assert not Enrollment.objects.filter(member=member_a).exists()
    assert "名额已满" in client.get(reverse("training:session_detail", args=[session.pk])).content.decode()


def test_a_next_elsewhere_is_ignored(client, org_tree, member_a):
    session = SessionFactory(organizer=org_tree.branch_a)
    client.force_login(member_a.user)
    response = client.post(reverse("training:enroll", args=[session.pk]), {"next": "https://evil.example/"})
    assert response.url == reverse("training:session_detail", args=[session.pk])


def test_get_on_enroll_is_refused(client, org_tree, member_a):
    session = SessionFactory(organizer=org_tree.branch_a)
    client.force_login(member_a.user)
    assert client.get(reverse("training:enroll", args=[session.pk])).status_code == 405
    assert not Enrollment.objects.exists()


def test_material_is_downloaded_never_rendered(client, member_a):
    course = CourseFactory()
    material = services.course_material_save(
        material=CourseMaterial(course=course, title="学习讲义", file=SimpleUploadedFile("a.pdf", PDF)), actor=None
    )
    client.force_login(member_a.user)
    response = client.get(reverse("training:material_download", args=[material.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PDF


# --- Attendance sheet -----------------------------------------------------------------------------------------


@pytest.fixture
def held(clock, org_tree, member_a):
    session = SessionFactory(course=CourseFactory(hours=Decimal("2.5")), organizer=org_tree.branch_a)
    other = MemberFactory(organization=org_tree.branch_a, name="陈刚")
    for member in (member_a, other):
        services.enrollment_create(session=session, member=member)
    return move_to_past(clock, session), member_a, other


def test_attendance_sheet_marks_in_bulk_and_twice_is_once(client, held, secretary_a):
    session, present, missing = held
    client.force_login(secretary_a)
    url = reverse("training:attendance", args=[session.pk])
    page = client.get(url).content.decode()
    assert f'value="{present.pk}"' in page and "陈刚" in page

    for _ in range(2):
        response = client.post(url, {"attended": [present.pk]})
        assert response.status_code == 302
        assert messages_of(response)[-1] == "考勤已保存：到场 1 人，缺席 1 人。"

    record = TrainingRecord.objects.get()
    assert (record.member, record.hours) == (present, Decimal("2.50"))
    assert Enrollment.objects.get(member=missing).status == Enrollment.Status.ABSENT
    assert "checked" in client.get(url).content.decode()


@pytest.mark.parametrize("attended", [["999999"], ["abc"]])
def test_bad_attendance_is_a_message_and_saves_nothing(client, held, secretary_a, attended):
    session, _present, _missing = held
    client.force_login(secretary_a)
    response = client.post(reverse("training:attendance", args=[session.pk]), {"attended": attended})
    assert response.status_code == 200
    assert "考勤没有保存" in messages_of(response)[0]
    assert 'id="attendance-errors"' in response.content.decode()
    assert not TrainingRecord.objects.exists()
    assert not Enrollment.objects.exclude(status=Enrollment.Status.ENROLLED).exists()


def test_attendance_before_the_day_is_a_message(client, org_tree, member_a, secretary_a):
    session = SessionFactory(organizer=org_tree.branch_a)
    services.enrollment_create(session=session, member=member_a)
    client.force_login(secretary_a)
    response = client.post(reverse("training:attendance", args=[session.pk]), {"attended": [member_a.pk]})
    assert "培训当天起才能记录考勤" in response.content.decode()
    assert not TrainingRecord.objects.exists()


# --- External training form -----------------------------------------------------------------------------------


def _external(who, what, **changes):
    data = {
        "member": who.pk,
        "course": what.pk,
        "hours": "3",
        "completed_on": (timezone.localdate() - timedelta(days=2)).isoformat(),
        "score": "88",
        "provider": "区委党校",
        "evidence": SimpleUploadedFile("结业证书.pdf", PDF, content_type="application/pdf"),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_external_record_form_saves_with_evidence(client, member_a, secretary_a):
    course = CourseFactory(type=Course.Type.BUSINESS)
    client.force_login(secretary_a)
    response = client.post(reverse("training:external_record_new"), _external(member_a, course))
    assert response.status_code == 302
    record = TrainingRecord.objects.get()
    assert (record.member, record.hours, record.provider, record.score) == (member_a, 3, "区委党校", 88)
    assert any("已为李明记录培训" in m for m in messages_of(response))


@pytest.mark.parametrize(
    ("changes", "field_error"),
    [
        ({"hours": "0"}, "hours"),
        ({"hours": "abc"}, "hours"),
        ({"completed_on": "2999-01-01"}, "completed_on"),
        ({"score": "120"}, "score"),
        ({"evidence": None}, "evidence"),
        ({"evidence": SimpleUploadedFile("证书.html", b"<html><script>x</script>")}, "evidence"),
        ({"evidence": SimpleUploadedFile("证书.pdf", b"<!DOCTYPE html><p>fake")}, "evidence"),
        ({"member": "999999"}, "member"),
    ],
)
def test_external_record_bad_input_is_a_message(client, member_a, secretary_a, changes, field_error):
    course = CourseFactory()
    client.force_login(secretary_a)
    response = client.post(reverse("training:external_record_new"), _external(member_a, course, **changes))
    assert response.status_code == 200
    assert field_error in response.context["form"].errors
    assert "培训记录没有保存" in messages_of(response)[0]
    assert not TrainingRecord.objects.exists()


def test_external_record_form_offers_only_members_in_scope(client, member_a, member_b, secretary_a):
    client.force_login(secretary_a)
    response = client.post(reverse("training:external_record_new"), _external(member_b, CourseFactory()))
    assert "member" in response.context["form"].errors
    assert not TrainingRecord.objects.exists()


# --- Completion report and export -----------------------------------------------------------------------------


@pytest.fixture
def completion_scene(org_tree, member_a, member_b, requirement, this_year):
    theory = CourseFactory(type=Course.Type.THEORY, hours=Decimal(4))
    business = CourseFactory(type=Course.Type.BUSINESS, hours=Decimal(4))
    on = min(timezone.localdate(), timezone.datetime(this_year, 6, 30).date())
    for course in (theory, business):
        services.external_training_record(
            member=member_a,
            course=course,
            hours=course.hours,
            completed_on=on,
            evidence=SimpleUploadedFile("c.pdf", PDF),
            actor=None,
        )
    MemberFactory(organization=org_tree.branch_a)
    return org_tree


def test_completion_report_figures(client, completion_scene, platform_admin, this_year):
    client.force_login(platform_admin)
    response = client.get(reverse("training:completion"), {"organization": completion_scene.street.pk})
    report = response.context["report"]
    a = next(r for r in report.rows if r.organization == completion_scene.branch_a)
    assert (a.members, a.completed, a.hours, a.rate) == (2, 1, 8, Decimal("50.0"))
    html = response.content.decode()
    assert f'id="completion-{completion_scene.branch_a.pk}"' in html
    assert "50.0" in html


def test_completion_bad_year_is_a_message_and_shows_this_year(client, completion_scene, secretary_a, this_year):
    client.force_login(secretary_a)
    response = client.get(reverse("training:completion"), {"year": "abc"})
    assert response.status_code == 200
    assert messages_of(response) == ["年度无效，已显示今年的情况。"]
    assert response.context["report"].year == this_year
    assert response.context["report"].organization == completion_scene.branch_a


def test_export_opens_with_openpyxl_and_has_the_same_figures(client, completion_scene, platform_admin, this_year):
    client.force_login(platform_admin)
    params = {"organization": completion_scene.street.pk, "year": this_year}
    report = client.get(reverse("training:completion"), params).context["report"]
    response = client.get(reverse("training:completion_export"), params)
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = quote(f"幸福街道党工委-{this_year}年度培训学时完成情况.xlsx", safe="")
    assert response["Content-Disposition"] == (
        f"attachment; filename=\"training-completion-{this_year}.xlsx\"; filename*=UTF-8''{name}"
    )

    sheet = load_workbook(BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == f"幸福街道党工委 {this_year} 年度培训学时完成情况"
    assert rows[1] == ("党组织", "全年学时要求", "在册党员数", "完成人数", "完成率（%）", "总学时", "人均学时")
    body = {row[0]: row for row in rows[2:-1]}
    for branch in report.rows:
        name, required, members, completed, rate, hours, average = body[branch.organization.name]
        assert required == float(branch.requirement.total_hours)
        assert (members, completed, hours, average) == (
            branch.members,
            branch.completed,
            float(branch.hours),
            float(branch.average),
        )
        assert rate == float(branch.rate)
    assert rows[-1][:4] == ("合计", None, report.members, report.completed)
    assert rows[-1][5] == float(report.hours)


# --- Query counts ---------------------------------------------------------------------------------------------


def test_index_queries_are_constant(client, org_tree, member_a, requirement):
    client.force_login(member_a.user)

    def add_rows(n):
        for _ in range(n):
            course = CourseFactory(organization=org_tree.branch_a)
            services.course_material_save(
                material=CourseMaterial(course=course, title="链接", url="https://example.com/x"), actor=None
            )
            session = SessionFactory(course=course, organizer=org_tree.branch_a)
            services.enrollment_create(session=session, member=member_a)
            services.external_training_record(
                member=member_a,
                course=course,
                hours=1,
                completed_on=timezone.localdate(),
                evidence=SimpleUploadedFile("c.pdf", PDF),
                actor=None,
            )

    n = assert_constant_queries(client, reverse("training:index"), add_rows, small=2, large=8)
    # user, member, is a secretary, upcoming sessions (with seats and my enrollment), requirement, hours by type,
    # records, courses, their materials (the session comes from the cache)
    assert n == 9


def test_completion_queries_are_constant(client, org_tree, requirement, platform_admin, this_year):
    client.force_login(platform_admin)

    def add_rows(n):
        course = CourseFactory()
        for _ in range(n):
            branch = OrganizationFactory(parent=org_tree.east)
            for member in MemberFactory.create_batch(2, organization=branch):
                services.external_training_record(
                    member=member,
                    course=course,
                    hours=2,
                    completed_on=timezone.localdate(),
                    evidence=SimpleUploadedFile("c.pdf", PDF),
                    actor=None,
                )

    url = reverse("training:completion") + f"?organization={org_tree.street.pk}&year={this_year}"
    n = assert_constant_queries(client, url, add_rows, small=2, large=6)
    # user, the organization asked for (in scope), the form's check of it, the subtree, the requirements, active
    # members per branch, hours per member and type, the form's list of organizations (the session is cached)
    assert n == 8, n
    export = reverse("training:completion_export") + f"?organization={org_tree.street.pk}&year={this_year}"
    # the same without the form's list of organizations, plus the audit trail's export event (savepoint, insert,
    # release)
    assert_get_queries(client, export, n - 1 + 3)


def test_manage_and_attendance_queries_are_constant(client, org_tree, secretary_a):
    client.force_login(secretary_a)
    session = SessionFactory(organizer=org_tree.branch_a, capacity=100)

    def add_sessions(n):
        for _ in range(n):
            SessionFactory(organizer=org_tree.branch_a)

    assert_constant_queries(client, reverse("training:manage"), add_sessions, small=2, large=8)

    def add_enrollments(n):
        for member in MemberFactory.create_batch(n, organization=org_tree.branch_a):
            services.enrollment_create(session=session, member=member)

    assert_constant_queries(client, reverse("training:attendance", args=[session.pk]), add_enrollments, 2, 10)


def test_session_detail_queries_are_constant(client, org_tree, member_a):
    session = SessionFactory(organizer=org_tree.branch_a)
    client.force_login(member_a.user)

    def add_materials(n):
        for i in range(n):
            services.course_material_save(
                material=CourseMaterial(course=session.course, title=f"资料{i}", url="https://example.com/m"),
                actor=None,
            )

    assert_constant_queries(client, reverse("training:session_detail", args=[session.pk]), add_materials, 2, 8)

"""The training admin: the writes that go through services (every page × persona: test_admin_table.py)."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from tests.members.factories import MemberFactory
from tests.training.conftest import admin_scene
from training import services
from training.models import AnnualRequirement, Course, Enrollment, TrainingSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(org_tree, member_a, member_b):
    return admin_scene(org_tree, member_a, member_b)


def test_changelists_list_the_scope_only(scene, client, secretary_a):
    client.force_login(secretary_a)
    courses = client.get(reverse("admin:training_course_changelist")).context["cl"].result_list
    assert set(courses) == {scene.a["course"], scene.platform_course}
    sessions = client.get(reverse("admin:training_trainingsession_changelist")).context["cl"].result_list
    assert list(sessions) == [scene.a["trainingsession"]]
    assert sessions[0].taken == 1


def test_a_platform_course_is_read_only_to_a_secretary(scene, client, secretary_a):
    client.force_login(secretary_a)
    url = reverse("admin:training_course_change", args=[scene.platform_course.pk])
    assert client.get(url).context["has_change_permission"] is False
    response = client.post(url, {"type": "theory", "title": "改名", "hours": "1"})
    assert response.status_code == 403
    scene.platform_course.refresh_from_db()
    assert scene.platform_course.title != "改名"


def _session_post(the_course, the_organizer, **changes):
    starts = timezone.localtime() + timedelta(days=5)
    data = {
        "course": the_course.pk,
        "organizer": the_organizer.pk,
        "starts_at_0": starts.date().isoformat(),
        "starts_at_1": "09:00:00",
        "ends_at_0": starts.date().isoformat(),
        "ends_at_1": "11:00:00",
        "place": "东风村村委会",
        "online_url": "",
        "capacity": "25",
        "enrollments-TOTAL_FORMS": "0",
        "enrollments-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data


def test_secretary_schedules_a_session_through_the_service(scene, client, org_tree, secretary_a):
    client.force_login(secretary_a)
    response = client.post(
        reverse("admin:training_trainingsession_add"), _session_post(scene.a["course"], org_tree.branch_a)
    )
    assert response.status_code == 302
    session = TrainingSession.objects.get(place="东风村村委会")
    assert (session.created_by, session.capacity, session.status) == (secretary_a, 25, "scheduled")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends_at_1": "08:00:00"}, "ends_at"),
        ({"capacity": "0"}, "capacity"),
        ({"place": ""}, "place"),
        ({"organizer": "B"}, "organizer"),
        ({"course": "B"}, "course"),
    ],
)
def test_bad_session_input_is_a_form_error(scene, client, org_tree, secretary_a, changes, field):
    client.force_login(secretary_a)
    changes = {
        k: str(scene.b["course"].pk if k == "course" else org_tree.branch_b.pk) if v == "B" else v
        for k, v in changes.items()
    }
    before = TrainingSession.objects.count()
    response = client.post(
        reverse("admin:training_trainingsession_add"), _session_post(scene.a["course"], org_tree.branch_a, **changes)
    )
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert TrainingSession.objects.count() == before


def test_capacity_below_the_enrollments_is_a_form_error(scene, client, org_tree, secretary_a):
    session = scene.a["trainingsession"]
    services.enrollment_create(session=session, member=MemberFactory(organization=org_tree.branch_a))
    client.force_login(secretary_a)
    data = _session_post(session.course, session.organizer, capacity="1")
    enrollments = list(session.enrollments.order_by("created_at", "pk"))
    data.update({"enrollments-TOTAL_FORMS": "2", "enrollments-INITIAL_FORMS": "2"})
    for i, enrollment in enumerate(enrollments):
        data[f"enrollments-{i}-id"] = str(enrollment.pk)
        data[f"enrollments-{i}-session"] = str(session.pk)
    response = client.post(reverse("admin:training_trainingsession_change", args=[session.pk]), data)
    assert response.status_code == 200
    assert "已有 2 人报名" in str(response.context["adminform"].form.errors["capacity"])
    session.refresh_from_db()
    assert session.capacity == 30
    data["capacity"] = "2"
    assert client.post(reverse("admin:training_trainingsession_change", args=[session.pk]), data).status_code == 302
    session.refresh_from_db()
    assert session.capacity == 2


def test_cancel_action_cancels_and_notifies(scene, client, secretary_a, member_a):
    session = scene.a["trainingsession"]
    client.force_login(secretary_a)
    url = reverse("admin:training_trainingsession_changelist")
    page = client.post(url, {"action": "cancel_selected", "_selected_action": [session.pk]})
    assert page.status_code == 200  # the reason form
    response = client.post(
        url, {"action": "cancel_selected", "_selected_action": [session.pk], "apply": "1", "reason": "暴雨预警"}
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.status, session.cancel_reason) == ("cancelled", "暴雨预警")
    assert Enrollment.objects.get(member=member_a).status == Enrollment.Status.CANCELLED
    assert Notification.objects.get(template="training_session_cancelled").recipient_user == member_a.user


def test_secretary_adds_a_course_of_their_branch_with_a_material(client, org_tree, secretary_a):
    client.force_login(secretary_a)
    data = {
        "type": Course.Type.PRACTICAL,
        "title": "老年人智能手机使用",
        "hours": "2",
        "description": "",
        "validity_months": "",
        "active": "on",
        "materials-TOTAL_FORMS": "1",
        "materials-INITIAL_FORMS": "0",
        "materials-0-title": "讲义",
        "materials-0-url": "https://example.com/slides",
    }
    assert client.post(reverse("admin:training_course_add"), data).status_code == 200  # organization is required
    data["organization"] = str(org_tree.branch_a.pk)
    assert client.post(reverse("admin:training_course_add"), data).status_code == 302
    course = Course.objects.get(title="老年人智能手机使用")
    assert [m.url for m in course.materials.all()] == ["https://example.com/slides"]

    data.update(
        title="另一门课",
        hours="0",
        **{"materials-0-url": "", "materials-0-file": SimpleUploadedFile("x.html", b"<html>")},
    )
    response = client.post(reverse("admin:training_course_add"), data)
    assert response.status_code == 200
    assert not Course.objects.filter(title="另一门课").exists()


def test_requirement_minimums_above_the_total_are_a_form_error(client, org_tree, secretary_a, this_year):
    client.force_login(secretary_a)
    data = {
        "organization": org_tree.branch_a.pk,
        "year": this_year + 1,
        "total_hours": "4",
        "theory_hours": "3",
        "post_hours": "2",
        "business_hours": "0",
        "practical_hours": "0",
    }
    response = client.post(reverse("admin:training_annualrequirement_add"), data)
    assert response.status_code == 200
    assert not AnnualRequirement.objects.exists()
    data["total_hours"] = "5"
    assert client.post(reverse("admin:training_annualrequirement_add"), data).status_code == 302
    assert AnnualRequirement.objects.get().total_hours == 5

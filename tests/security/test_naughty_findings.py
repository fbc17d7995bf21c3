"""What the naughty-input walk (test_naughty.py) found, kept as plain regression tests: each answered 500 (or
stored what it should have refused) before its fix."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from demands.models import Household
from projects import services as project_services
from projects.models import ActivitySurvey, ServiceProject, SignUp
from tests.projects.factories import ActivityFactory
from tests.security.html_forms import page_forms
from tests.security.world import build_world
from tests.timing import earlier
from volunteer_platform.models import TaskProgressNote

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(platform_admin):
    return build_world(platform_admin)


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(getattr(user, "user", user))
    return client


def test_a_nul_in_the_survey_comment_is_refused(world):
    """The survey reads its comment without a form: PostgreSQL refused the NUL (500)."""
    now = timezone.now()
    with earlier(timedelta(days=3)):  # signed up then; the activity ended before now
        activity = ActivityFactory(project=world.project, starts_at=now - timedelta(hours=5))
        signup = project_services.signup_create(activity=activity, member=world.member_a)
    SignUp.objects.filter(pk=signup.pk).update(status=SignUp.Status.ATTENDED, hours=Decimal("1"))
    url = reverse("projects:activity_survey", args=[activity.pk])
    response = _client(world.member_a).post(url, {"rating": "5", "comment": "很好\x00"})
    assert response.status_code == 400
    assert "控制字符" in response.content.decode()
    assert not ActivitySurvey.objects.exists()


@pytest.mark.parametrize(("text", "message"), [("进展\x00", "控制字符"), ("长" * 2001, "2000")])
def test_a_task_note_with_a_nul_or_over_its_limit_is_refused(world, text, message):
    """The task page reads its note without a form: a NUL answered 500, 10,000 characters were stored."""
    url = reverse("dashboard:task", args=[world.task.pk])
    response = _client(world.secretary_a).post(url, {"text": text, "status": ""}, follow=True)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not TaskProgressNote.objects.exists()


@pytest.mark.parametrize("year", ["１３８００１３８０００", "99999999999999999999"])
def test_a_huge_year_on_the_dashboard_is_a_bad_period(world, year):
    """int() reads full-width digits; date() then overflowed (500)."""
    response = _client(world.secretary_a).get(reverse("dashboard:index"), {"org": world.branch_a.pk, "year": year})
    assert response.status_code == 200
    assert "已显示今年的数据" in response.content.decode()


@pytest.mark.parametrize("query", [{"state__exact": "a\x00b"}, {"q": "\x00"}, {"o": "1\x00"}])
def test_a_nul_in_a_query_parameter_is_a_bad_request(world, query):
    """The admin's list filters pass their values to the database as they are: a NUL answered 500."""
    response = _client(world.admin).get(reverse("admin:demands_microwish_changelist"), query)
    assert response.status_code == 400


def test_a_nul_in_a_site_query_parameter_is_a_bad_request_too(client):
    assert client.get("/projects/", {"category": "1\x00"}).status_code == 400
    assert client.get("/projects/", {"category": "1"}).status_code == 200


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("contact_name", "长" * 31, "30"),
        ("address", "长" * 201, "200"),
        ("note", "长" * 1001, "1000"),
        ("phone", "undefined", "手机号"),
    ],
)
def test_the_household_admin_form_says_what_the_service_refuses(world, field, value, message):
    """The service refused these inside save_model, after the form had passed them: 500."""
    household = world.pairing.household
    url = reverse("admin:demands_household_change", args=[household.pk])
    data = {
        "community": world.community_a.pk,
        "grid": "",
        "contact_name": "陈大爷",
        "address": "东风村3组12号",
        "note": "",
        "active": "on",
        "phone": "13900005678",
        "consent_processing": "on",
        field: value,
    }
    response = _client(world.admin).post(url, data)
    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors[field])
    assert Household.objects.get(pk=household.pk).contact_name == "陈大爷"


@pytest.mark.parametrize(
    ("label", "obj", "field"),
    [
        ("members_member", "member_a", "skills"),
        ("members_organization", "branch_a", "secretary"),
        ("members_organization", "branch_a", "admins"),
        ("projects_activity", "activity", "leader"),
        ("projects_serviceproject", "project", "skills_wanted"),
    ],
)
def test_an_autocomplete_field_with_a_value_that_is_no_id_is_refused(world, label, obj, field):
    """Django's autocomplete widget looked the posted values up as they were to draw the form again: 500."""
    client = _client(world.admin)
    url = reverse(f"admin:{label}_change", args=[getattr(world, obj).pk])
    page = client.get(url)
    form = max((f for f in page_forms(page.content.decode(), url) if f.method == "post"), key=lambda f: len(f.fields))
    response = client.post(url, {**form.data(), field: "undefined"})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors


def test_a_project_saved_unchanged_in_the_admin(world):
    """The target groups' initial value (a bit mask) was compared with the posted list: every save of an existing
    project answered 500."""
    client = _client(world.admin)
    url = reverse("admin:projects_serviceproject_change", args=[world.project.pk])
    page = client.get(url)
    form = max((f for f in page_forms(page.content.decode(), url) if f.method == "post"), key=lambda f: len(f.fields))
    response = client.post(url, {**form.data(), "title": "银龄陪伴（新）"})
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    assert ServiceProject.objects.get(pk=world.project.pk).title == "银龄陪伴（新）"

"""Activities through the API: the list with its filters, the detail, sign-up, cancellation and check-in."""

from datetime import timedelta

import pytest

from projects import services
from projects.models import ServiceProject, SignUp
from tests.api.conftest import bearer
from tests.projects.conftest import started_ago
from tests.projects.factories import ActivityFactory, ProjectFactory, days_ahead_at

pytestmark = pytest.mark.django_db


def test_the_list_shows_upcoming_activities_of_published_projects_with_seats(api, org_tree, member_a):
    project = ProjectFactory(organization=org_tree.branch_a, community=org_tree.community_a)
    soon = ActivityFactory(project=project, capacity=2)
    later = ActivityFactory(project=project, starts_at=days_ahead_at(10))
    ActivityFactory(project=ProjectFactory(organization=org_tree.branch_a, status=ServiceProject.Status.DRAFT))
    services.signup_create(activity=soon, member=member_a)

    body = api.get("/api/v1/activities/").json()
    assert [a["id"] for a in body["results"]] == [soon.pk, later.pk]
    first = body["results"][0]
    assert (first["capacity"], first["seats_left"], first["phase"]) == (2, 1, "open")
    assert first["starts_at"].endswith("+08:00") and "checkin_code" not in first

    day = days_ahead_at(10).date().isoformat()
    filtered = api.get("/api/v1/activities/", {"date_from": day, "project": project.pk}).json()
    assert [a["id"] for a in filtered["results"]] == [later.pk]
    assert api.get("/api/v1/activities/", {"community": org_tree.community_b.pk}).json()["results"] == []
    # A filter value that is none is left out, from the cache or not (as /projects/ does).
    bad = api.get("/api/v1/activities/", {"date_from": "昨天"})
    assert [a["id"] for a in bad.json()["results"]] == [soon.pk, later.pk]
    bearer(api, member_a.user)
    assert [a["id"] for a in api.get("/api/v1/activities/", {"date_from": "昨天"}).json()["results"]] == [
        soon.pk,
        later.pk,
    ]


def test_a_member_signs_up_waits_and_cancels(api, org_tree, member_a, member_b):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=1)
    bearer(api, member_b.user)
    assert api.post(f"/api/v1/activities/{activity.pk}/signup/").json()["my_signup"]["status"] == "confirmed"
    bearer(api, member_a.user)
    waiting = api.post(f"/api/v1/activities/{activity.pk}/signup/").json()
    assert waiting["my_signup"]["status"] == "waitlisted" and waiting["waitlist_rank"] == 1
    twice = api.post(f"/api/v1/activities/{activity.pk}/signup/")
    assert twice.status_code == 400 and twice.json()["detail"]
    cancelled = api.post(f"/api/v1/activities/{activity.pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["my_signup"]["status"] == "cancelled"
    assert api.post(f"/api/v1/activities/{activity.pk}/cancel/").status_code == 404  # nothing left to cancel


def test_a_draft_projects_activity_is_not_found(api, org_tree, member_a):
    activity = ActivityFactory(
        project=ProjectFactory(organization=org_tree.branch_a, status=ServiceProject.Status.DRAFT)
    )
    bearer(api, member_a.user)
    assert api.get(f"/api/v1/activities/{activity.pk}/").status_code == 404
    assert api.post(f"/api/v1/activities/{activity.pk}/signup/").status_code == 404
    assert not SignUp.objects.exists()


def test_check_in_with_the_code_and_its_attempt_limit(api, org_tree, member_a, clock, settings):
    settings.CHECKIN_ATTEMPT_LIMIT = (2, 3600)
    activity = ActivityFactory(project__organization=org_tree.branch_a, starts_at=days_ahead_at(1))
    services.signup_create(activity=activity, member=member_a)
    started_ago(clock, activity, timedelta(minutes=5))
    bearer(api, member_a.user)
    wrong = "000000" if activity.checkin_code != "000000" else "111111"
    refused = api.post(f"/api/v1/activities/{activity.pk}/checkin/", {"code": wrong}, format="json")
    assert refused.status_code == 400 and refused.json()["detail"]
    done = api.post(f"/api/v1/activities/{activity.pk}/checkin/", {"code": activity.checkin_code}, format="json")
    assert done.status_code == 200 and done.json()["my_signup"]["checked_in_at"]
    limited = api.post(f"/api/v1/activities/{activity.pk}/checkin/", {"code": activity.checkin_code}, format="json")
    assert limited.status_code == 429


def test_someone_without_a_member_record_is_told_why(api, org_tree, staff_without_scope):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    bearer(api, staff_without_scope)
    answer = api.post(f"/api/v1/activities/{activity.pk}/signup/")
    assert answer.status_code == 404 and answer.json()["detail"] == "只有党员可以报名参加活动。"


def test_the_lists_are_kept_like_their_pages_and_a_write_drops_them(api, org_tree, member_a, settings):
    settings.PAGE_CACHES = True
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=5)
    first = api.get("/api/v1/activities/")
    assert first["X-Page-Cache"] == "miss"
    again = api.get("/api/v1/activities/")
    assert again["X-Page-Cache"] == "hit" and again["ETag"] == first["ETag"]
    assert api.get("/api/v1/activities/", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304

    services.signup_create(activity=activity, member=member_a)
    # The list's seats follow within LIST_TIMEOUT (as /projects/); the activity's own answer is exact at once.
    assert api.get(f"/api/v1/activities/{activity.pk}/").json()["seats_left"] == 4
    ActivityFactory(project__organization=org_tree.branch_a, starts_at=days_ahead_at(5))  # a new activity
    listed = api.get("/api/v1/activities/")
    assert listed["X-Page-Cache"] == "miss" and len(listed.json()["results"]) == 2

"""Training through the API: the sessions open to the member, enrolling, a full session refused, cancelling, and
another branch's session not found."""

import pytest

from tests.api.conftest import bearer
from tests.members.factories import MemberFactory
from tests.training.factories import SessionFactory
from training import services
from training.models import Enrollment

pytestmark = pytest.mark.django_db


def test_a_member_lists_enrols_and_cancels(api, org_tree, member_a):
    session = SessionFactory(organizer=org_tree.branch_a, capacity=2)
    SessionFactory(organizer=org_tree.branch_b)  # another branch's
    bearer(api, member_a.user)

    listing = api.get("/api/v1/training/sessions/")
    assert listing.status_code == 200 and listing["ETag"]
    rows = listing.json()["results"]
    assert [r["id"] for r in rows] == [session.pk]
    assert (rows[0]["seats_left"], rows[0]["my_enrollment_status"]) == (2, None)
    assert rows[0]["starts_at"].endswith("+08:00")

    enrolled = api.post(f"/api/v1/training/sessions/{session.pk}/enroll/")
    assert enrolled.status_code == 201
    assert (enrolled.json()["seats_left"], enrolled.json()["my_enrollment_status"]) == (1, "enrolled")
    twice = api.post(f"/api/v1/training/sessions/{session.pk}/enroll/")
    assert twice.status_code == 400 and twice.json()["detail"] == "您已报名该场次。"

    cancelled = api.post(f"/api/v1/training/sessions/{session.pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["my_enrollment_status"] is None
    assert api.post(f"/api/v1/training/sessions/{session.pk}/cancel/").status_code == 404  # nothing to cancel
    assert Enrollment.objects.get(member=member_a).status == Enrollment.Status.CANCELLED


def test_a_full_session_refuses_with_the_services_message(api, org_tree, member_a):
    session = SessionFactory(organizer=org_tree.branch_a, capacity=1)
    services.enrollment_create(session=session, member=MemberFactory(organization=org_tree.branch_a))
    bearer(api, member_a.user)
    full = api.post(f"/api/v1/training/sessions/{session.pk}/enroll/")
    assert full.status_code == 400 and full.json()["detail"] == "该场次名额已满。"
    assert not Enrollment.objects.filter(member=member_a).exists()


def test_outsiders_and_accounts_without_a_member_record(api, org_tree, member_b, staff_without_scope):
    session = SessionFactory(organizer=org_tree.branch_a)
    bearer(api, member_b.user)
    assert api.post(f"/api/v1/training/sessions/{session.pk}/enroll/").status_code == 404
    assert api.post(f"/api/v1/training/sessions/{session.pk}/cancel/").status_code == 404
    bearer(api, staff_without_scope)
    assert api.post(f"/api/v1/training/sessions/{session.pk}/enroll/").status_code == 403  # as the page
    assert api.get("/api/v1/training/sessions/").status_code == 404
    assert not Enrollment.objects.exists()

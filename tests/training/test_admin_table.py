"""The training admin's every page × persona: who gets in, who is sent to sign in, who gets 403 and who gets 404
(outsiders get 404). The writes are in test_admin.py."""

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tests.personas import sign_in_as, street_with
from tests.training.factories import CourseFactory, SessionFactory
from training import services

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "member", "staff_without_scope", "secretary_a", "secretary_b", "platform_admin")
PDF = b"%PDF-1.4\n%%EOF\n"


def _scene(street):
    """Branch A's course, session (member A enrolled), external record and annual requirement; the same for branch
    B; and a platform course."""
    this_year = timezone.localdate().year
    sides = {}
    for side, branch, member in (
        ("a", street.org_tree.branch_a, street.member_a),
        ("b", street.org_tree.branch_b, street.member_b),
    ):
        course = CourseFactory(organization=branch)
        session = SessionFactory(course=course, organizer=branch)
        services.enrollment_create(session=session, member=member)
        sides[side] = {
            "course": course,
            "trainingsession": session,
            "trainingrecord": services.external_training_record(
                member=member,
                course=course,
                hours=1,
                completed_on=timezone.localdate(),
                evidence=SimpleUploadedFile("c.pdf", PDF),
                actor=None,
            ),
            "annualrequirement": services.requirement_set(
                organization=branch, year=this_year, total_hours=Decimal(10), actor=None
            ),
        }
    return SimpleNamespace(a=sides["a"], b=sides["b"], platform_course=CourseFactory())


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The personas and the scene, made once for the module's 96 cases, each of which runs in a savepoint
    (tests/personas.py: street_with)."""
    with street_with(django_db_blocker, _scene) as street:
        yield street


MODELS = ("course", "trainingsession", "trainingrecord", "annualrequirement")


def _expected(persona, model, view, side):
    if persona in ("anonymous", "member"):
        return 302
    if view == "add" and model == "trainingrecord":
        return 403  # records come from attendance and the external training form
    if persona == "platform_admin":
        return 200
    if persona == "staff_without_scope":
        return 403 if side is None else 404
    own = persona[-1]
    if side not in (None, own):
        return 404
    return 200


CASES = [(m, v, s) for m in MODELS for v, s in (("changelist", None), ("add", None), ("change", "a"), ("change", "b"))]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("model", "view", "side"), CASES, ids=[f"{m}-{v}-{s}" for m, v, s in CASES])
def test_admin_pages(world, client, persona, model, view, side):
    if view == "change":
        url = reverse(f"admin:training_{model}_change", args=[getattr(world.scene, side)[model].pk])
    else:
        url = reverse(f"admin:training_{model}_{view}")
    response = sign_in_as(client, persona, world).get(url)
    assert response.status_code == _expected(persona, model, view, side), f"{persona} {model} {view} {side}"

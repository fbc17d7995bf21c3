"""The training admin's every page × persona: who gets in, who is sent to sign in, who gets 403 and who gets 404
(outsiders get 404). The writes are in test_admin.py."""

import pytest
from django.urls import reverse

from tests.personas import sign_in_as, street_with
from tests.training.conftest import admin_scene

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "member", "staff_without_scope", "secretary_a", "secretary_b", "platform_admin")


def _scene(street):
    return admin_scene(street.org_tree, street.member_a, street.member_b)


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

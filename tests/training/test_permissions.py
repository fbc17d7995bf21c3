"""Every training page × every persona: who gets in, who is sent to sign in, who gets 403 and who gets 404.

Read a row as a sentence: "the secretary of branch B opening the attendance sheet of branch A's session gets 404".
Out-of-scope objects answer 404 (never 403), so nothing tells that they exist; a secretaries' page without an
object answers 403 to members.
"""

from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tests.personas import sign_in_as, street_with
from tests.training.factories import CourseFactory, SessionFactory
from training import services
from training.models import CourseMaterial

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "member", "secretary_a", "secretary_b", "platform_admin")
PDF = b"%PDF-1.4\n%%EOF\n"


def _scene(street):
    org_tree, member_a, member_b = street.org_tree, street.member_a, street.member_b
    """Branch A's course, material, session and member A's external record; the same for branch B."""
    sides = {}
    for side, branch, member in (("a", org_tree.branch_a, member_a), ("b", org_tree.branch_b, member_b)):
        course = CourseFactory(organization=branch)
        material = services.course_material_save(
            material=CourseMaterial(course=course, title="讲义", file=SimpleUploadedFile("讲义.pdf", PDF)), actor=None
        )
        record = services.external_training_record(
            member=member,
            course=course,
            hours=2,
            completed_on=timezone.localdate(),
            evidence=SimpleUploadedFile("证书.pdf", PDF),
            actor=None,
        )
        sides[side] = SimpleNamespace(
            organization=branch,
            session=SessionFactory(course=course, organizer=branch),
            material=material,
            record=record,
        )
    return SimpleNamespace(**sides)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The personas and the scene, made once for the module's tests, each of which runs in a savepoint
    (tests/personas.py: street_with)."""
    with street_with(django_db_blocker, _scene) as street:
        yield street


# (name, url builder, expected per persona). "A" objects are branch A's, "B" objects branch B's.
# member = member A; secretary_a is also a member of branch A (and sees it as a member); the admin has no Member.
PAGES = [
    ("index", lambda s: reverse("training:index"), (302, 200, 200, 200, 200)),
    ("session A", lambda s: reverse("training:session_detail", args=[s.a.session.pk]), (302, 200, 200, 404, 200)),
    ("session B", lambda s: reverse("training:session_detail", args=[s.b.session.pk]), (302, 404, 404, 200, 200)),
    ("material A", lambda s: reverse("training:material_download", args=[s.a.material.pk]), (302, 200, 200, 404, 200)),
    ("material B", lambda s: reverse("training:material_download", args=[s.b.material.pk]), (302, 404, 404, 200, 200)),
    ("evidence A", lambda s: reverse("training:evidence_download", args=[s.a.record.pk]), (302, 200, 200, 404, 200)),
    ("evidence B", lambda s: reverse("training:evidence_download", args=[s.b.record.pk]), (302, 404, 404, 200, 200)),
    ("manage", lambda s: reverse("training:manage"), (302, 403, 200, 200, 200)),
    ("attendance A", lambda s: reverse("training:attendance", args=[s.a.session.pk]), (302, 404, 200, 404, 200)),
    ("attendance B", lambda s: reverse("training:attendance", args=[s.b.session.pk]), (302, 404, 404, 200, 200)),
    ("completion", lambda s: reverse("training:completion"), (302, 403, 200, 200, 200)),
    (
        "completion A",
        lambda s: reverse("training:completion") + f"?organization={s.a.organization.pk}",
        (302, 403, 200, 404, 200),
    ),
    (
        "export A",
        lambda s: reverse("training:completion_export") + f"?organization={s.a.organization.pk}&year=2025",
        (302, 403, 200, 404, 200),
    ),
    (
        "export B",
        lambda s: reverse("training:completion_export") + f"?organization={s.b.organization.pk}",
        (302, 403, 404, 200, 200),
    ),
    ("external record", lambda s: reverse("training:external_record_new"), (302, 403, 200, 200, 200)),
]


@pytest.mark.parametrize("persona_index", range(len(PERSONAS)), ids=PERSONAS)
@pytest.mark.parametrize(("name", "url", "expected"), PAGES, ids=[p[0] for p in PAGES])
def test_get(world, client, persona_index, name, url, expected):
    persona = PERSONAS[persona_index]
    response = sign_in_as(client, persona, world).get(url(world.scene))
    assert response.status_code == expected[persona_index], f"{persona} GET {name}"
    if response.status_code == 302:
        assert response.url.startswith(reverse("login"))


# POSTs: enroll, cancel, attendance. The admin has no Member: enrolling is refused (403), not hidden.
POSTS = [
    ("enroll A", lambda s: reverse("training:enroll", args=[s.a.session.pk]), (302, 302, 302, 404, 403)),
    ("enroll B", lambda s: reverse("training:enroll", args=[s.b.session.pk]), (302, 404, 404, 302, 403)),
    ("cancel A", lambda s: reverse("training:cancel_enrollment", args=[s.a.session.pk]), (302, 404, 404, 404, 403)),
    ("attendance B", lambda s: reverse("training:attendance", args=[s.b.session.pk]), (302, 404, 404, 200, 200)),
]


@pytest.mark.parametrize("persona_index", range(len(PERSONAS)), ids=PERSONAS)
@pytest.mark.parametrize(("name", "url", "expected"), POSTS, ids=[p[0] for p in POSTS])
def test_post(world, client, persona_index, name, url, expected):
    persona = PERSONAS[persona_index]
    response = sign_in_as(client, persona, world).post(url(world.scene), {})
    assert response.status_code == expected[persona_index], f"{persona} POST {name}"


def test_unknown_ids_answer_404(client, world):
    client.force_login(world.secretary_a)
    for url in (
        reverse("training:session_detail", args=[999999]),
        reverse("training:attendance", args=[999999]),
        reverse("training:material_download", args=[999999]),
        reverse("training:evidence_download", args=[999999]),
        reverse("training:completion") + "?organization=999999",
        reverse("training:completion") + "?organization=abc",
    ):
        assert client.get(url).status_code == 404, url

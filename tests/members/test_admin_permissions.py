"""Every members admin page × every persona: who gets in, who is sent to sign in, and who gets 404.

Read a row as a sentence: "the secretary of branch A opening branch B's member gets 404". Out-of-scope objects
answer 404 (never 403, never Django's "perhaps it was deleted" redirect), so nothing tells that they exist.
"""

from types import SimpleNamespace

import pytest
from django.urls import reverse

from members import services
from members.models import Tag
from tests.members.factories import MemberFactory, OrganizationFactory, ServiceRecordFactory, TagFactory
from tests.personas import sign_in_as, street_with

pytestmark = pytest.mark.django_db

PERSONAS = ("platform_admin", "secretary_a", "secretary_b", "staff_without_scope", "member", "anonymous")
# Views of objects: (view name, needs an object, admin has it). "history" exists for audited models only.
AUDITED = {"organization", "member", "servicerecord"}
NO_ADD = {"transfer"}  # written by the transfer action only
SCOPED_DELETE = {"community", "team"}  # other deletions are for platform admins (they bypass the services)


def _scene(street):
    org_tree, platform_admin = street.org_tree, street.platform_admin
    member_a, member_b = street.member_a, street.member_b
    """One object of each kind on each side: `scene.a[model]` is in branch A's scope, `scene.b[model]` in B's."""
    a2 = OrganizationFactory(name="东二支部", parent=org_tree.east)
    b2 = OrganizationFactory(name="西二支部", parent=org_tree.west)
    mover_a = MemberFactory(organization=org_tree.branch_a)
    mover_b = MemberFactory(organization=org_tree.branch_b)
    sides = {}
    for side, branch, other, member, mover, community in (
        ("a", org_tree.branch_a, a2, member_a, mover_a, org_tree.community_a),
        ("b", org_tree.branch_b, b2, member_b, mover_b, org_tree.community_b),
    ):
        record = ServiceRecordFactory(member=member)
        services.service_record_verify(record=record, verifier=platform_admin)
        sides[side] = {
            "organization": branch,
            "community": community,
            "member": member,
            "residenceregistration": services.residence_register(member=member, community=community, actor=None),
            "transfer": services.member_transfer(member=mover, to_organization=other, actor=None),
            "team": services.team_create(organization=branch, name=f"{branch.name}服务队", leader=member, actor=None),
            "servicerecord": record,
            "servicerecordcorrection": services.service_record_correction_request(
                record=record, requested_by=member.user, reason="地点写错", place="村委会"
            ),
        }
    tag = TagFactory(kind=Tag.Kind.SKILL, name="理发")
    return SimpleNamespace(a=sides["a"], b=sides["b"], tag=tag)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The personas and the scene, made once for the module's tests, each of which runs in a savepoint
    (tests/personas.py: street_with)."""
    with street_with(django_db_blocker, _scene) as street:
        yield street


def _expected(persona: str, model: str, view: str, side: str | None) -> int:
    if persona in ("member", "anonymous"):
        return 302  # not staff: the admin sends everyone to its sign-in page
    if view == "add" and model in NO_ADD:
        return 403
    if persona == "platform_admin":
        return 200
    if persona == "staff_without_scope":
        # No module permission; a shared catalogue row exists for everyone, and nothing else is in an empty scope.
        return 403 if side in (None, "shared") else 404
    own = persona[-1]  # "secretary_a" → "a"
    if side not in (None, "shared", own):
        return 404
    if view == "delete" and model not in SCOPED_DELETE:
        return 403
    return 200


def _pages(scene, model):
    """(url, view, side) for every admin page of `model`; side None = not about one object."""
    base = f"admin:members_{model}"
    yield reverse(f"{base}_changelist"), "changelist", None
    yield reverse(f"{base}_add"), "add", None
    if model == "tag":
        yield reverse(f"{base}_change", args=[scene.tag.pk]), "change", "shared"
        return
    for side in ("a", "b"):
        pk = getattr(scene, side)[model].pk
        yield reverse(f"{base}_change", args=[pk]), "change", side
        yield reverse(f"{base}_delete", args=[pk]), "delete", side
        if model in AUDITED:
            yield reverse(f"{base}_history", args=[pk]), "history", side


MODELS = (
    "organization",
    "community",
    "tag",
    "member",
    "residenceregistration",
    "transfer",
    "team",
    "servicerecord",
    "servicerecordcorrection",
)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("persona", PERSONAS)
def test_permission_table(persona, model, world, client):
    client = sign_in_as(client, persona, world)
    wrong = []
    for url, view, side in _pages(world.scene, model):
        response = client.get(url)
        expected = _expected(persona, model, view, side)
        if response.status_code != expected:
            wrong.append(f"{view} {side or ''} {url}: {response.status_code}, expected {expected}")
        elif expected == 302:
            assert response.url.startswith(reverse("admin:login")), response.url
    assert not wrong, f"{persona} on {model}:\n" + "\n".join(wrong)


def test_out_of_scope_history_version_is_404(world, client):
    member_b = world.scene.b["member"]
    version = member_b.history.latest()
    client.force_login(world.secretary_a)
    url = reverse("admin:members_member_simple_history", args=[member_b.pk, version.history_id])
    assert client.get(url).status_code == 404


def test_history_cannot_be_reverted(world, client):
    member_a = world.scene.a["member"]
    version = member_a.history.earliest()
    client.force_login(world.secretary_a)
    url = reverse("admin:members_member_simple_history", args=[member_a.pk, version.history_id])
    assert client.get(url).status_code == 200
    assert client.post(url, {"name": "改名"}).status_code == 405
    member_a.refresh_from_db()
    assert member_a.name == "李明"


def test_posting_to_an_out_of_scope_object_is_404_and_changes_nothing(world, client):
    member_b = world.scene.b["member"]
    client.force_login(world.secretary_a)
    response = client.post(reverse("admin:members_member_change", args=[member_b.pk]), {"name": "篡改"})
    assert response.status_code == 404
    member_b.refresh_from_db()
    assert member_b.name == "周红"


def test_autocomplete_offers_only_members_in_scope(world, client):
    client.force_login(world.secretary_a)
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "members", "model_name": "team", "field_name": "leader", "term": ""},
    )
    names = {row["text"] for row in response.json()["results"]}
    assert str(world.scene.a["member"]) in names
    assert str(world.scene.b["member"]) not in names


def test_admin_index_lists_the_members_app_for_secretaries_only(world, client):
    client.force_login(world.secretary_a)
    assert "党员" in client.get(reverse("admin:index")).content.decode()
    client.force_login(world.staff_without_scope)
    assert reverse("admin:members_member_changelist") not in client.get(reverse("admin:index")).content.decode()

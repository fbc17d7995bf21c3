"""Every projects page and admin page × every persona: who gets in, who is sent to sign in, who gets 404.

Read a row as a sentence: "the secretary of branch B opening the attendance sheet of branch A's activity gets 404".
Published projects and their activities are public; drafts, check-in codes, attendance sheets and admin objects
belong to the organizers in scope, and everyone else gets 404 (never 403), so nothing tells that they exist.
"""

from datetime import time, timedelta
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from projects import services
from projects.models import Post
from tests.personas import sign_in_as, street_with
from tests.projects.factories import ActivityFactory, ProjectFactory

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "member", "secretary_a", "secretary_b", "platform_admin")


def _scene(street):
    org_tree, member_a, member_b = street.org_tree, street.member_a, street.member_b
    """For each branch: a published project with an activity, a post claimed by its member, a self-report of its
    member and a draft project with an activity."""
    sides = {}
    for side, branch, member in (("a", org_tree.branch_a, member_a), ("b", org_tree.branch_b, member_b)):
        project = ProjectFactory(organization=branch, slug=f"project-{side}")
        draft = ProjectFactory(organization=branch, slug=f"draft-{side}", status="draft")
        post = services.post_save(
            post=Post(project=project, title="周三下午", weekday=2, start_time=time(14), minutes=60, places=3)
        )
        claim = services.post_claim(post=post, member=member).claim
        start = (timezone.localtime() - timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
        report = services.self_report_submit(
            member=member,
            started_at=start,
            ended_at=start + timedelta(hours=2),
            hours=2,
            place="村委会",
            content="助餐",
        )
        sides[side] = SimpleNamespace(
            project=project,
            draft=draft,
            activity=ActivityFactory(project=project),
            draft_activity=ActivityFactory(project=draft),
            post=post,
            claim=claim,
            report=report,
        )
    return SimpleNamespace(**sides)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The personas and the scene, made once for the module's tests, each of which runs in a savepoint
    (tests/personas.py: street_with)."""
    with street_with(django_db_blocker, _scene) as street:
        yield street


# member = member A. The platform admin has no Member record: member pages tell them so (404).
PAGES = [
    ("list", lambda s: reverse("projects:project_list"), (200, 200, 200, 200, 200)),
    ("project A", lambda s: reverse("projects:project_detail", args=[s.a.project.slug]), (200, 200, 200, 200, 200)),
    ("qr A", lambda s: reverse("projects:project_qr", args=[s.a.project.slug]), (200, 200, 200, 200, 200)),
    ("draft A", lambda s: reverse("projects:project_detail", args=[s.a.draft.slug]), (404, 404, 200, 404, 200)),
    ("draft qr A", lambda s: reverse("projects:project_qr", args=[s.a.draft.slug]), (404, 404, 200, 404, 200)),
    ("logo A (none)", lambda s: reverse("projects:project_logo", args=[s.a.project.slug]), (404,) * 5),
    ("activity A", lambda s: reverse("projects:activity_detail", args=[s.a.activity.pk]), (200, 200, 200, 200, 200)),
    (
        "draft activity A",
        lambda s: reverse("projects:activity_detail", args=[s.a.draft_activity.pk]),
        (404, 404, 200, 404, 200),
    ),
    (
        "checkin qr A",
        lambda s: reverse("projects:activity_checkin_qr", args=[s.a.activity.pk]),
        (302, 404, 200, 404, 200),
    ),
    (
        "checkin qr B",
        lambda s: reverse("projects:activity_checkin_qr", args=[s.b.activity.pk]),
        (302, 404, 404, 200, 200),
    ),
    ("attendance A", lambda s: reverse("projects:attendance", args=[s.a.activity.pk]), (302, 404, 200, 404, 200)),
    ("attendance B", lambda s: reverse("projects:attendance", args=[s.b.activity.pk]), (302, 404, 404, 200, 200)),
    ("checkin A", lambda s: reverse("projects:activity_checkin", args=[s.a.activity.pk]), (302, 200, 200, 200, 404)),
    ("my activities", lambda s: reverse("projects:my_activities"), (302, 200, 200, 200, 404)),
    ("self report", lambda s: reverse("projects:self_report"), (302, 200, 200, 200, 404)),
    ("my calendar", lambda s: reverse("projects:my_calendar"), (302, 200, 200, 200, 404)),
    # Admin: the changelists and each side's objects.
    ("admin projects", lambda s: reverse("admin:projects_serviceproject_changelist"), (302, 302, 200, 200, 200)),
    (
        "admin project A",
        lambda s: reverse("admin:projects_serviceproject_change", args=[s.a.project.pk]),
        (302, 302, 200, 404, 200),
    ),
    (
        "admin activity A",
        lambda s: reverse("admin:projects_activity_change", args=[s.a.activity.pk]),
        (302, 302, 200, 404, 200),
    ),
    (
        "admin activity B",
        lambda s: reverse("admin:projects_activity_change", args=[s.b.activity.pk]),
        (302, 302, 404, 200, 200),
    ),
    ("admin add activity", lambda s: reverse("admin:projects_activity_add"), (302, 302, 200, 200, 200)),
    (
        "admin claim A",
        lambda s: reverse("admin:projects_postclaim_change", args=[s.a.claim.pk]),
        (302, 302, 200, 404, 200),
    ),
    (
        "admin report A",
        lambda s: reverse("admin:projects_selfreport_change", args=[s.a.report.pk]),
        (302, 302, 200, 404, 200),
    ),
    (
        "admin report B",
        lambda s: reverse("admin:projects_selfreport_change", args=[s.b.report.pk]),
        (302, 302, 404, 200, 200),
    ),
    ("admin categories", lambda s: reverse("admin:projects_projectcategory_changelist"), (302, 302, 200, 200, 200)),
]


@pytest.mark.parametrize("persona_index", range(len(PERSONAS)), ids=PERSONAS)
@pytest.mark.parametrize(("name", "url", "expected"), PAGES, ids=[p[0] for p in PAGES])
def test_get(world, client, persona_index, name, url, expected):
    persona = PERSONAS[persona_index]
    response = sign_in_as(client, persona, world).get(url(world.scene))
    assert response.status_code == expected[persona_index], f"{persona} GET {name}"
    if response.status_code == 302:
        assert "login" in response.url


POSTS = [
    ("sign up A", lambda s: reverse("projects:activity_signup", args=[s.a.activity.pk]), (302, 302, 302, 302, 404)),
    (
        "sign up draft A",
        lambda s: reverse("projects:activity_signup", args=[s.a.draft_activity.pk]),
        (302, 404, 404, 404, 404),
    ),
    (
        "cancel A (none)",
        lambda s: reverse("projects:activity_cancel_signup", args=[s.a.activity.pk]),
        (302, 404, 404, 404, 404),
    ),
    ("attendance B", lambda s: reverse("projects:attendance", args=[s.b.activity.pk]), (302, 404, 404, 200, 200)),
    ("leave post B", lambda s: reverse("projects:post_leave", args=[s.b.post.pk]), (302, 404, 404, 404, 404)),
    ("skip post B", lambda s: reverse("projects:post_skip", args=[s.b.post.pk]), (302, 404, 404, 404, 404)),
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
        reverse("projects:project_detail", args=["nope"]),
        reverse("projects:activity_detail", args=[999999]),
        reverse("projects:attendance", args=[999999]),
        reverse("projects:activity_checkin_qr", args=[999999]),
        reverse("projects:post_claim", args=[999999]),
    ):
        assert client.get(url).status_code in (404, 405), url

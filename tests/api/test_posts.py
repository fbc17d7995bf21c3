"""Posts through the API: claiming a standing post signs the member up to its activities ahead, a date is skipped
with the page's form (its message when the date is missing), leaving cancels what is ahead; another member's
claim and a draft project's post are not found."""

from datetime import time

import pytest
from django.utils import timezone

from projects import services
from projects.models import Post, PostClaim, ServiceProject, SignUp
from tests.api.conftest import bearer
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(org_tree):
    project = ProjectFactory(
        organization=org_tree.branch_a,
        recurrence=ServiceProject.Recurrence.WEEKLY,
        recurrence_weekday=2,
        recurrence_time=time(14, 0),
        recurrence_minutes=120,
        recurrence_capacity=12,
    )
    post = services.post_save(
        post=Post(project=project, title="周六上午陪伴老人", weekday=5, start_time=time(9), minutes=120, places=2)
    )
    services.activities_generate(project=project, weeks=3)
    return post


def test_a_member_claims_skips_a_date_and_leaves(api, post, member_a):
    bearer(api, member_a.user)
    claimed = api.post(f"/api/v1/posts/{post.pk}/claim/")
    assert claimed.status_code == 200
    body = claimed.json()
    assert body["status"] == "active" and body["signed_up"]
    assert body["detail"] == f"已认领岗位“{post.title}”，并为您报名了 {len(body['signed_up'])} 场活动。"
    twice = api.post(f"/api/v1/posts/{post.pk}/claim/")
    assert twice.status_code == 400 and "您已认领" in twice.json()["detail"]

    missing = api.post(f"/api/v1/posts/{post.pk}/skip/", {}, format="json")
    assert missing.status_code == 400 and missing.json()["errors"] == {"day": ["请选择请假日期。"]}
    first = SignUp.objects.filter(claim_id=body["id"]).order_by("activity__starts_at").first()
    day = timezone.localdate(first.activity.starts_at)
    skipped = api.post(f"/api/v1/posts/{post.pk}/skip/", {"day": day.isoformat()}, format="json")
    assert skipped.status_code == 200 and skipped.json()["detail"] == f"已请假：{day.isoformat()}。"
    assert SignUp.objects.get(pk=first.pk).status == SignUp.Status.CANCELLED

    left = api.post(f"/api/v1/posts/{post.pk}/leave/")
    assert left.status_code == 200 and left.json()["status"] == "left"
    assert api.post(f"/api/v1/posts/{post.pk}/leave/").status_code == 404  # no active claim left


def test_another_members_claim_and_a_draft_post_are_not_found(api, post, member_a, member_b, org_tree):
    services.post_claim(post=post, member=member_a)
    bearer(api, member_b.user)
    assert api.post(f"/api/v1/posts/{post.pk}/leave/").status_code == 404
    assert api.post(f"/api/v1/posts/{post.pk}/skip/", {"day": "2030-01-05"}, format="json").status_code == 404
    assert PostClaim.objects.get(member=member_a).status == PostClaim.Status.ACTIVE
    draft = services.post_save(
        post=Post(
            project=ProjectFactory(organization=org_tree.branch_a, status=ServiceProject.Status.DRAFT),
            title="草稿岗位",
            weekday=1,
            start_time=time(9),
            minutes=60,
            places=2,
        )
    )
    assert api.post(f"/api/v1/posts/{draft.pk}/claim/").status_code == 404
    assert not PostClaim.objects.filter(member=member_b).exists()

"""Helpers of the news tests: a picture upload, items in each state, a second administrator of branch A."""

from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from members import services as member_services
from news import services
from news.models import News
from tests.members.factories import MemberFactory


def picture(name: str = "photo.jpg", fmt: str = "JPEG", size=(40, 30)) -> SimpleUploadedFile:
    buffer = BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def draft(
    author, organization, *, audience=News.Audience.SUBTREE, kind=News.Kind.NOTICE, title="周六清扫楼道", **kwargs
):
    return services.news_create(
        actor=author,
        organization=organization,
        kind=kind,
        audience=audience,
        title=title,
        body="请党员周六上午九点到社区集合。",
        **kwargs,
    )


def published(author, approver, organization, **kwargs) -> News:
    news = draft(author, organization, **kwargs)
    services.news_submit(news=news, actor=author)
    return services.news_approve(news=news, actor=approver)


@pytest.fixture
def co_admin_a(org_tree):
    """A second 组织管理员 of branch A (besides its secretary): the same scope, another person."""
    member = MemberFactory(user__username="co_admin_a", name="孙委员", organization=org_tree.branch_a)
    member_services.organization_set_admins(organization=org_tree.branch_a, users=[member.user], actor=None)
    member.user.refresh_from_db()
    return member.user

"""The news pages: who reads what (public vs the organization's subtree), the photo behind the same check, the
pagination, the admin where secretaries write and approve, and constant query counts."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from news import selectors
from news.models import News
from tests.news.conftest import draft, picture, published
from tests.queries import assert_constant_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def items(org_tree, secretary_a, secretary_b, co_admin_a, east_secretary, platform_admin):
    """A public item of branch A, a subtree item of branch A, a subtree item of the east committee (above A), a
    subtree item of branch B, and a draft of branch A."""
    return {
        "public": published(secretary_a, co_admin_a, org_tree.branch_a, audience="public", title="公开：义诊活动"),
        "branch_a": published(secretary_a, co_admin_a, org_tree.branch_a, title="支部：组织生活会"),
        "east": published(east_secretary, platform_admin, org_tree.east, title="党委：学习安排"),
        "branch_b": published(platform_admin, secretary_b, org_tree.branch_b, title="西一：志愿者招募"),
        "draft": draft(secretary_a, org_tree.branch_a, audience="public", title="草稿：未审核"),
    }


def _titles(response) -> set[str]:
    return {item.title for item in response.context["page"].object_list}


def test_a_visitor_reads_the_public_items_only(client, items):
    response = client.get(reverse("news:list"))
    assert _titles(response) == {"公开：义诊活动"}
    assert client.get(reverse("news:detail", args=[items["branch_a"].pk])).status_code == 404
    assert client.get(reverse("news:detail", args=[items["draft"].pk])).status_code == 404
    assert client.get(reverse("news:detail", args=[items["public"].pk])).status_code == 200


def test_a_member_reads_their_branch_s_and_the_organizations_above_but_not_another_branch_s(client, items, member_a):
    client.force_login(member_a.user)
    assert _titles(client.get(reverse("news:list"))) == {"公开：义诊活动", "支部：组织生活会", "党委：学习安排"}
    assert client.get(reverse("news:detail", args=[items["branch_b"].pk])).status_code == 404
    assert "组织生活会" in client.get(reverse("news:detail", args=[items["branch_a"].pk])).content.decode()


def test_a_member_of_branch_b_does_not_see_branch_a_s_items(client, items, member_b):
    client.force_login(member_b.user)
    assert _titles(client.get(reverse("news:list"))) == {"公开：义诊活动", "西一：志愿者招募"}
    assert client.get(reverse("news:detail", args=[items["branch_a"].pk])).status_code == 404


def test_a_withdrawn_item_is_gone_from_every_list(client, items, member_a, secretary_a):
    from news import services

    services.news_withdraw(news=items["public"], actor=secretary_a, note="信息有误")
    assert selectors.latest_public_news() == []
    client.force_login(member_a.user)
    assert "公开：义诊活动" not in _titles(client.get(reverse("news:list")))
    assert client.get(reverse("news:detail", args=[items["public"].pk])).status_code == 404


def test_the_photo_follows_the_item_s_visibility(client, org_tree, secretary_a, co_admin_a, member_a, member_b):
    news = published(secretary_a, co_admin_a, org_tree.branch_a, kind="story", photo=picture())
    url = reverse("news:photo", args=[news.pk])

    assert client.get(url).status_code == 404
    client.force_login(member_b.user)
    assert client.get(url).status_code == 404
    client.force_login(member_a.user)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content).startswith(b"\xff\xd8\xff")


def test_the_list_is_paginated_with_the_shared_include(client, org_tree, secretary_a, co_admin_a):
    for i in range(selectors.PAGE_SIZE + 2):
        published(secretary_a, co_admin_a, org_tree.branch_a, audience="public", title=f"通知{i:02d}")
    first = client.get(reverse("news:list"))
    assert len(first.context["page"].object_list) == selectors.PAGE_SIZE
    assert "includes/pagination.html" in [t.name for t in first.templates]
    assert "?page=2" in first.content.decode()
    second = client.get(reverse("news:list"), {"page": 2})
    assert _titles(second) == {"通知01", "通知00"}


def test_the_list_costs_the_same_queries_with_ten_times_the_items(client, org_tree, secretary_a, co_admin_a, member_a):
    client.force_login(member_a.user)

    def add(n):
        for i in range(n):
            audience = "public" if i % 2 else "subtree"
            published(secretary_a, co_admin_a, org_tree.branch_a, audience=audience, photo=None, title=f"第{i}条")

    assert_constant_queries(client, reverse("news:list"), add, small=2, large=9)


def test_the_selectors_of_the_home_page_and_me_cost_one_query_each(
    org_tree, secretary_a, co_admin_a, member_a, django_assert_num_queries
):
    for i in range(7):
        published(secretary_a, co_admin_a, org_tree.branch_a, audience="public" if i % 2 else "subtree", title=f"{i}")
    member = type(member_a).objects.select_related("organization").get(pk=member_a.pk)
    with django_assert_num_queries(1):
        home = selectors.latest_public_news()
        assert [n.organization.name for n in home] == ["东一支部"] * selectors.HOME_LIMIT
    with django_assert_num_queries(1):
        mine = selectors.latest_news_for_member(member)
        assert [n.organization.name for n in mine] == ["东一支部"] * selectors.PORTAL_LIMIT


# --- Admin ------------------------------------------------------------------------------------------------------


def _admin_add(client, organization, **extra):
    data = {
        "kind": "story",
        "organization": organization.pk,
        "audience": "public",
        "title": "重阳节慰问",
        "body": "支部党员走访空巢老人。",
        "photo_caption": "",
        **extra,
    }
    return client.post(reverse("admin:news_news_add"), data)


def test_a_secretary_writes_a_draft_with_a_photo_in_the_admin(client, org_tree, secretary_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(secretary_a)
    response = _admin_add(client, org_tree.branch_a, photo=picture("重阳.png", fmt="PNG"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    news = News.objects.get()
    assert (news.status, news.author, news.organization) == (News.Status.DRAFT, secretary_a, org_tree.branch_a)
    assert news.photo.name.endswith(".jpg")


def test_the_admin_refuses_a_photo_that_is_no_image(client, org_tree, secretary_a):
    client.force_login(secretary_a)
    fake = SimpleUploadedFile("photo.jpg", b"<html><body>not a photo</body></html>", content_type="image/jpeg")
    response = _admin_add(client, org_tree.branch_a, photo=fake)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["photo"]
    assert not News.objects.exists()


def test_a_secretary_cannot_write_for_another_branch_in_the_admin(client, org_tree, secretary_b):
    client.force_login(secretary_b)
    response = _admin_add(client, org_tree.branch_a)
    assert response.status_code == 200
    assert "organization" in response.context["adminform"].form.errors
    assert not News.objects.exists()


def _action(client, action, news, **extra):
    return client.post(
        reverse("admin:news_news_changelist"), {"action": action, ACTION_CHECKBOX_NAME: [news.pk], **extra}, follow=True
    )


def test_in_the_admin_the_author_submits_and_only_a_second_secretary_approves(
    client, org_tree, secretary_a, co_admin_a
):
    news = draft(secretary_a, org_tree.branch_a, audience="public")
    client.force_login(secretary_a)
    _action(client, "submit_selected", news)
    response = _action(client, "approve_selected", news)
    assert "另一位书记" in response.content.decode()
    news.refresh_from_db()
    assert news.status == News.Status.PENDING

    client.force_login(co_admin_a)
    _action(client, "approve_selected", news)
    news.refresh_from_db()
    assert (news.status, news.approved_by) == (News.Status.PUBLISHED, co_admin_a)


def test_a_secretary_of_another_branch_neither_sees_nor_approves_the_item(client, org_tree, secretary_a, secretary_b):
    news = draft(secretary_a, org_tree.branch_a)
    from news import services

    services.news_submit(news=news, actor=secretary_a)
    client.force_login(secretary_b)
    assert client.get(reverse("admin:news_news_change", args=[news.pk])).status_code == 404
    _action(client, "approve_selected", news)
    news.refresh_from_db()
    assert news.status == News.Status.PENDING


def test_returning_asks_for_a_reason_first(client, org_tree, secretary_a, co_admin_a):
    news = draft(secretary_a, org_tree.branch_a)
    from news import services

    services.news_submit(news=news, actor=secretary_a)
    client.force_login(co_admin_a)
    page = _action(client, "return_selected", news)
    assert page.status_code == 200 and "reason" in page.context["form"].fields
    _action(client, "return_selected", news, apply="1", reason="照片不清楚")
    news.refresh_from_db()
    assert (news.status, news.returned_note) == (News.Status.DRAFT, "照片不清楚")


def test_a_published_item_is_read_only_in_the_admin(client, org_tree, secretary_a, co_admin_a):
    news = published(secretary_a, co_admin_a, org_tree.branch_a)
    client.force_login(secretary_a)
    response = client.get(reverse("admin:news_news_change", args=[news.pk]))
    assert response.status_code == 200
    assert "title" in response.context["adminform"].readonly_fields


# --- Kept pages -------------------------------------------------------------------------------------------------


def test_publishing_a_public_item_drops_the_kept_home_page(client, org_tree, secretary_a, co_admin_a):
    assert "首页新闻" not in client.get("/").content.decode()  # now kept for anonymous visitors
    published(secretary_a, co_admin_a, org_tree.branch_a, audience="public", title="首页新闻")
    assert "首页新闻" in client.get("/").content.decode()


def test_withdrawing_a_public_item_drops_the_kept_home_page(client, org_tree, secretary_a, co_admin_a):
    from news import services

    news = published(secretary_a, co_admin_a, org_tree.branch_a, audience="public", title="首页新闻")
    assert "首页新闻" in client.get("/").content.decode()
    services.news_withdraw(news=news, actor=secretary_a, note="有误")
    assert "首页新闻" not in client.get("/").content.decode()


def test_publishing_an_item_drops_the_member_s_kept_page(client, org_tree, secretary_a, co_admin_a, member_a):
    client.force_login(member_a.user)
    assert "支部新通知" not in client.get("/me/").content.decode()  # now kept for member A
    published(secretary_a, co_admin_a, org_tree.branch_a, title="支部新通知")
    page = client.get("/me/").content.decode()
    assert "支部新通知" in page and 'id="news-latest"' in page


def test_the_admin_s_add_button_for_broadcasts_leads_to_the_page_with_the_count(client, secretary_a):
    client.force_login(secretary_a)
    response = client.get(reverse("admin:news_broadcast_add"))
    assert response.status_code == 302 and response.url == reverse("news:broadcast_new")

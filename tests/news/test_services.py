"""News: draft → pending → published → withdrawn, approved by a second secretary with scope — in the services and in
the database."""

import threading
from collections import Counter

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from news import services
from news.models import News
from tests.news.conftest import draft, picture, published

pytestmark = pytest.mark.django_db


def test_a_draft_goes_through_approval_to_publication_and_withdrawal(org_tree, secretary_a, co_admin_a, clock):
    news = draft(secretary_a, org_tree.branch_a)
    assert (news.status, news.author, news.approved_by) == (News.Status.DRAFT, secretary_a, None)

    news = services.news_submit(news=news, actor=secretary_a)
    assert news.status == News.Status.PENDING
    assert news.submitted_at == clock.now

    clock.advance(3600)
    news = services.news_approve(news=news, actor=co_admin_a)
    assert (news.status, news.approved_by, news.published_at) == (News.Status.PUBLISHED, co_admin_a, clock.now)

    news = services.news_withdraw(news=news, actor=secretary_a, note="活动改期")
    news.refresh_from_db()
    assert (news.status, news.withdrawn_note) == (News.Status.WITHDRAWN, "活动改期")
    assert news.approved_by == co_admin_a  # the record of who approved stays


def test_the_author_cannot_approve_their_own_item(org_tree, secretary_a):
    news = draft(secretary_a, org_tree.branch_a)
    services.news_submit(news=news, actor=secretary_a)

    with pytest.raises(PermissionDenied, match="另一位书记"):
        services.news_approve(news=news, actor=secretary_a)
    news.refresh_from_db()
    assert news.status == News.Status.PENDING


def test_a_platform_admin_who_wrote_an_item_cannot_approve_it_either(org_tree, platform_admin, secretary_a):
    news = draft(platform_admin, org_tree.branch_a)
    services.news_submit(news=news, actor=platform_admin)

    with pytest.raises(PermissionDenied):
        services.news_approve(news=news, actor=platform_admin)
    assert services.news_approve(news=news, actor=secretary_a).status == News.Status.PUBLISHED


def test_the_database_refuses_an_approver_who_is_the_author(org_tree, secretary_a):
    news = draft(secretary_a, org_tree.branch_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        News.objects.filter(pk=news.pk).update(
            status=News.Status.PUBLISHED, approved_by=secretary_a, published_at=timezone.now()
        )


def test_the_database_refuses_a_published_item_without_an_approver(org_tree, secretary_a):
    news = draft(secretary_a, org_tree.branch_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        News.objects.filter(pk=news.pk).update(status=News.Status.PUBLISHED, published_at=timezone.now())


def test_the_database_refuses_a_draft_that_carries_an_approval(org_tree, secretary_a, co_admin_a):
    news = published(secretary_a, co_admin_a, org_tree.branch_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        News.objects.filter(pk=news.pk).update(status=News.Status.DRAFT)


def test_a_secretary_of_branch_b_cannot_approve_branch_a_s_item(org_tree, secretary_a, secretary_b):
    news = draft(secretary_a, org_tree.branch_a)
    services.news_submit(news=news, actor=secretary_a)

    with pytest.raises(PermissionDenied):
        services.news_approve(news=news, actor=secretary_b)
    with pytest.raises(PermissionDenied):
        services.news_return(news=news, actor=secretary_b, note="不行")


def test_the_secretary_above_may_approve_the_branch_s_item(org_tree, secretary_a, east_secretary):
    news = draft(secretary_a, org_tree.branch_a)
    services.news_submit(news=news, actor=secretary_a)
    assert services.news_approve(news=news, actor=east_secretary).approved_by == east_secretary


def test_a_branch_secretary_may_not_write_for_the_organization_above(org_tree, secretary_a):
    with pytest.raises(PermissionDenied):
        draft(secretary_a, org_tree.east)
    assert not News.objects.exists()


def test_only_a_pending_item_can_be_approved(org_tree, secretary_a, co_admin_a):
    news = draft(secretary_a, org_tree.branch_a)
    with pytest.raises(ValidationError):
        services.news_approve(news=news, actor=co_admin_a)
    news = published(secretary_a, co_admin_a, org_tree.branch_a)
    with pytest.raises(ValidationError):
        services.news_approve(news=news, actor=co_admin_a)


def test_a_returned_item_is_a_draft_again_with_the_reason_and_can_be_resubmitted(org_tree, secretary_a, co_admin_a):
    news = draft(secretary_a, org_tree.branch_a)
    services.news_submit(news=news, actor=secretary_a)

    news = services.news_return(news=news, actor=co_admin_a, note="请补充集合地点")
    assert (news.status, news.returned_note, news.submitted_at) == (News.Status.DRAFT, "请补充集合地点", None)

    news = services.news_update(
        news=news,
        actor=secretary_a,
        kind="notice",
        audience="subtree",
        title="周六清扫楼道",
        body="九点在党群服务中心集合。",
    )
    news = services.news_submit(news=news, actor=secretary_a)
    assert news.returned_note == ""
    assert services.news_approve(news=news, actor=co_admin_a).status == News.Status.PUBLISHED


def test_only_the_author_edits_a_draft_and_only_a_draft(org_tree, secretary_a, co_admin_a):
    news = draft(secretary_a, org_tree.branch_a)
    with pytest.raises(PermissionDenied):
        services.news_update(news=news, actor=co_admin_a, kind="notice", audience="subtree", title="改", body="改")
    services.news_submit(news=news, actor=secretary_a)
    with pytest.raises(ValidationError):
        services.news_update(news=news, actor=secretary_a, kind="notice", audience="subtree", title="改", body="改")
    news.refresh_from_db()
    assert news.title == "周六清扫楼道"


def test_withdrawing_needs_a_reason_and_a_published_item(org_tree, secretary_a, co_admin_a):
    news = draft(secretary_a, org_tree.branch_a)
    with pytest.raises(ValidationError):
        services.news_withdraw(news=news, actor=secretary_a, note="撤")
    news = published(secretary_a, co_admin_a, org_tree.branch_a, title="第二篇")
    with pytest.raises(ValidationError):
        services.news_withdraw(news=news, actor=secretary_a, note="  ")


def test_a_photo_is_stored_re_encoded_under_a_random_name(org_tree, secretary_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    news = draft(secretary_a, org_tree.branch_a, kind=News.Kind.STORY, photo=picture("我的照片.png", fmt="PNG"))
    assert news.photo.name.startswith("news/photos/")
    assert news.photo.name.endswith(".jpg") and "我的照片" not in news.photo.name
    with news.photo.open("rb") as handle:
        assert handle.read(3) == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.jpg", b"<html><script>alert(1)</script></html>"),  # a page renamed .jpg
        ("photo.jpg", b"\xff\xd8\xff\xe0 truncated"),  # a JPEG header and nothing after it
        ("notes.pdf", b"%PDF-1.4 a document"),  # not a picture type at all
    ],
)
def test_an_upload_that_is_no_image_is_refused_and_nothing_is_saved(org_tree, secretary_a, name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    with pytest.raises(ValidationError):
        draft(secretary_a, org_tree.branch_a, photo=SimpleUploadedFile(name, content))
    assert not News.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_secretaries_approving_at_the_same_moment_publish_once(org_tree, secretary_a, co_admin_a, east_secretary):
    news = draft(secretary_a, org_tree.branch_a)
    services.news_submit(news=news, actor=secretary_a)
    approvers = [co_admin_a, east_secretary] * 4
    barrier = threading.Barrier(len(approvers))
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def approve(user):
        try:
            barrier.wait()
            services.news_approve(news=News(pk=news.pk), actor=user)
            outcome = "ok"
        except ValidationError:
            outcome = "refused"
        except Exception as exc:  # noqa: BLE001 - reported by the assertion
            outcome = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=approve, args=(user,)) for user in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert outcomes == Counter(ok=1, refused=len(approvers) - 1)
    news.refresh_from_db()
    assert news.status == News.Status.PUBLISHED and news.approved_by in (co_admin_a, east_secretary)


def test_submitting_tells_the_reviewers_but_not_the_author(
    org_tree, secretary_a, co_admin_a, east_secretary, django_capture_on_commit_callbacks
):
    from notifications.models import Notification

    news = draft(secretary_a, org_tree.branch_a)
    with django_capture_on_commit_callbacks(execute=True):
        services.news_submit(news=news, actor=secretary_a)

    told = Notification.objects.filter(template="news_pending", channel="inapp")
    assert set(told.values_list("recipient_user", flat=True)) == {co_admin_a.pk, east_secretary.pk}
    assert set(told.values_list("status", flat=True)) == {"sent"}


def test_returning_tells_the_author_why(org_tree, secretary_a, co_admin_a, django_capture_on_commit_callbacks):
    from notifications.models import Notification
    from notifications.rendering import render_message

    news = draft(secretary_a, org_tree.branch_a)
    services.news_submit(news=news, actor=secretary_a)
    with django_capture_on_commit_callbacks(execute=True):
        services.news_return(news=news, actor=co_admin_a, note="请补充集合地点")

    message = Notification.objects.get(template="news_returned", channel="inapp", recipient_user=secretary_a)
    assert "请补充集合地点" in render_message(message).body

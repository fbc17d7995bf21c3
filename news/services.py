"""Every write of the news app.

News: draft → pending → published → withdrawn, and pending → draft when returned. Each move locks the item's row
(`SELECT … FOR UPDATE`) and checks its state under that lock, so of two secretaries pressing "approve" at once one
publishes and the other is told it is no longer pending. The author writes, edits and submits; a second person
with scope over the organization (its secretary or 组织管理员, one above it, or a platform admin) approves,
returns or withdraws — never the author (also a CHECK in the database: news_approver_not_author).

Broadcasts: `broadcast_send` stores the message and, after the commit, queues `broadcast_plan`, which fans the
recipients out in chunks of BROADCAST_CHUNK through the outbox (notifications.fanout). Every member's message has its
own dedupe key, so a rerun of the plan or of a chunk sends nobody twice; quiet hours and each member's channels for
the `notice` kind are applied by notifications.services.notify_many.
"""

import logging
import uuid
from functools import partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.types import User
from members.models import Organization
from members.selectors import organization_managers, visible_organizations
from notifications import fanout
from notifications.services import notify_many, user_messages

from . import selectors, tasks
from .models import Broadcast, News
from .photos import check_photo

logger = logging.getLogger(__name__)

BROADCAST_CHUNK = 200
BROADCAST_TASK = "news.tasks.send_broadcast_chunk"


def _in_scope(actor: User, organization: Organization) -> bool:
    return actor.is_superuser or visible_organizations(actor).filter(pk=organization.pk).exists()


def _required(value: str, field: str, message: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: message})
    if len(value) > max_length:
        raise ValidationError({field: _("不能超过 %(n)d 个字。") % {"n": max_length}})
    return value


def _lock(news: News) -> News:
    return News.objects.select_for_update().get(pk=news.pk)


def _check_content(*, kind: str, audience: str, title: str, body: str, photo_caption: str) -> dict:
    if kind not in News.Kind.values:
        raise ValidationError({"kind": _("请选择类别。")})
    if audience not in News.Audience.values:
        raise ValidationError({"audience": _("请选择发布范围。")})
    return {
        "kind": kind,
        "audience": audience,
        "title": _required(title, "title", _("请填写标题。"), 100),
        "body": _required(body, "body", _("请填写正文。"), 5000),
        "photo_caption": (photo_caption or "").strip()[:100],
    }


@transaction.atomic
def news_create(
    *,
    actor: User,
    organization: Organization,
    kind: str,
    audience: str,
    title: str,
    body: str,
    photo: UploadedFile | None = None,
    photo_caption: str = "",
) -> News:
    """A draft written by `actor` in the name of `organization`, which must be in their scope (PermissionDenied
    otherwise). A photo is checked and stored re-encoded (news/photos.py); a refused one raises ValidationError and
    nothing is saved."""
    if not _in_scope(actor, organization):
        raise PermissionDenied(_("该党组织不在您的管理范围内。"))
    fields = _check_content(kind=kind, audience=audience, title=title, body=body, photo_caption=photo_caption)
    news = News(organization=organization, author=actor, **fields)
    if photo:
        news.photo = check_photo(photo)
    news.save()
    return news


@transaction.atomic
def news_update(
    *,
    news: News,
    actor: User,
    kind: str,
    audience: str,
    title: str,
    body: str,
    photo: UploadedFile | None = None,
    photo_caption: str = "",
    remove_photo: bool = False,
) -> News:
    """The author changes their draft (a pending item is returned first, a published one withdrawn). Lock: the row."""
    news = _lock(news)
    if news.author_id != actor.pk:
        raise PermissionDenied(_("只有撰稿人可以修改草稿。"))
    if news.status != News.Status.DRAFT:
        raise ValidationError(_("只有草稿可以修改。"))
    fields = _check_content(kind=kind, audience=audience, title=title, body=body, photo_caption=photo_caption)
    for name, value in fields.items():
        setattr(news, name, value)
    if photo:
        news.photo = check_photo(photo)
    elif remove_photo:
        news.photo = ""
    news.save()
    return news


@transaction.atomic
def news_submit(*, news: News, actor: User) -> News:
    """The author sends the draft for approval (待审核). Lock: the row."""
    news = _lock(news)
    if news.author_id != actor.pk:
        raise PermissionDenied(_("只有撰稿人可以提交审核。"))
    if news.status != News.Status.DRAFT:
        raise ValidationError(_("只有草稿可以提交审核。"))
    news.status = News.Status.PENDING
    news.submitted_at = timezone.now()
    news.returned_note = ""
    news.save(update_fields=["status", "submitted_at", "returned_note", "updated_at"])
    _tell_reviewers(news)
    return news


def _tell_reviewers(news: News) -> None:
    """Tell who may approve — the managers of the item's organization and of the one above it, never the author —
    that an item waits (kind `work`: in-app, and email as each chose). Once per submission (dedupe key)."""
    organization = news.organization
    ids = [organization.pk] + ([organization.parent_id] if organization.parent_id else [])
    reviewers = {user.pk: user for users in organization_managers(ids).values() for user in users}
    reviewers.pop(news.author_id, None)
    assert news.submitted_at is not None  # set by news_submit before it calls here
    stamp = int(news.submitted_at.timestamp())
    messages = []
    for user in reviewers.values():
        messages += user_messages(
            user_id=user.pk,
            kind="work",
            template="news_pending",
            dedupe_key=f"news:pending:{news.pk}:{stamp}:{user.pk}",
            context={
                "organization": organization.name,
                "kind": str(news.get_kind_display()),
                "title": news.title,
                "link": reverse("admin:news_news_change", args=[news.pk]),
            },
            has_email=bool(user.email),
        )
    notify_many(messages)


def _check_reviewer(news: News, actor: User) -> None:
    if not selectors.can_approve(actor, news):
        raise PermissionDenied(_("该党组织不在您的管理范围内。"))
    if news.author_id == actor.pk:
        raise PermissionDenied(_("不能审核本人撰写的稿件，须由另一位书记审核。"))


@transaction.atomic
def news_approve(*, news: News, actor: User) -> News:
    """A second secretary with scope over the organization approves a pending item: it is published at once, to the
    public or to the members of the organization's subtree. Lock: the row; the state is checked under it."""
    news = _lock(news)
    _check_reviewer(news, actor)
    if news.status != News.Status.PENDING:
        raise ValidationError(_("该稿件不在待审核状态。"))
    news.status = News.Status.PUBLISHED
    news.approved_by = actor
    news.published_at = timezone.now()
    news.save(update_fields=["status", "approved_by", "published_at", "updated_at"])
    return news


@transaction.atomic
def news_return(*, news: News, actor: User, note: str) -> News:
    """A reviewer sends a pending item back to its author as a draft, saying why. Lock: the row."""
    note = _required(note, "note", _("请填写退回意见。"), 200)
    news = _lock(news)
    _check_reviewer(news, actor)
    if news.status != News.Status.PENDING:
        raise ValidationError(_("该稿件不在待审核状态。"))
    news.status = News.Status.DRAFT
    news.submitted_at = None
    news.returned_note = note
    news.save(update_fields=["status", "submitted_at", "returned_note", "updated_at"])
    notify_many(
        user_messages(
            user_id=news.author_id,
            kind="work",
            template="news_returned",
            dedupe_key=f"news:returned:{news.pk}:{int(timezone.now().timestamp())}",
            context={
                "kind": str(news.get_kind_display()),
                "title": news.title,
                "note": note,
                "link": reverse("admin:news_news_change", args=[news.pk]),
            },
            has_email=bool(news.author.email),
        )
    )
    return news


@transaction.atomic
def news_withdraw(*, news: News, actor: User, note: str) -> News:
    """Take a published item down (it stays on record, out of every list). Whoever has scope over the organization
    may, the author included: taking down needs no second opinion. Lock: the row."""
    note = _required(note, "note", _("请填写撤回原因。"), 200)
    news = _lock(news)
    if not selectors.can_approve(actor, news):
        raise PermissionDenied(_("该党组织不在您的管理范围内。"))
    if news.status != News.Status.PUBLISHED:
        raise ValidationError(_("只有已发布的稿件可以撤回。"))
    news.status = News.Status.WITHDRAWN
    news.withdrawn_at = timezone.now()
    news.withdrawn_note = note
    news.save(update_fields=["status", "withdrawn_at", "withdrawn_note", "updated_at"])
    return news


# --- Broadcasts -------------------------------------------------------------------------------------------------


@transaction.atomic
def broadcast_send(
    *, actor: User, organization: Organization, subject: str, body: str, request_key: uuid.UUID
) -> Broadcast:
    """Store a message to every member of `organization`'s subtree (in the actor's scope, else PermissionDenied) and
    queue its fan-out after the commit. `request_key` comes from the confirmation form: the same key twice (a double
    tap) returns the first broadcast and queues nothing more. The recipient count is the one the sender confirmed
    against, taken again now."""
    if not _in_scope(actor, organization):
        raise PermissionDenied(_("该党组织不在您的管理范围内。"))
    subject = _required(subject, "subject", _("请填写标题。"), 60)
    body = _required(body, "body", _("请填写内容。"), 500)
    existing = Broadcast.objects.filter(request_key=request_key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():  # a savepoint: a concurrent twin with the same key wins, this call returns it
            broadcast = Broadcast.objects.create(
                organization=organization,
                subject=subject,
                body=body,
                sender=actor,
                request_key=request_key,
                recipient_count=selectors.broadcast_recipient_count(organization),
            )
    except IntegrityError:
        return Broadcast.objects.get(request_key=request_key)
    transaction.on_commit(partial(_publish_plan, broadcast.pk))
    return broadcast


def _publish_plan(broadcast_id: int) -> None:
    try:
        tasks.plan_broadcast.delay(broadcast_id)
    except Exception:  # broker down: the broadcast stays unplanned (planned_at empty); the admin's action replans it
        logger.warning("could not queue broadcast %s", broadcast_id, exc_info=True)


def broadcast_plan(*, broadcast_id: int) -> int:
    """Fan the broadcast out: one chunk task per BROADCAST_CHUNK recipients (ids in ascending order); returns the
    chunks. Runs in a task, outside a transaction (notifications.fanout). A rerun plans the same members again and
    writes nothing new for those already written; members who joined after the broadcast was sent are left out."""
    broadcast = Broadcast.objects.select_related("organization").get(pk=broadcast_id)
    recipients = selectors.broadcast_recipients(broadcast.organization).filter(created_at__lte=broadcast.created_at)
    chunks = fanout.plan(BROADCAST_TASK, recipients, chunk=BROADCAST_CHUNK, kwargs={"broadcast_id": broadcast.pk})
    Broadcast.objects.filter(pk=broadcast.pk).update(planned_at=timezone.now())
    return chunks


def broadcast_chunk_send(*, broadcast_id: int, member_ids: list[int]) -> int:
    """Write the broadcast's message for each of these members who is still a recipient (checked again: a member
    who left since the plan is skipped); returns the rows written. Kind `notice`: in-app always, SMS and email as the
    member chose (or the kind's defaults), SMS held until the end of the quiet hours. One dedupe key per broadcast,
    member and channel: a rerun writes and sends nothing."""
    broadcast = Broadcast.objects.select_related("organization").get(pk=broadcast_id)
    members = (
        selectors.broadcast_recipients(broadcast.organization)
        .filter(pk__in=member_ids)
        .select_related("user")
        .order_by("pk")
    )
    context = {
        "organization": broadcast.organization.name,
        "subject": broadcast.subject,
        "body": broadcast.body,
    }
    messages = []
    for member in members:
        messages += user_messages(
            user_id=member.user_id,
            kind="notice",
            template="news_broadcast",
            dedupe_key=f"news:broadcast:{broadcast.pk}:{member.pk}",
            context={**context, "name": member.name},
            has_email=bool(member.user.email),
            phone=member.phone,
        )
    return notify_many(messages)

"""宣传推介: 通知公告 and 活动风采 written by a secretary and published after a second secretary approves, and the
messages a secretary sends to every member of their subtree (see DESIGN.md; the two-secretary rule is in the database).

A news item moves draft → pending → published (→ withdrawn), or back from pending to draft when it is returned;
every move is a service in `news.services` under the row's lock. What the database guarantees whatever the code does:
the approver is never the author, a published or withdrawn item has an approver and a publication time, a pending
one a submission time.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from members.models import Organization


class NewsKind(models.TextChoices):
    NOTICE = "notice", _("通知公告")
    STORY = "story", _("活动风采")


class NewsAudience(models.TextChoices):
    PUBLIC = "public", _("公开（首页）")
    SUBTREE = "subtree", _("本组织党员")


class NewsStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PENDING = "pending", _("待审核")
    PUBLISHED = "published", _("已发布")
    WITHDRAWN = "withdrawn", _("已撤回")


class News(models.Model):
    """One 通知公告 or 活动风采 of an organization, shown to the public or to the members of its subtree."""

    Kind = NewsKind
    Audience = NewsAudience
    Status = NewsStatus

    kind = models.CharField(_("类别"), max_length=10, choices=Kind.choices, default=Kind.NOTICE)
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("发布组织"),
        on_delete=models.PROTECT,
        related_name="news",
        help_text=_("以该党组织名义发布；“本组织党员”指该组织及其下级组织的党员。"),
    )
    audience = models.CharField(_("发布范围"), max_length=10, choices=Audience.choices, default=Audience.SUBTREE)
    title = models.CharField(_("标题"), max_length=100)
    body = models.TextField(_("正文"), max_length=5000)
    # Re-encoded as JPEG without metadata by services (news/photos.py); served by news.views.news_photo after the
    # same visibility check as the item, never from MEDIA_URL.
    photo = models.ImageField(_("照片"), upload_to="news/photos/", blank=True)
    photo_caption = models.CharField(_("照片说明"), max_length=100, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    # PROTECT: who wrote and who approved a publication stays on record (accounts are deactivated, not deleted).
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("撰稿人"), on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(_("提交审核时间"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    returned_note = models.CharField(_("退回意见"), max_length=200, blank=True)
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    withdrawn_note = models.CharField(_("撤回原因"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("通知公告与活动风采")
        verbose_name_plural = _("通知公告与活动风采")
        ordering = ["-published_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=NewsKind.values), name="news_kind_valid"),
            models.CheckConstraint(condition=Q(audience__in=NewsAudience.values), name="news_audience_valid"),
            models.CheckConstraint(condition=Q(status__in=NewsStatus.values), name="news_status_valid"),
            # 两人把关: the secretary who approves is never the one who wrote it (NULL approver: not approved yet).
            models.CheckConstraint(condition=~Q(approved_by=F("author")), name="news_approver_not_author"),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "pending"]) | Q(approved_by__isnull=False, published_at__isnull=False),
                name="news_published_has_approver",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["draft", "pending"]) | Q(approved_by__isnull=True, published_at__isnull=True),
                name="news_unpublished_has_no_approver",
            ),
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(submitted_at__isnull=False), name="news_pending_submitted"
            ),
            models.CheckConstraint(
                condition=Q(status="withdrawn") | Q(withdrawn_at__isnull=True), name="news_withdrawn_time_iff"
            ),
            models.CheckConstraint(
                condition=~Q(status="withdrawn") | Q(withdrawn_at__isnull=False), name="news_withdrawn_has_time"
            ),
        ]
        indexes = [
            # The home page and /news/: WHERE status = 'published' [AND audience = 'public'] ORDER BY published_at DESC
            models.Index(fields=["-published_at"], condition=Q(status="published"), name="news_published_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class Broadcast(models.Model):
    """A message a secretary sent to every active member of an organization's subtree (in-app, and SMS or email as
    each member chose for 通知公告). The messages go through the outbox in chunks (news.services.broadcast_plan);
    each member's has the dedupe key `news:broadcast:<id>:<member>`, so a rerun sends nobody twice."""

    organization = models.ForeignKey(
        Organization, verbose_name=_("党组织"), on_delete=models.PROTECT, related_name="broadcasts"
    )
    subject = models.CharField(_("标题"), max_length=60)
    body = models.TextField(_("内容"), max_length=500)
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("发送人"), on_delete=models.PROTECT, related_name="+"
    )
    # The form's one-time key: a confirmation posted twice (a double tap, a resubmitted page) sends once.
    request_key = models.UUIDField(_("提交标识"), unique=True, editable=False)
    recipient_count = models.PositiveIntegerField(
        _("收件党员数"), help_text=_("确认发送时本组织及下级组织的在册党员数。")
    )
    created_at = models.DateTimeField(_("发送时间"), auto_now_add=True)
    planned_at = models.DateTimeField(_("分批排队时间"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("群发消息")
        verbose_name_plural = _("群发消息")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.subject

"""The outbox: one row per message to one recipient on one channel (see DESIGN.md, "notifications").

A row is written in the same transaction as the event it tells about and dispatched after commit; the row, not
the broker, is the source of truth, so a lost task delays a message and never loses it.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.crypto import EncryptedTextField, mask_phone


class Notification(models.Model):
    class Channel(models.TextChoices):
        INAPP = "inapp", _("站内消息")
        EMAIL = "email", _("邮件")
        SMS = "sms", _("短信")

    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")

    class Delivery(models.TextChoices):
        UNKNOWN = "", _("无回执")
        DELIVERED = "delivered", _("已送达")
        UNDELIVERED = "undelivered", _("未送达")

    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("接收用户"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,  # the inbox index starts with this column
    )
    recipient_phone = EncryptedTextField(_("接收手机号"), blank=True)
    recipient_email = models.EmailField(_("接收邮箱"), blank=True)
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    template = models.CharField(
        _("模板"), max_length=100, help_text=_("notifications/templates/notifications/ 下的模板目录名")
    )
    context = models.JSONField(_("模板变量"), default=dict, blank=True)
    # A key of notifications.kinds.KINDS, or "" for a message outside the preferences (an invitation, a code sent
    # to a resident). Not a `choices` field: kinds are code, and adding one must not need a migration.
    kind = models.CharField(_("类别"), max_length=30, blank=True, default="")
    language = models.CharField(_("语言"), max_length=10, default=settings.LANGUAGE_CODE)
    dedupe_key = models.CharField(
        _("去重键"), max_length=200, unique=True, help_text=_("同一事件只产生一条通知，例如 signup-confirmed:42")
    )
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("发送次数"), default=0)
    last_error = models.TextField(_("最近错误"), blank=True)
    next_attempt_at = models.DateTimeField(_("下次发送时间"), default=timezone.now)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    # Set by the sweeper when it queues the row again, so the next passes leave it to that task for a while
    # instead of piling duplicate tasks onto a slow queue (see services.notification_sweep).
    swept_at = models.DateTimeField(_("补发排队时间"), null=True, blank=True, editable=False)
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)
    # SMS through a gateway: the gateway's id of the message (Aliyun BizId, Tencent SerialNo), by which its delivery
    # receipt names it, and what the receipt said (services.sms_receipts_record).
    provider_message_id = models.CharField(_("短信平台流水号"), max_length=64, blank=True, default="")
    delivery = models.CharField(_("送达情况"), max_length=12, choices=Delivery.choices, blank=True, default="")
    delivered_at = models.DateTimeField(_("回执时间"), null=True, blank=True)
    delivery_error = models.CharField(_("未送达原因"), max_length=200, blank=True, default="")

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        constraints = [
            models.CheckConstraint(
                condition=~Q(channel="inapp") | Q(recipient_user__isnull=False),
                name="notification_inapp_has_user",
            ),
            models.CheckConstraint(
                condition=~Q(channel="sms") | ~Q(recipient_phone=""),
                name="notification_sms_has_phone",
            ),
            models.CheckConstraint(
                condition=~Q(channel="email") | ~Q(recipient_email="") | Q(recipient_user__isnull=False),
                name="notification_email_has_address",
            ),
            models.CheckConstraint(
                condition=Q(recipient_user__isnull=False) | ~Q(recipient_phone="") | ~Q(recipient_email=""),
                name="notification_has_recipient",
            ),
            models.CheckConstraint(condition=Q(attempts__gte=0), name="notification_attempts_not_negative"),
            models.CheckConstraint(
                condition=Q(channel__in=["inapp", "email", "sms"]), name="notification_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="pending", sent_at__isnull=True)
                | Q(status="sent", sent_at__isnull=False)
                | Q(status="failed", sent_at__isnull=True),
                name="notification_status_valid_sent_at_iff_sent",
            ),
        ]
        indexes = [
            # Sweeper: WHERE status = 'pending' AND next_attempt_at <= %s ORDER BY next_attempt_at. Partial, so it
            # stays as small as the backlog while sent rows pile up.
            models.Index(
                fields=["next_attempt_at"], condition=Q(status="pending"), name="notification_pending_due_idx"
            ),
            # Delivery receipts that name the gateway's id (Tencent): partial, only the SMS sent through a gateway.
            models.Index(
                fields=["provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="notification_provider_id_idx",
            ),
            # Inbox: WHERE recipient_user_id = %s AND channel = 'inapp' ORDER BY created_at DESC
            models.Index(fields=["recipient_user", "channel", "-created_at"], name="notification_inbox_idx"),
        ]

    def __str__(self) -> str:
        # What the admin's titles and breadcrumbs show: the template's key is for developers (see its own field).
        return f"{self.get_channel_display()} #{self.pk}"

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.recipient_phone) if self.recipient_phone else ""


class NotificationPreference(models.Model):
    """A person's choice of channels for one kind of message (notifications.kinds). In-app is always on.

    No row means "not chosen yet": the kind's default channels apply. A row is the person's explicit choice and
    wins over later changes of the defaults.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("用户"),
        on_delete=models.CASCADE,
        related_name="notification_preferences",
        db_index=False,  # the unique (user, kind) index starts with this column
    )
    kind = models.CharField(_("类别"), max_length=30)
    email = models.BooleanField(_("邮件"))
    sms = models.BooleanField(_("短信"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("通知偏好")
        verbose_name_plural = _("通知偏好")
        ordering = ["user", "kind"]
        constraints = [
            # Also the index of every read: WHERE user_id = %s [AND kind = %s], and user_id IN (…) for a batch.
            models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_unique_kind"),
            models.CheckConstraint(condition=~Q(kind=""), name="notification_preference_kind_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.kind}"

    @property
    def channels(self) -> frozenset[str]:
        """The optional channels (email, SMS) chosen for this kind."""
        return frozenset(channel for channel in ("email", "sms") if getattr(self, channel))

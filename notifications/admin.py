from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The outbox is a log: nothing is added, edited or deleted here; a failed message can be sent again."""

    list_display = (
        "id",
        "channel",
        "template",
        "recipient_user",
        "masked_phone",
        "status",
        "attempts",
        "created_at",
        "sent_at",
    )
    list_filter = ("status", "channel", "template")
    search_fields = ("dedupe_key",)
    list_select_related = ("recipient_user",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    actions = ("retry_failed",)
    # The phone number is personal data: the admin only ever shows it masked.
    fields = (
        "recipient_user",
        "masked_phone",
        "recipient_email",
        "channel",
        "template",
        "language",
        "context",
        "dedupe_key",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "created_at",
        "updated_at",
        "sent_at",
        "read_at",
    )
    readonly_fields = fields

    @admin.display(description=_("接收手机号"))
    def masked_phone(self, obj: Notification) -> str:
        return obj.masked_phone

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_retry_permission(self, request) -> bool:
        # Retrying changes a row, so it needs the model's change permission even though the form edits nothing.
        return request.user.has_perm("notifications.change_notification")

    @admin.action(description=_("重新发送所选的发送失败通知"), permissions=["retry"])
    def retry_failed(self, request, queryset):
        retried = sum(
            services.notification_retry(notification_id=pk)
            for pk in queryset.filter(status=Notification.Status.FAILED).values_list("pk", flat=True)
        )
        skipped = queryset.count() - retried
        if retried:
            self.message_user(
                request,
                ngettext("已将 %(count)d 条通知重新加入发送队列。", "已将 %(count)d 条通知重新加入发送队列。", retried)
                % {"count": retried},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d 条通知不是发送失败状态，未重新发送。",
                    "%(count)d 条通知不是发送失败状态，未重新发送。",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )

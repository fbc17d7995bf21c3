from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .kinds import KINDS
from .models import Notification, NotificationPreference


class KindFilter(admin.SimpleListFilter):
    """Kinds come from the registry (notifications.kinds), not from field choices."""

    title = _("类别")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [*((key, kind.label) for key, kind in KINDS.items()), ("-", _("未分类"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "-":
            return queryset.filter(kind="")
        if value in KINDS:
            return queryset.filter(kind=value)
        return queryset


def kind_label(key: str) -> str:
    kind = KINDS.get(key)
    return str(kind.label) if kind else (key or "—")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The outbox is a log: nothing is added, edited or deleted here; a failed message can be sent again."""

    list_display = (
        "id",
        "channel",
        "kind_display",
        "template",
        "recipient_user",
        "masked_phone",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "sent_at",
    )
    list_filter = ("status", "channel", KindFilter, "template")
    search_fields = ("dedupe_key", "recipient_user__username")
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
        "kind_display",
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

    @admin.display(description=_("类别"), ordering="kind")
    def kind_display(self, obj: Notification) -> str:
        return kind_label(obj.kind)

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


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    """People choose their own channels at /me/notifications/preferences/; the admin only shows the choices."""

    list_display = ("user", "kind_display", "email", "sms", "updated_at")
    list_filter = ("kind", "email", "sms")
    search_fields = ("user__username",)
    list_select_related = ("user",)
    fields = ("user", "kind_display", "email", "sms", "updated_at")
    readonly_fields = fields

    @admin.display(description=_("类别"), ordering="kind")
    def kind_display(self, obj: NotificationPreference) -> str:
        return kind_label(obj.kind)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

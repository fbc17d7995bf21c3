from django.contrib import admin, messages
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .kinds import KINDS
from .models import Notification, NotificationPreference
from .rendering import has_templates, render_message

# The templates that are SMS only, so have no subject to show as their title in the outbox.
SMS_TITLES = {
    "demands_submitted": _("微心愿已提交（查询码）"),
    "demands_published": _("微心愿已发布到心愿墙"),
    "demands_rejected": _("微心愿不予受理"),
    "demands_claimed": _("微心愿已被认领"),
    "demands_fulfilled": _("微心愿已实现，请居民确认并评价"),
    "demands_feedback_reminder": _("提醒居民确认并评价"),
    "members_invitation": _("邀请党员设置密码"),
}


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


def _rendered(notification: Notification):
    try:
        return render_message(notification)
    except (TemplateDoesNotExist, TemplateSyntaxError, ValueError):  # a template removed since the row was written
        return None


def message_title(notification: Notification) -> str:
    """What the message is about, as a person reads it: the subject it was sent with (an in-app message's or an
    email's), the SMS template's title, or the template's key when neither exists."""
    if notification.template in SMS_TITLES:
        return str(SMS_TITLES[notification.template])
    if has_templates(template=notification.template, channel=Notification.Channel.EMAIL):
        copy = Notification(
            template=notification.template,
            context=notification.context,
            language=notification.language,
            channel=Notification.Channel.EMAIL,
        )
        rendered = _rendered(copy)
        if rendered is not None and rendered.subject:
            return rendered.subject
    return notification.template


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The outbox is a log: nothing is added, edited or deleted here; a failed message can be sent again."""

    list_display = (
        "id",
        "channel",
        "kind_display",
        "title_display",
        "recipient_user",
        "masked_phone",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "sent_at",
        "delivery",
    )
    list_filter = ("status", "channel", "delivery", KindFilter)
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
        "title_display",
        "text_display",
        "template",
        "language",
        "dedupe_key",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "created_at",
        "updated_at",
        "sent_at",
        "provider_message_id",
        "delivery",
        "delivered_at",
        "delivery_error",
        "read_at",
    )
    readonly_fields = fields

    @admin.display(description=_("类别"), ordering="kind")
    def kind_display(self, obj: Notification) -> str:
        return kind_label(obj.kind)

    @admin.display(description=_("消息"), ordering="template")
    def title_display(self, obj: Notification) -> str:
        return message_title(obj)

    @admin.display(description=_("内容"))
    def text_display(self, obj: Notification) -> str:
        """The text as the person got it (the SMS, or the subject and body), not the template's data as JSON."""
        rendered = _rendered(obj)
        if rendered is None:
            return "—"
        return "\n\n".join(part for part in (rendered.subject, rendered.body) if part)

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

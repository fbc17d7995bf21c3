"""The secretaries' admin for 通知公告, 活动风采 and broadcasts.

Add = write a draft (news_create); change = the author edits their draft (news_update); the actions move an item
through its states (submit, approve, return, withdraw), each through its service, all or nothing. Scoping reuses
`members.admin.ScopedAdminMixin` with this app's selectors: a secretary sees the items of their subtree, an item out
of scope answers 404. Broadcasts are sent from /dashboard/messages/new/ (the count is confirmed first); here they
are read, and queued again when their fan-out could not be queued.
"""

from collections.abc import Callable

from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from members.admin import ScopedAdminMixin

from . import selectors, services, tasks
from .forms import NewsAdminForm
from .models import Broadcast, News


def _refusing(operation: Callable) -> Callable:
    """A service's PermissionDenied becomes a ValidationError, which `run_bulk` lists by name."""

    def call(*args):
        try:
            return operation(*args)
        except PermissionDenied as exc:
            raise ValidationError(str(exc)) from exc

    return call


def _adopt(target, created) -> None:
    """Make the admin's unsaved form instance stand for the row a service wrote."""
    for field in created._meta.concrete_fields:
        setattr(target, field.attname, getattr(created, field.attname))
    target._state.adding = False
    target._state.db = created._state.db


@admin.register(News)
class NewsAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope = staticmethod(selectors.visible_news)
    form = NewsAdminForm
    list_display = ("title", "kind", "organization", "audience", "status", "author", "approved_by", "published_at")
    list_select_related = ("organization", "author", "approved_by")
    list_filter = ("status", "kind", "audience")
    search_fields = ("title",)
    fields = ("kind", "organization", "audience", "title", "body", "photo", "photo_caption")
    readonly_after = (
        "status",
        "author",
        "submitted_at",
        "returned_note",
        "approved_by",
        "published_at",
        "withdrawn_at",
        "withdrawn_note",
        "public_link",
    )
    actions = ("submit_selected", "approve_selected", "return_selected", "withdraw_selected")

    @admin.display(description=_("查看"))
    def public_link(self, obj):
        if obj.status != News.Status.PUBLISHED:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("news:detail", args=[obj.pk]), _("打开页面"))

    def get_fields(self, request, obj=None):
        return self.fields if obj is None else (*self.fields, *self.readonly_after)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if self._editable(request, obj):
            return self.readonly_after
        return (*self.fields, *self.readonly_after)

    @staticmethod
    def _editable(request, obj) -> bool:
        return obj.status == News.Status.DRAFT and obj.author_id == request.user.pk

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status != News.Status.DRAFT:
            return False  # what was submitted or published stays on record (withdraw instead)
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        content = {
            "kind": data["kind"],
            "audience": data["audience"],
            "title": data["title"],
            "body": data["body"],
            "photo_caption": data.get("photo_caption", ""),
        }
        photo = data.get("photo")
        new_photo = photo if isinstance(photo, UploadedFile) else None
        if not change:
            created = services.news_create(
                actor=request.user, organization=data["organization"], photo=new_photo, **content
            )
        else:
            created = services.news_update(
                news=obj, actor=request.user, photo=new_photo, remove_photo=photo is False, **content
            )
        _adopt(obj, created)

    def save_form(self, request, form, change):
        # The services write the row; the form's own save would store the upload as it came.
        return form.instance

    def save_related(self, request, form, formsets, change):
        pass  # no many-to-many fields, no inlines: the service wrote everything

    @admin.action(description=_("提交审核"))
    def submit_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset,
            _refusing(lambda n: services.news_submit(news=n, actor=request.user)),
            _("已提交 %(count)d 篇稿件，等待另一位书记审核。"),
        )

    @admin.action(description=_("审核通过并发布"))
    def approve_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset,
            _refusing(lambda n: services.news_approve(news=n, actor=request.user)),
            _("已发布 %(count)d 篇稿件。"),
        )

    @admin.action(description=_("退回修改"))
    def return_selected(self, request, queryset):
        return self.run_bulk_with_reason(
            request,
            queryset,
            _refusing(lambda n, note: services.news_return(news=n, actor=request.user, note=note)),
            _("已退回 %(count)d 篇稿件。"),
            title=_("退回修改"),
            action="return_selected",
        )

    @admin.action(description=_("撤回已发布的稿件"))
    def withdraw_selected(self, request, queryset):
        return self.run_bulk_with_reason(
            request,
            queryset,
            _refusing(lambda n, note: services.news_withdraw(news=n, actor=request.user, note=note)),
            _("已撤回 %(count)d 篇稿件。"),
            title=_("撤回已发布的稿件"),
            action="withdraw_selected",
        )


@admin.register(Broadcast)
class BroadcastAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Read-only: a broadcast is sent from its page (the admin's add button leads there), which shows the count of
    recipients before sending."""

    scope = staticmethod(selectors.visible_broadcasts)
    list_display = ("subject", "organization", "recipient_count", "sender", "created_at", "planned_at")
    list_select_related = ("organization", "sender")
    search_fields = ("subject",)
    fields = ("organization", "subject", "body", "recipient_count", "sender", "created_at", "planned_at")
    readonly_fields = fields
    actions = ("replan_selected",)

    def add_view(self, request, form_url="", extra_context=None):
        # "增加群发消息" leads to the page that shows the count of recipients before sending.
        return HttpResponseRedirect(reverse("news:broadcast_new"))

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("重新排队发送（已发送的不会重复）"), permissions=["view"])
    def replan_selected(self, request, queryset):
        for broadcast in queryset:
            tasks.plan_broadcast.delay(broadcast.pk)
        self.message_user(request, _("已重新排队，已经发出的消息不会重复发送。"))

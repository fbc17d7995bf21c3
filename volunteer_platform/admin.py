"""Admin for plans and tasks (年度规划 / 任务分工), scoped like the members admin: a secretary sees and edits the plans
of their subtree and the tasks assigned into it; status changes and progress notes go through `services`."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from members.admin import ScopedAdminMixin, ScopedInlineMixin

from . import selectors, services
from .models import JobFailure, Plan, PlanTarget, Task, TaskProgressNote

# django-otp registers its devices in the admin, where their secret keys could be read and devices made for anyone.
# An account sets up its own second factor (/accounts/2fa/setup/); a lost one is reset by `manage.py
# second_factor_reset` (docs/security.md).
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class PlanTargetInline(ScopedInlineMixin, admin.TabularInline):
    model = PlanTarget
    extra = 0
    fields = ("metric", "value")


class TaskInline(ScopedInlineMixin, admin.TabularInline):
    model = Task
    extra = 0
    fields = ("title", "assignee_organization", "assignee_member", "due_on", "status")
    readonly_fields = ("status",)
    raw_id_fields = ("assignee_member",)
    show_change_link = True


@admin.register(Plan)
class PlanAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope = staticmethod(selectors.visible_plans)
    list_display = ("title", "organization", "year")
    list_select_related = ("organization",)
    list_filter = ("year",)
    search_fields = ("title", "organization__name")
    fields = ("organization", "year", "title", "summary")
    inlines = (PlanTargetInline, TaskInline)


class TaskProgressNoteInline(ScopedInlineMixin, admin.TabularInline):
    """Notes are history: shown, never edited here (new ones come from the plan page or the actions)."""

    model = TaskProgressNote
    extra = 0
    fields = ("created_at", "author", "status_after", "text")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OverdueFilter(admin.SimpleListFilter):
    """已逾期: the open tasks past their due date (selectors.tasks_overdue), which the 工作台 counts and links here."""

    title = _("完成时限")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return (("yes", _("已逾期")),)

    def queryset(self, request, queryset):
        return selectors.tasks_overdue(queryset) if self.value() == "yes" else queryset


@admin.register(Task)
class TaskAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope = staticmethod(selectors.visible_tasks)
    list_display = ("title", "plan", "assignee_organization", "assignee_member", "due_on", "status")
    list_select_related = ("plan__organization", "assignee_organization", "assignee_member")
    list_filter = (OverdueFilter, "status", "plan__year")
    search_fields = ("title", "plan__title")
    date_hierarchy = "due_on"
    fields = ("plan", "title", "description", "assignee_organization", "assignee_member", "due_on", "status")
    readonly_fields = ("status",)
    raw_id_fields = ("assignee_member",)
    inlines = (TaskProgressNoteInline,)
    actions = ("mark_in_progress", "mark_done", "mark_cancelled")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "plan":
            kwargs["queryset"] = selectors.visible_plans(request.user).select_related("organization")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _change(self, request, queryset, status: str) -> None:
        done, failures = 0, []
        for task in queryset:
            try:
                services.task_status_change(task=task, actor=request.user, status=status)
                done += 1
            except ValidationError as exc:
                failures.append(f"{task}：{'；'.join(exc.messages)}")
        if done:
            self.message_user(request, _("已更新 %(n)d 项任务。") % {"n": done}, messages.SUCCESS)
        if failures:
            self.message_user(request, "；".join(failures), messages.WARNING)

    @admin.action(description=_("标记为进行中"))
    def mark_in_progress(self, request, queryset):
        self._change(request, queryset, Task.Status.IN_PROGRESS)

    @admin.action(description=_("标记为已完成"))
    def mark_done(self, request, queryset):
        self._change(request, queryset, Task.Status.DONE)

    @admin.action(description=_("标记为已取消"))
    def mark_cancelled(self, request, queryset):
        self._change(request, queryset, Task.Status.CANCELLED)


@admin.register(JobFailure)
class JobFailureAdmin(admin.ModelAdmin):
    """Failed Celery tasks, for the platform admin: read-only (the worker writes them); search by task id or by the
    request id of the page that enqueued the task, to find its log lines."""

    list_display = ("failed_at", "task_name", "exception_type", "request_id", "hostname")
    list_filter = ("task_name", "exception_type")
    search_fields = ("=task_id", "=request_id", "task_name")
    date_hierarchy = "failed_at"
    readonly_fields = [f.name for f in JobFailure._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

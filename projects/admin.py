"""The secretaries' admin for projects, activities (with their sign-ups), posts and the self-report queue.

Scoped as the members admin (`members.admin.ScopedAdminMixin`): a secretary sees the projects of their subtree and
everything under them; out of scope is 404. Every write calls a service; sign-ups change only through the pages
(sign-up, cancel, check-in, the attendance sheet), so they are read-only here.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from members.admin import ScopedAdminMixin, ScopedInlineMixin, _adopt, is_scoped_staff

from . import selectors, services
from .forms import ActivityAdminForm, PostInlineForm, ServiceProjectAdminForm
from .models import Activity, Post, PostClaim, ProjectCategory, SelfReport, ServiceProject, SignUp


@admin.register(ProjectCategory)
class ProjectCategoryAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """A shared catalogue: every secretary reads it, platform admins edit it."""

    list_display = ("name", "name_en", "position", "active")
    list_editable = ("position", "active")
    search_fields = ("name",)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser


class PostInline(ScopedInlineMixin, admin.TabularInline):
    model = Post
    form = PostInlineForm
    extra = 0
    fields = ("title", "weekday", "start_time", "minutes", "places", "description", "active")

    def has_delete_permission(self, request, obj=None):
        return False  # a post with claims is left by its claimers, not deleted; set it inactive instead


@admin.register(ServiceProject)
class ServiceProjectAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope = staticmethod(selectors.visible_projects)
    form = ServiceProjectAdminForm
    list_display = ("title", "brand_name", "category", "service_mode", "organization", "status", "recurrence")
    list_select_related = ("category", "organization")
    list_filter = ("status", "service_mode", "category", ("organization", admin.RelatedOnlyFieldListFilter))
    search_fields = ("title", "brand_name", "=slug")
    autocomplete_fields = ("skills_wanted",)
    inlines = (PostInline,)
    actions = ("generate_activities",)
    fieldsets = (
        (None, {"fields": ("title", "slug", "brand_name", "slogan", "logo", "status")}),
        (
            _("服务"),
            {
                "fields": (
                    "category",
                    "service_mode",
                    "target_groups",
                    "organization",
                    "community",
                    "grid",
                    "place",
                    "description",
                    "skills_wanted",
                    "course_required",
                )
            },
        ),
        (
            _("定期活动"),
            {
                "fields": (
                    "recurrence",
                    "recurrence_weekday",
                    "recurrence_week",
                    "recurrence_time",
                    "recurrence_minutes",
                    "recurrence_capacity",
                ),
                "description": _("每周或每月重复的项目会自动生成未来8周的活动。"),
            },
        ),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*self.list_select_related)

    def view_on_site(self, obj):
        return f"/projects/{obj.slug}/"

    def save_model(self, request, obj, form, change):
        _adopt(obj, services.project_save(project=obj, actor=request.user, skills_wanted=None))

    def save_formset(self, request, form, formset, change):
        for post in formset.save(commit=False):
            services.post_save(post=post)
        formset.save_m2m()

    def has_generate_permission(self, request):
        return is_scoped_staff(request)

    @admin.action(description=_("生成未来8周的活动"), permissions=["generate"])
    def generate_activities(self, request, queryset):
        total = sum(len(services.activities_generate(project=p)) for p in queryset)
        self.message_user(request, _("已生成 %(n)d 场活动。") % {"n": total}, messages.SUCCESS)


class SignUpInline(ScopedInlineMixin, admin.TabularInline):
    """Who signed up; read-only (the pages and the attendance sheet change sign-ups)."""

    model = SignUp
    extra = 0
    fields = (
        "member",
        "team",
        "status",
        "waitlist_position",
        "checked_in_at",
        "checkin_position",
        "checked_out_at",
        "hours",
        "created_at",
    )
    readonly_fields = fields
    ordering = ("status", "waitlist_position", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("member", "team")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AttendanceDueFilter(admin.SimpleListFilter):
    """待确认考勤: the activities the 工作台 counts (selectors.attendance_due), so its link shows those rows."""

    title = _("考勤")
    parameter_name = "attendance"

    def lookups(self, request, model_admin):
        return (("due", _("待确认考勤")),)

    def queryset(self, request, queryset):
        return selectors.attendance_due(queryset) if self.value() == "due" else queryset


@admin.register(Activity)
class ActivityAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope = staticmethod(selectors.visible_activities)
    form = ActivityAdminForm
    list_display = ("__str__", "project", "starts_at", "capacity", "seats", "phase", "links")
    list_select_related = ("project",)
    list_filter = (AttendanceDueFilter, "status", ("project", admin.RelatedOnlyFieldListFilter))
    search_fields = ("title", "project__title", "project__brand_name")
    date_hierarchy = "starts_at"
    inlines = (SignUpInline,)
    actions = ("cancel_selected",)
    autocomplete_fields = ("leader",)
    change_form_template = "admin/projects/activity/change_form.html"  # adds the "new check-in code" button

    def get_queryset(self, request):
        return selectors.with_counts(super().get_queryset(request).select_related("project"))

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("project", "checkin_code", "phase", "status")

    def get_fields(self, request, obj=None):
        fields = list(ActivityAdminForm._meta.fields)
        return fields if obj is None else [*fields, "checkin_code", "phase", "status"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "project":
            kwargs["queryset"] = selectors.visible_projects(request.user).exclude(status="closed")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("已报名/候补"))
    def seats(self, obj):
        return f"{obj.confirmed_count} / {obj.waitlisted_count}"

    @admin.display(description=_("当前状态"))
    def phase(self, obj):
        """What members see now (Activity.phase), not the stored status; the counts come from get_queryset."""
        return obj.phase(timezone.now()).label

    @admin.display(description=_("页面"))
    def links(self, obj):
        return format_html(
            '<a href="/activities/{}/">{}</a> · <a href="/activities/{}/attendance/">{}</a>',
            obj.pk,
            _("活动页"),
            obj.pk,
            _("考勤"),
        )

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        common = {
            "starts_at": data["starts_at"],
            "ends_at": data["ends_at"],
            "capacity": data["capacity"],
            "place": data.get("place") or "",
            "title": data.get("title") or "",
            "signup_opens_at": data["signup_opens_at"],
            "signup_closes_at": data["signup_closes_at"],
            "cancel_cutoff_at": data["cancel_cutoff_at"],
            "leader": data.get("leader"),
            "latitude": data.get("latitude"),
            "longitude": data.get("longitude"),
            "checkin_radius_m": data.get("checkin_radius_m"),
            "signout_required": bool(data.get("signout_required")),
        }
        if change:
            common["place"] = common["place"] or obj.project.place
            _adopt(obj, services.activity_update(activity=obj, **common))
        else:
            _adopt(obj, services.activity_create(project=data["project"], **common))

    def get_urls(self):
        return [
            path(
                "<path:object_id>/new-code/",
                self.admin_site.admin_view(self.new_code_view),
                name="projects_activity_new_code",
            ),
            *super().get_urls(),
        ]

    def new_code_view(self, request, object_id):
        """POST: give the activity a new check-in code, for when the old one leaked; the old one stops working."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        activity = self.get_object(request, unquote(object_id))  # 404 when missing or out of scope
        if not self.has_change_permission(request, activity):
            raise PermissionDenied
        activity = services.activity_new_code(activity=activity)
        # The admin's log row, like a save on this page: the audit trail copies it (audit.middleware).
        label = str(Activity._meta.get_field("checkin_code").verbose_name)
        self.log_change(request, activity, [{"changed": {"fields": [label]}}])
        self.message_user(request, _("已更换签到码，原签到码和之前的二维码不能再用于签到。"), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:projects_activity_change", args=[activity.pk]))

    def has_cancel_permission(self, request):
        return is_scoped_staff(request)

    @admin.action(description=_("取消所选活动（通知已报名的党员）"), permissions=["cancel"])
    def cancel_selected(self, request, queryset):
        return self.run_bulk_with_reason(
            request,
            queryset.select_related("project"),
            lambda a, reason: services.activity_cancel(activity=a, actor=request.user, reason=reason),
            _("已取消 %(count)d 场活动。"),
            title=_("取消所选活动"),
            action="cancel_selected",
        )


@admin.register(PostClaim)
class PostClaimAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Read-only: members claim, skip and leave on their own pages."""

    scope = staticmethod(selectors.visible_post_claims)
    list_display = ("member", "post", "status", "claimed_at", "left_at")
    list_select_related = ("member", "post__project")
    list_filter = ("status",)
    search_fields = ("member__name", "=member__volunteer_number", "post__title")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*self.list_select_related)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SelfReport)
class SelfReportAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """The approval queue of self-reports (自主申报): approve or reject with a reason."""

    scope = staticmethod(selectors.visible_self_reports)
    list_display = ("member", "started_at", "hours", "project", "organization", "status", "reviewed_by")
    list_select_related = ("member", "project", "organization", "reviewed_by")
    list_filter = ("status", ("organization", admin.RelatedOnlyFieldListFilter))
    search_fields = ("member__name", "=member__volunteer_number", "content")
    actions = ("approve_selected", "reject_selected")
    readonly_fields = (
        "member",
        "organization",
        "project",
        "started_at",
        "ended_at",
        "place",
        "content",
        "hours",
        "status",
        "reviewed_by",
        "reviewed_at",
        "review_note",
        "record",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*self.list_select_related)

    def has_add_permission(self, request):
        return False  # members report on /me/activities/report/

    def has_change_permission(self, request, obj=None):
        return False

    def has_review_permission(self, request):
        return is_scoped_staff(request)

    @admin.action(description=_("通过所选申报（确认时长并发放积分）"), permissions=["review"])
    def approve_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset.select_related("member"),
            lambda r: services.self_report_approve(report=r, actor=request.user),
            _("已通过 %(count)d 条申报。"),
        )

    @admin.action(description=_("不通过所选申报"), permissions=["review"])
    def reject_selected(self, request, queryset):
        return self.run_bulk_with_reason(
            request,
            queryset.select_related("member"),
            lambda r, reason: services.self_report_reject(report=r, actor=request.user, reason=reason),
            _("%(count)d 条申报未通过。"),
            title=_("不通过所选申报"),
            action="reject_selected",
        )

"""The secretaries' admin for training, scoped like the members admin (`members.admin.ScopedAdminMixin`).

A secretary sees the sessions organised in their subtree, the records and requirements of their subtree, and the
courses open to it (platform-wide and those of organizations above are read-only to them). Every write calls a
`training.services` function; the forms check the same rules first, so a broken rule is a message, not an error.
Attendance is taken on the attendance sheet (`training:attendance`), linked from each session.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.forms import GuardedModelForm, add_service_errors
from members.admin import ScopedAdminMixin, ScopedInlineMixin, _adopt, is_scoped_staff

from . import selectors, services
from .models import AnnualRequirement, Course, CourseMaterial, Enrollment, TrainingRecord, TrainingSession
from .validators import check_session


def _course_editable(request, course) -> bool:
    return (
        course is None
        or request.user.is_superuser
        or selectors.editable_courses(request.user).filter(pk=course.pk).exists()
    )


class CourseMaterialInline(ScopedInlineMixin, admin.TabularInline):
    """Files are downloaded through /training/materials/<id>/ (never from MEDIA_URL)."""

    model = CourseMaterial
    extra = 0
    fields = ("title", "file", "url")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and _course_editable(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and _course_editable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and _course_editable(request, obj)


@admin.register(Course)
class CourseAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope = staticmethod(selectors.visible_courses)
    list_display = ("title", "type", "hours", "validity_months", "organization", "active")
    list_select_related = ("organization",)
    list_filter = ("type", "active", ("organization", admin.RelatedOnlyFieldListFilter))
    search_fields = ("title",)
    fields = ("type", "title", "hours", "description", "validity_months", "organization", "active")
    inlines = (CourseMaterialInline,)

    def has_change_permission(self, request, obj=None):
        """Platform-wide courses and those of organizations above are read-only to a secretary."""
        return super().has_change_permission(request, obj) and _course_editable(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if "organization" in form.base_fields and not request.user.is_superuser:
            form.base_fields["organization"].required = True  # only platform admins offer platform-wide courses
        return form

    def save_model(self, request, obj, form, change):
        services.course_save(course=obj, actor=request.user)

    def save_formset(self, request, form, formset, change):
        for material in formset.save(commit=False):
            services.course_material_save(material=material, actor=request.user)
        for material in formset.deleted_objects:
            material.delete()


class EnrollmentInline(ScopedInlineMixin, admin.TabularInline):
    """Who holds a seat; read-only (members enroll on /training/, attendance is the attendance sheet)."""

    model = Enrollment
    extra = 0
    fields = ("member", "status", "created_at", "cancelled_at", "marked_at")
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("member")

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SessionAdminForm(GuardedModelForm):
    online_url = forms.URLField(label=_("线上链接"), max_length=200, required=False, assume_scheme="https")

    class Meta:
        model = TrainingSession
        fields = ["course", "organizer", "starts_at", "ends_at", "place", "online_url", "capacity"]

    def clean(self):
        data = super().clean()
        course = data.get("course") or getattr(self.instance, "course", None)
        organizer = data.get("organizer") or getattr(self.instance, "organizer", None)
        needed = (course, organizer, data.get("starts_at"), data.get("ends_at"), data.get("capacity"))
        if any(value is None for value in needed):
            return data
        try:
            check_session(
                course=course,
                organizer=organizer,
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                place=data.get("place", ""),
                online_url=data.get("online_url", ""),
                capacity=data["capacity"],
            )
            if self.instance.pk:
                if self.instance.status != TrainingSession.Status.SCHEDULED:
                    raise ValidationError(_("只能修改已安排的场次。"))
                taken = self.instance.enrollments.filter(status__in=Enrollment.ACTIVE_STATUSES).count()
                if data["capacity"] < taken:
                    raise ValidationError(
                        {"capacity": _("已有 %(taken)d 人报名，名额不能少于报名人数。") % {"taken": taken}}
                    )
        except ValidationError as exc:
            add_service_errors(self, exc)
        return data


@admin.register(TrainingSession)
class TrainingSessionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope = staticmethod(selectors.visible_sessions)
    form = SessionAdminForm
    list_display = ("course", "starts_at", "organizer", "capacity", "taken", "status", "attendance_link")
    list_select_related = ("course", "organizer")
    list_filter = ("status", "course__type", ("organizer", admin.RelatedOnlyFieldListFilter))
    search_fields = ("course__title", "place")
    date_hierarchy = "starts_at"
    inlines = (EnrollmentInline,)
    actions = ("cancel_selected",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(taken=Count("enrollments", filter=Q(enrollments__status__in=Enrollment.ACTIVE_STATUSES)))
        )

    def get_fields(self, request, obj=None):
        fields = ["course", "organizer", "starts_at", "ends_at", "place", "online_url", "capacity"]
        if obj is not None:
            fields += ["status", "cancel_reason", "created_by"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        readonly = ["course", "organizer", "status", "cancel_reason", "created_by"]
        if obj.status != TrainingSession.Status.SCHEDULED:
            readonly += ["starts_at", "ends_at", "place", "online_url", "capacity"]
        return readonly

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "course":
            kwargs["queryset"] = selectors.visible_courses(request.user).filter(active=True).order_by("type", "title")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("报名人数"), ordering="taken")
    def taken(self, obj):
        return obj.taken

    @admin.display(description=_("考勤"))
    def attendance_link(self, obj):
        if obj.status == TrainingSession.Status.CANCELLED:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("training:attendance", args=[obj.pk]), _("考勤"))

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        times = {
            "starts_at": data["starts_at"],
            "ends_at": data["ends_at"],
            "capacity": data["capacity"],
            "place": data.get("place", ""),
            "online_url": data.get("online_url", ""),
        }
        if change:
            _adopt(obj, services.session_update(session=obj, actor=request.user, **times))
        else:
            _adopt(
                obj,
                services.session_schedule(
                    course=data["course"], organizer=data["organizer"], actor=request.user, **times
                ),
            )

    def has_cancel_permission(self, request):
        return is_scoped_staff(request)

    @admin.action(description=_("取消所选场次并通知已报名党员"), permissions=["cancel"])
    def cancel_selected(self, request, queryset):
        return self.run_bulk_with_reason(
            request,
            queryset,
            lambda s, reason: services.session_cancel(session=s, actor=request.user, reason=reason),
            _("已取消 %(count)d 个场次。"),
            title=_("取消所选场次并通知已报名党员"),
            action="cancel_selected",
        )


@admin.register(TrainingRecord)
class TrainingRecordAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Read-only: records come from attendance sheets and the external training form (/training/records/new/)."""

    scope = staticmethod(selectors.visible_training_records)
    list_display = ("member", "course", "hours", "completed_on", "expires_on", "session", "recorded_by")
    list_select_related = ("member", "course", "session__course", "recorded_by")
    list_filter = ("course__type", ("course", admin.RelatedOnlyFieldListFilter))
    search_fields = ("member__name", "=member__volunteer_number", "course__title")
    date_hierarchy = "completed_on"
    fields = (
        "member",
        "course",
        "session",
        "hours",
        "score",
        "completed_on",
        "expires_on",
        "provider",
        "evidence_link",
        "note",
        "recorded_by",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description=_("证明材料"))
    def evidence_link(self, obj):
        if not obj.evidence:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("training:evidence_download", args=[obj.pk]), _("下载"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RequirementAdminForm(GuardedModelForm):
    class Meta:
        model = AnnualRequirement
        fields = [
            "organization",
            "year",
            "total_hours",
            "theory_hours",
            "post_hours",
            "business_hours",
            "practical_hours",
        ]


@admin.register(AnnualRequirement)
class AnnualRequirementAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope = staticmethod(selectors.visible_requirements)
    scoped_delete = True
    form = RequirementAdminForm
    list_display = (
        "organization",
        "year",
        "total_hours",
        "theory_hours",
        "post_hours",
        "business_hours",
        "practical_hours",
    )
    list_select_related = ("organization",)
    list_filter = ("year",)
    search_fields = ("organization__name",)

    def get_readonly_fields(self, request, obj=None):
        return ("organization", "year") if obj is not None else ()

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        _adopt(
            obj,
            services.requirement_set(
                organization=obj.organization if change else data["organization"],
                year=obj.year if change else data["year"],
                total_hours=data["total_hours"],
                theory_hours=data["theory_hours"],
                post_hours=data["post_hours"],
                business_hours=data["business_hours"],
                practical_hours=data["practical_hours"],
                actor=request.user,
            ),
        )

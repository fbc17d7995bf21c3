"""The secretaries' admin for the members app.

Access: a platform admin (superuser) sees everything. A secretary or 组织管理员 is a staff user without Django
model permissions: `ScopedAdminMixin` grants the admin to anyone who manages an organization
(`selectors.managed_organizations`) and limits every row, every choice and every object permission to their scope
through `members.selectors`. No permission Group has to be kept in step with the organization tree. An object out
of scope answers 404 (DESIGN.md): Django's "doesn't exist, perhaps it was deleted?" redirect would tell that the id
exists elsewhere.

Every write calls a service (`members.services`); the forms (`members.forms`) show the services' rules before saving.
Other apps' admins reuse `ScopedAdminMixin` with their own selector.
"""

import csv
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import FileResponse, Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import XLSX
from import_export.forms import ImportForm, SelectableFieldsExportForm
from import_export.results import RowResult
from simple_history.admin import SimpleHistoryAdmin

from audit.mixins import FullDataViewAuditMixin
from audit.models import AuditEvent
from audit.services import audit_record
from core.crypto import blind_index
from core.exports import attachment
from core.forms import GuardedModelForm, TextGuardMixin, choice_placeholder
from core.times import DATE, format_local
from core.widgets import SafeAutocompleteSelect, SafeAutocompleteSelectMultiple

from . import national, selectors, services
from .forms import (
    CorrectionAdminForm,
    DeactivateActionForm,
    ExternalImportForm,
    MemberAdminForm,
    NationalExportForm,
    OrganizationAdminForm,
    ReasonActionForm,
    ServiceRecordAdminForm,
    TeamAdminForm,
    TransferActionForm,
)
from .identifiers import looks_like_id_number, looks_like_mobile, normalize_id_number, normalize_mobile
from .models import (
    Community,
    DeletionRequest,
    Grid,
    Member,
    NationalExportBatch,
    Organization,
    ResidenceRegistration,
    ServiceRecord,
    ServiceRecordCorrection,
    Tag,
    Team,
    Transfer,
    WeChatBinding,
)
from .resources import MemberResource, RosterCSV, RosterXLSX
from .services import national as national_services

User = get_user_model()

# Which selector scopes the choices of a foreign key or many-to-many field pointing at each model.
CHOICE_SCOPES: dict[type, Callable[..., QuerySet]] = {
    Organization: selectors.visible_organizations,
    Community: selectors.visible_communities,
    Grid: selectors.visible_grids,
    Member: selectors.visible_members,
    Team: selectors.visible_teams,
    ServiceRecord: selectors.visible_service_records,
    User: selectors.visible_users,
}


def _request_cache(request) -> dict:
    """Per-request memo: the admin asks "may this user…?" many times while drawing one page."""
    return request.__dict__.setdefault("_members_admin_cache", {})


def is_scoped_staff(request) -> bool:
    """A platform admin, or an active staff user who manages at least one organization."""
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return True
    cache = _request_cache(request)
    if "is_org_admin" not in cache:
        cache["is_org_admin"] = selectors.is_organization_admin(user)
    return cache["is_org_admin"]


if TYPE_CHECKING:  # the mixins below are only ever mixed into these
    _AdminBase = admin.ModelAdmin
else:
    _AdminBase = object


class ScopedChoicesMixin:
    """Foreign-key and many-to-many choices limited to the user's scope (`CHOICE_SCOPES`)."""

    # Fields whose choices stay unscoped (e.g. the community a member registers at may be anywhere).
    unscoped_choice_fields: tuple[str, ...] = ()

    def _scoped_choices(self, db_field, request, kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            # Django's widget looked a posted non-id up as it was to draw the refused form again (a 500).
            widget = SafeAutocompleteSelectMultiple if db_field.many_to_many else SafeAutocompleteSelect
            kwargs["widget"] = widget(db_field, self.admin_site, using=kwargs.get("using"))
        selector = CHOICE_SCOPES.get(db_field.related_model)
        if selector is None or "queryset" in kwargs or db_field.name in self.unscoped_choice_fields:
            return kwargs
        base = self.get_field_queryset(kwargs.get("using"), db_field, request)
        kwargs["queryset"] = selector(request.user, queryset=base)
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(db_field, request, **self._scoped_choices(db_field, request, kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return super().formfield_for_manytomany(db_field, request, **self._scoped_choices(db_field, request, kwargs))


class ScopedAdminMixin(ScopedChoicesMixin, _AdminBase):
    """Rows, choices and permissions from `members.selectors`; out-of-scope objects answer 404.

    `scope` is the selector of the model's own rows (None: a shared catalogue every scoped user sees).
    Deleting is for platform admins unless `scoped_delete` is set: removing records bypasses the services.
    """

    scope: Callable[..., QuerySet] | None = None
    scoped_delete = False
    form: Any = GuardedModelForm  # text fields refuse control characters (core/forms.py); custom forms inherit it too

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if self.scope is None else self.scope(request.user, queryset=qs)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:  # missing and out of scope look the same, on purpose
            raise Http404(_("找不到该记录。"))
        return obj

    def in_scope(self, request, obj) -> bool:
        if obj is None or self.scope is None or request.user.is_superuser:
            return True
        cache = _request_cache(request)
        key = (type(obj), obj.pk)
        if key not in cache:
            cache[key] = self.scope(request.user).filter(pk=obj.pk).exists()
        return cache[key]

    def has_module_permission(self, request):
        return is_scoped_staff(request)

    def has_view_permission(self, request, obj=None):
        return is_scoped_staff(request) and self.in_scope(request, obj)

    def has_add_permission(self, request):
        return is_scoped_staff(request)

    def has_change_permission(self, request, obj=None):
        return is_scoped_staff(request) and self.in_scope(request, obj)

    def has_delete_permission(self, request, obj=None):
        if not is_scoped_staff(request) or not self.in_scope(request, obj):
            return False
        return self.scoped_delete or request.user.is_superuser

    # Bulk actions: all or nothing, each row through a service, failures listed by name.
    def run_bulk(self, request, queryset, operation: Callable, done: str, **params) -> None:
        failures = []
        count = 0
        with transaction.atomic():
            for obj in queryset:
                try:
                    operation(obj)
                    count += 1
                except ValidationError as exc:
                    failures.append(f"{obj}：{'；'.join(exc.messages)}")
            if failures:
                transaction.set_rollback(True)
        if failures:
            self.message_user(request, _("没有做任何更改：") + "；".join(failures), messages.ERROR)
        else:
            self.message_user(request, done % {"count": count, **params}, messages.SUCCESS)

    def run_bulk_with_reason(self, request, queryset, operation: Callable, done: str, *, title: str, action: str):
        """An action that needs a reason (cancel, reject, void): its intermediate page until a valid reason is
        posted, then `operation(obj, reason)` on every row through `run_bulk`, all or nothing."""
        form = ReasonActionForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self.run_bulk(request, queryset, lambda obj: operation(obj, reason), done)
            return None
        return self.action_form_page(request, queryset, form, title=title, action=action)

    def action_form_page(self, request, queryset, form, *, title: str, action: str):
        """The intermediate page of an action that needs input (target branch, reason)."""
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "queryset": queryset,
            "form": form,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/members/action_form.html", context)


class ScopedHistoryAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    """Scoped admin with the django-simple-history audit trail, read-only (no revert: changes go through services)."""

    def history_view(self, request, object_id, extra_context=None):
        self.get_object(request, unquote(object_id))  # 404 out of scope, before the history of a deleted row is tried
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        self.get_object(request, unquote(object_id))
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        return True


class ScopedInlineMixin(ScopedChoicesMixin):
    """An inline follows its parent admin's permissions (secretaries have no Django model permissions)."""

    form: Any = GuardedModelForm  # as ScopedAdminMixin

    def has_view_permission(self, request, obj=None):
        return is_scoped_staff(request)

    def has_add_permission(self, request, obj=None):
        return is_scoped_staff(request)

    def has_change_permission(self, request, obj=None):
        return is_scoped_staff(request)

    def has_delete_permission(self, request, obj=None):
        return is_scoped_staff(request)


def _account_label(user) -> str:
    """An account as a secretary knows it: the member's name and volunteer number, else the username."""
    member = getattr(user, "member", None)  # a missing reverse one-to-one raises an AttributeError subclass
    return str(member) if member is not None else user.get_username()


def _adopt(target, created) -> None:
    """Make the admin's unsaved form instance stand for the row a service created (pk, derived fields)."""
    for field in created._meta.concrete_fields:
        setattr(target, field.attname, getattr(created, field.attname))
    target._state.adding = False
    target._state.db = created._state.db


class ServiceSavedAdminMixin:
    """save_model calls a service; the service also sets many-to-many fields, so the form's save_m2m is skipped."""

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


# --- Organisation tree ------------------------------------------------------------------------------------------


@admin.register(Organization)
class OrganizationAdmin(ServiceSavedAdminMixin, ScopedHistoryAdmin):
    scope = staticmethod(selectors.visible_organizations)
    form = OrganizationAdminForm
    list_display = ("indented_name", "type", "secretary", "contact_name", "contact_phone")
    list_select_related = ("secretary",)
    list_filter = ("type",)
    search_fields = ("name",)
    ordering = ("path",)
    autocomplete_fields = ("secretary",)
    filter_horizontal = ("admins",)

    @admin.display(description=_("名称"), ordering="path")
    def indented_name(self, obj):
        return format_html('<span style="padding-left:{}em">{}</span>', obj.depth * 1.5, obj.name)

    def get_fields(self, request, obj=None):
        if obj is None:  # a new organization has no members yet: secretary and admins are set afterwards
            return ("name", "type", "parent", "contact_name", "contact_phone")
        return (
            "name",
            "type",
            "parent",
            "secretary",
            "contact_name",
            "contact_phone",
            "count_external_hours",
            "admins",
        )

    def get_readonly_fields(self, request, obj=None):
        # A secretary cannot move the top of their own scope: its parent is outside what they manage.
        if obj is not None and not request.user.is_superuser and not self._parent_in_scope(request, obj):
            return ("parent",)
        return ()

    def _parent_in_scope(self, request, obj) -> bool:
        return obj.parent_id is not None and self.in_scope(request, obj.parent)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if "parent" in form.base_fields and not request.user.is_superuser:
            form.base_fields["parent"].required = True  # only platform admins create top-level organizations
        return form

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name != "admins":
            return super().formfield_for_manytomany(db_field, request, **kwargs)
        if request.user.is_superuser:
            # All accounts would be a select of every user on the platform: search instead.
            kwargs["widget"] = SafeAutocompleteSelectMultiple(db_field, self.admin_site)
        else:
            kwargs["queryset"] = selectors.visible_users(
                request.user, queryset=User.objects.select_related("member").order_by("username")
            )
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        formfield.label_from_instance = _account_label
        return formfield

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            created = services.organization_create(
                name=data["name"],
                type=data["type"],
                parent=data.get("parent"),
                contact_name=data.get("contact_name", ""),
                contact_phone=data.get("contact_phone", ""),
                actor=request.user,
            )
            _adopt(obj, created)
            return
        if "parent" in form.changed_data:
            services.organization_move(organization=obj, new_parent=data.get("parent"), actor=request.user)
        _adopt(
            obj,
            services.organization_update(
                organization=obj,
                actor=request.user,
                name=data["name"],
                type=data["type"],
                secretary=data.get("secretary"),
                contact_name=data.get("contact_name", ""),
                contact_phone=data.get("contact_phone", ""),
                count_external_hours=data.get("count_external_hours", True),
            ),
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change and "admins" in form.changed_data:
            services.organization_set_admins(
                organization=form.instance, users=form.cleaned_data["admins"], actor=request.user
            )


class GridInline(ScopedInlineMixin, admin.TabularInline):
    model = Grid
    extra = 0
    autocomplete_fields = ("leader",)


@admin.register(Community)
class CommunityAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope = staticmethod(selectors.visible_communities)
    scoped_delete = True
    list_display = ("name", "organization", "grid_count")
    list_select_related = ("organization",)
    list_filter = (("organization", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("name",)
    inlines = (GridInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(grid_count=Count("grids"))

    @admin.display(description=_("网格数"), ordering="grid_count")
    def grid_count(self, obj):
        return obj.grid_count


@admin.register(Tag)
class TagAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "kind")
    list_filter = ("kind",)
    search_fields = ("name",)


# --- Members ----------------------------------------------------------------------------------------------------


class ResidenceCommunityFilter(admin.SimpleListFilter):
    """Members by the community of their current 双报到 (which may lie outside the secretary's own scope)."""

    title = _("居住社区（村）")
    parameter_name = "residence"

    def lookups(self, request, model_admin):
        communities = Community.objects.filter(
            residence_registrations__status__in=ResidenceRegistration.ACTIVE_STATUSES,
            residence_registrations__member__in=model_admin.get_queryset(request),
        ).distinct()
        return [(c.pk, c.name) for c in communities.order_by("name")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(
                residence_registrations__community=self.value(),
                residence_registrations__status__in=ResidenceRegistration.ACTIVE_STATUSES,
            )
        return queryset


class FormatPlaceholderMixin(TextGuardMixin):
    """The library's forms guarded like every other (core.forms), and their file format list says 请选择格式, not
    the library's "---"."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["format"]
        field.choices = [
            (value, choice_placeholder(field.label) if value == "" else label) for value, label in field.choices
        ]


class RosterImportForm(FormatPlaceholderMixin, ImportForm):
    pass


class RosterExportForm(FormatPlaceholderMixin, SelectableFieldsExportForm):
    """Each field to export is labelled with its column's Chinese header (志愿者编号), not the library's
    "Volunteer Number (志愿者编号)" made from the attribute's name."""

    def _get_field_label(self, resource, field_name: str) -> str:
        field = resource.fields.get(field_name)
        return field.column_name if field is not None else field_name


class RosterImportExportMixin(ImportExportMixin):
    """Import and export of the roster (`members.resources`: .xlsx or CSV, Chinese headers), scoped like the list.

    The resource gets the user, who decides the branches an import may use and the members an export contains; the
    export starts from the changelist's own queryset (its search and filters). Whoever may add members imports.
    A confirmation that meets an invalid row — a phone registered by someone else since the preview — saves nothing
    and shows the problems again, instead of the library's redirect with a success message.
    """

    resource_classes = [MemberResource]
    import_formats = [XLSX, RosterCSV]
    export_formats = [RosterXLSX, RosterCSV]  # every text cell stays text (core.exports)
    import_template_name = "admin/members/member_import.html"
    export_template_name = "admin/members/member_export.html"
    export_form_class = RosterExportForm
    import_form_class = RosterImportForm

    def has_import_permission(self, request):
        return self.has_add_permission(request)

    def has_export_permission(self, request):
        return self.has_view_permission(request)

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {"user": request.user}

    def get_data_for_export(self, request, queryset, **kwargs):
        data = super().get_data_for_export(request, queryset, **kwargs)
        audit_record(
            action=AuditEvent.Action.EXPORT,
            request=request,
            object_type=self.model._meta.label_lower,
            detail={"kind": "roster", "rows": len(data), "full_phones": bool(request.user.is_superuser)},
        )
        return data

    def get_export_filename(self, request, queryset, file_format):
        # The library dates the file by the UTC day; a secretary's file is named by the day on their clock.
        return f"{MemberResource._meta.name}-{format_local(timezone.now(), DATE)}.{file_format.get_extension()}"

    def _do_file_export(self, file_format, request, queryset, export_form=None):
        # The library writes the name into a plain filename="…", which browsers read as Latin-1; RFC 5987 here.
        response = super()._do_file_export(file_format, request, queryset, export_form=export_form)
        name = self.get_export_filename(request, queryset, file_format)
        response["Content-Disposition"] = attachment(
            name, ascii_fallback=f"roster-{format_local(timezone.now(), DATE)}.{file_format.get_extension()}"
        )
        return response

    def get_import_data_kwargs(self, **kwargs):
        return {**super().get_import_data_kwargs(**kwargs), "rollback_on_validation_errors": True}

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            form = self.get_import_form_class(request)(
                self.get_import_formats(), self.get_import_resource_classes(request)
            )
            context = {
                **self.admin_site.each_context(request),
                "title": _("导入"),
                "form": form,
                "opts": self.opts,
                "media": self.media + form.media,
                "result": result,
                "import_error_display": self.import_error_display,
            }
            return TemplateResponse(request, [self.import_template_name], context)
        return super().process_result(result, request)

    def add_success_message(self, result, request):
        self.message_user(
            request,
            _("已导入 %(count)d 名党员。他们还没有密码：在名册中选中他们，用“发送邀请”请他们设置密码。")
            % {"count": result.totals[RowResult.IMPORT_TYPE_NEW]},
            messages.SUCCESS,
        )


@admin.register(Member)
class MemberAdmin(FullDataViewAuditMixin, RosterImportExportMixin, ServiceSavedAdminMixin, ScopedHistoryAdmin):
    scope = staticmethod(selectors.visible_members)
    audit_full_data_fields = ("phone", "id_number")
    form = MemberAdminForm
    list_display = ("volunteer_number", "name", "phone_masked", "organization", "status", "residence")
    list_select_related = ("organization",)
    list_filter = (
        ("organization", admin.RelatedOnlyFieldListFilter),
        "status",
        ("skills", admin.RelatedOnlyFieldListFilter),
        ResidenceCommunityFilter,
    )
    # Name contains, volunteer number exact; a mobile or ID number is matched exactly by its hash
    # (get_search_results), as the encrypted columns cannot be searched.
    search_fields = ("name", "=volunteer_number", "=national_volunteer_number")
    search_help_text = _("按姓名、志愿者编号、手机号（完整号码）或身份证号（完整号码）查找")
    autocomplete_fields = ("skills", "interests")
    actions = ("deactivate_selected", "transfer_selected", "invite_selected")
    readonly_fields = ("volunteer_number", "status", "show_full_name_publicly", "full_name_consent_at")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(selectors.active_residence_prefetch())

    def get_fields(self, request, obj=None):
        fields = ["name", "gender", "birth_year", "phone", "id_number", "national_volunteer_number"]
        fields += ["organization", "skills", "interests", "availability"]
        if obj is not None:
            fields = ["volunteer_number", "status", *fields, "show_full_name_publicly", "full_name_consent_at"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        # The home branch changes only through the transfer action, which keeps the history of transfers.
        return (*self.readonly_fields, "organization") if obj is not None else self.readonly_fields

    @admin.display(description=_("手机号"))
    def phone_masked(self, obj):
        return obj.phone_masked

    @admin.display(description=_("双报到"))
    def residence(self, obj):
        current = obj.active_residences[0] if obj.active_residences else None
        if current is None:
            return "—"
        return f"{current.community.name}（{current.get_status_display()}）"

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if looks_like_mobile(term):
            results |= queryset.filter(phone_hash=blind_index(normalize_mobile(term)))
        elif looks_like_id_number(term):
            results |= queryset.filter(id_number_hash=blind_index(normalize_id_number(term)))
        return results, may_have_duplicates

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            changes = {
                "name": data["name"],
                "gender": data.get("gender", ""),
                "birth_year": data.get("birth_year"),
                "phone": data["phone"],
                "skills": data.get("skills", []),
                "interests": data.get("interests", []),
                "availability": data.get("availability", 0),
                "national_volunteer_number": data.get("national_volunteer_number", ""),
            }
            if data.get("id_number"):
                changes["id_number"] = data["id_number"]
            _adopt(obj, services.member_update_profile(member=obj, actor=request.user, **changes))
            return
        created = services.member_create(
            name=data["name"],
            phone=data["phone"],
            organization=data["organization"],
            actor=request.user,
            gender=data.get("gender", ""),
            birth_year=data.get("birth_year"),
            id_number=data.get("id_number", ""),
            skills=data.get("skills", []),
            interests=data.get("interests", []),
            availability=data.get("availability", 0),
            national_volunteer_number=data.get("national_volunteer_number", ""),
        )
        _adopt(obj, created)

    @admin.action(description=_("停用或免除所选党员"), permissions=["change"])
    def deactivate_selected(self, request, queryset):
        form = DeactivateActionForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            status, reason = form.cleaned_data["status"], form.cleaned_data["reason"]
            self.run_bulk(
                request,
                queryset,
                lambda m: services.member_deactivate(member=m, actor=request.user, status=status, reason=reason),
                _("已更改 %(count)d 名党员的状态。"),
            )
            return None
        return self.action_form_page(
            request, queryset, form, title=_("停用或免除所选党员"), action="deactivate_selected"
        )

    @admin.action(description=_("转接到其他支部"), permissions=["change"])
    def transfer_selected(self, request, queryset):
        branches = selectors.visible_organizations(request.user).filter(type=Organization.Type.BRANCH)
        form = TransferActionForm(request.POST if "apply" in request.POST else None, organizations=branches)
        if form.is_bound and form.is_valid():
            target, note = form.cleaned_data["to_organization"], form.cleaned_data["note"]
            self.run_bulk(
                request,
                queryset.select_related("organization"),
                lambda m: services.member_transfer(member=m, to_organization=target, actor=request.user, note=note),
                _("已将 %(count)d 名党员转接到%(target)s。"),
                target=target.name,
            )
            return None
        return self.action_form_page(request, queryset, form, title=_("转接到其他支部"), action="transfer_selected")

    @admin.action(description=_("发送邀请"), permissions=["change"])
    def invite_selected(self, request, queryset):
        """Text each selected member an invitation link (`services.member_invite`), all or nothing, and show the
        links so the secretary can also hand them over in person."""
        members = list(queryset.select_related("user", "organization"))
        site_url = request.build_absolute_uri("/")
        links = []
        self.run_bulk(
            request,
            members,
            lambda m: links.append((m, services.member_invite(member=m, actor=request.user, site_url=site_url))),
            _("已向 %(count)d 名党员发送邀请短信。以下链接也可以当面交给本人，%(days)d天内有效，只能使用一次："),
            days=services.INVITATION_VALID_DAYS,
        )
        if len(links) == len(members):  # run_bulk rolled everything back otherwise
            for member, path in links:
                url = request.build_absolute_uri(path)
                self.message_user(
                    request,
                    format_html(
                        '{}（{}）：<a href="{}" class="invitation-link">{}</a>',
                        member.name,
                        member.volunteer_number,
                        url,
                        url,
                    ),
                    messages.INFO,
                )


@admin.register(ResidenceRegistration)
class ResidenceRegistrationAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope = staticmethod(selectors.visible_residence_registrations)
    unscoped_choice_fields = ("community", "grid")  # a member lives where they live, inside the scope or not
    list_display = ("member", "community", "grid", "status", "registered_on", "confirmed_at")
    list_select_related = ("member", "community", "grid__community")
    list_filter = ("status", ("community", admin.RelatedOnlyFieldListFilter))
    search_fields = ("member__name", "=member__volunteer_number")
    autocomplete_fields = ("member",)
    fields = ("member", "community", "grid")
    actions = ("confirm_selected", "end_selected")

    def get_queryset(self, request):
        # Also for __str__ on object pages. (The changelist skips list_select_related once a select_related is set.)
        return super().get_queryset(request).select_related(*self.list_select_related)

    def has_change_permission(self, request, obj=None):
        return False  # registrations change only through the actions

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.fields
        return (*self.fields, "status", "registered_on", "confirmed_by", "confirmed_at", "ended_at")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "grid":
            kwargs["queryset"] = Grid.objects.select_related("community").order_by("community__name", "name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_confirm_permission(self, request):
        return is_scoped_staff(request)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        _adopt(
            obj,
            services.residence_register(
                member=data["member"], community=data["community"], grid=data.get("grid"), actor=request.user
            ),
        )

    @admin.action(description=_("确认所选报到"), permissions=["confirm"])
    def confirm_selected(self, request, queryset):
        # Only the organization serving the community confirms (not the member's home branch).
        confirmable = queryset.filter(community__in=selectors.visible_communities(request.user))
        others = queryset.exclude(pk__in=confirmable.values("pk"))
        if others.exists():
            names = "、".join(str(r) for r in others)
            self.message_user(request, _("不在您管理的社区，不能确认：") + names, messages.ERROR)
            return
        self.run_bulk(
            request,
            confirmable.select_related("member", "community"),
            lambda r: services.residence_confirm(registration=r, actor=request.user),
            _("已确认 %(count)d 条报到。"),
        )

    @admin.action(description=_("结束所选报到"), permissions=["confirm"])
    def end_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset.select_related("member", "community"),
            lambda r: services.residence_end(registration=r, actor=request.user),
            _("已结束 %(count)d 条报到。"),
        )


@admin.register(Transfer)
class TransferAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Read-only: a transfer is written by the roster's transfer action and kept as it is."""

    scope = staticmethod(selectors.visible_transfers)
    list_display = ("member", "from_organization", "to_organization", "transferred_on", "actor", "note")
    list_select_related = ("member", "from_organization", "to_organization", "actor")
    search_fields = ("member__name", "=member__volunteer_number")
    date_hierarchy = "transferred_on"

    def get_queryset(self, request):
        # Also for __str__ on object pages. (The changelist skips list_select_related once a select_related is set.)
        return super().get_queryset(request).select_related(*self.list_select_related)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Team)
class TeamAdmin(ServiceSavedAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    scope = staticmethod(selectors.visible_teams)
    scoped_delete = True
    form = TeamAdminForm
    list_display = ("name", "organization", "leader", "member_count")
    list_select_related = ("organization", "leader")
    list_filter = (("organization", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("name",)
    autocomplete_fields = ("leader", "members")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description=_("队员数"), ordering="member_count")
    def member_count(self, obj):
        return obj.member_count

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        common = {
            "name": data["name"],
            "leader": data.get("leader"),
            "members": data.get("members", []),
            "description": data.get("description", ""),
            "actor": request.user,
        }
        if change:
            _adopt(obj, services.team_update(team=obj, **common))
        else:
            _adopt(obj, services.team_create(organization=data["organization"], **common))


# --- Service records --------------------------------------------------------------------------------------------


@admin.register(ServiceRecord)
class ServiceRecordAdmin(ScopedHistoryAdmin):
    """Records are added here (手工录入) or by other steps; once saved they change only through verify, void and
    reviewed corrections — the change page is read-only."""

    scope = staticmethod(selectors.visible_service_records)
    form = ServiceRecordAdminForm
    list_display = ("date", "member", "hours", "status", "source", "recording_organization", "organizer")
    list_select_related = ("member", "recording_organization")
    list_filter = ("status", "source", ("recording_organization", admin.RelatedOnlyFieldListFilter))
    search_fields = ("member__name", "=member__volunteer_number", "place")
    autocomplete_fields = ("member",)
    actions = ("verify_selected", "void_selected")
    change_list_template = "admin/members/servicerecord/change_list.html"

    def get_queryset(self, request):
        # Also for __str__ in autocomplete results. (The changelist skips list_select_related once one is set.)
        return super().get_queryset(request).select_related(*self.list_select_related)

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        external = path(
            "import-external/",
            self.admin_site.admin_view(self.external_import_view),
            name="members_servicerecord_import_external",
        )
        return [external, *super().get_urls()]

    def external_import_view(self, request):
        """导入外部服务记录: upload → every row checked and shown (errors with their lines, duplicates, what would be
        saved) → confirm, which saves all of it or, if anything changed meanwhile, nothing."""
        if not self.has_add_permission(request):
            raise Http404(_("找不到该记录。"))
        organizations = selectors.visible_organizations(request.user)
        form = ExternalImportForm(
            request.POST if request.method == "POST" else None,
            request.FILES if request.method == "POST" else None,
            organizations=organizations,
        )
        check = signed = None
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            try:
                rows, problems = national.read_rows(
                    national.table_lines(data["bytes"], data["filename"]), national.load_columns().records
                )
            except (ValueError, csv.Error) as exc:
                form.add_error("file", str(exc))
            else:
                if problems:
                    form.add_error("file", problems)
                elif "confirm" in request.POST and not data.get("file"):
                    try:
                        result = national_services.external_records_import(
                            rows=rows, organization=data["organization"], origin=data["origin"], actor=request.user
                        )
                    except ValidationError as exc:
                        form.add_error(None, exc)
                    else:
                        self.message_user(
                            request,
                            _("已导入 %(saved)d 条外部服务记录，跳过 %(skipped)d 条重复或作废记录。%(rule)s")
                            % {
                                "saved": result.saved,
                                "skipped": len(result.duplicates),
                                "rule": _("这些记录计入服务时长。")
                                if result.counted
                                else _("按本组织规则，这些记录不计入服务时长。"),
                            },
                            messages.SUCCESS,
                        )
                        return HttpResponseRedirect(reverse("admin:members_servicerecord_changelist"))
                check = national_services.external_records_check(
                    rows=rows, organization=data["organization"], origin=data["origin"]
                )
                signed = ExternalImportForm.sign(data["bytes"])
        context = {
            **self.admin_site.each_context(request),
            "title": _("导入外部服务记录"),
            "opts": self.opts,
            "form": form,
            "check": check,
            "signed": signed,
            "filename": form.cleaned_data.get("filename", "") if form.is_bound and form.is_valid() else "",
            "columns": national.load_columns().records,
        }
        return TemplateResponse(request, "admin/members/external_import.html", context)

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.form._meta.fields
        return (
            "member",
            "date",
            "started_at",
            "ended_at",
            "hours",
            "place",
            "content",
            "beneficiary_summary",
            "evaluation",
            "organizer",
            "recorder",
            "recording_organization",
            "source",
            "source_ref",
            "status",
            "verified_by",
            "verified_at",
            "voided_by",
            "voided_at",
            "void_reason",
        )

    def has_verify_permission(self, request):
        return is_scoped_staff(request)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        created = services.service_record_create(
            member=data["member"],
            start=data["started_at"],
            end=data["ended_at"],
            place=data["place"],
            content=data["content"],
            hours=data["hours"],
            source=ServiceRecord.Source.MANUAL,
            recording_organization=data["recording_organization"],
            organizer=data["organizer"],
            recorder=request.user,
            beneficiary_summary=data.get("beneficiary_summary", ""),
            evaluation=data.get("evaluation"),
        )
        _adopt(obj, created)

    def _only_recorded_in_scope(self, request, queryset):
        """谁记录谁证明: only the recording organization's side verifies or voids; None (with a message) otherwise."""
        allowed = selectors.verifiable_service_records(request.user, queryset=queryset)
        refused = queryset.exclude(pk__in=allowed.values("pk"))
        if refused.exists():
            self.message_user(
                request,
                _("以下记录由其他组织记录，应由记录组织确认或作废：") + "、".join(str(r) for r in refused),
                messages.ERROR,
            )
            return None
        return allowed.select_related("member")

    @admin.action(description=_("确认所选记录的时长"), permissions=["verify"])
    def verify_selected(self, request, queryset):
        records = self._only_recorded_in_scope(request, queryset)
        if records is not None:
            self.run_bulk(
                request,
                records,
                lambda r: services.service_record_verify(record=r, verifier=request.user),
                _("已确认 %(count)d 条记录。"),
            )

    @admin.action(description=_("作废所选记录"), permissions=["verify"])
    def void_selected(self, request, queryset):
        records = self._only_recorded_in_scope(request, queryset)
        if records is None:
            return None
        return self.run_bulk_with_reason(
            request,
            records,
            lambda r, reason: services.service_record_void(record=r, actor=request.user, reason=reason),
            _("已作废 %(count)d 条记录。"),
            title=_("作废所选记录"),
            action="void_selected",
        )


@admin.register(ServiceRecordCorrection)
class ServiceRecordCorrectionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope = staticmethod(selectors.visible_corrections)
    form = CorrectionAdminForm
    list_display = ("__str__", "record", "status", "new_hours", "requested_by", "requested_at", "reviewed_by")
    list_select_related = ("record__member", "requested_by", "reviewed_by")
    list_filter = ("status",)
    search_fields = ("record__member__name", "=record__member__volunteer_number")
    autocomplete_fields = ("record",)
    actions = ("approve_selected", "refuse_selected")

    def has_change_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.form._meta.fields
        return (
            *self.form._meta.fields,
            "requested_by",
            "requested_at",
            "status",
            "reviewed_by",
            "reviewed_at",
            "review_note",
        )

    def has_review_permission(self, request):
        return is_scoped_staff(request)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        created = services.service_record_correction_request(
            record=data["record"],
            requested_by=request.user,
            reason=data["reason"],
            hours=data.get("new_hours"),
            start=data.get("new_started_at"),
            end=data.get("new_ended_at"),
            place=data.get("new_place", ""),
            content=data.get("new_content", ""),
        )
        _adopt(obj, created)

    def _reviewable(self, request, queryset):
        allowed = queryset.filter(record__in=selectors.verifiable_service_records(request.user))
        if queryset.exclude(pk__in=allowed.values("pk")).exists():
            self.message_user(request, _("只有记录组织可以审核更正申请。"), messages.ERROR)
            return None
        return allowed

    @admin.action(description=_("批准所选更正申请"), permissions=["review"])
    def approve_selected(self, request, queryset):
        corrections = self._reviewable(request, queryset)
        if corrections is not None:
            self.run_bulk(
                request,
                corrections,
                lambda c: services.service_record_correction_review(correction=c, reviewer=request.user, approve=True),
                _("已批准 %(count)d 条更正申请。"),
            )

    @admin.action(description=_("拒绝所选更正申请"), permissions=["review"])
    def refuse_selected(self, request, queryset):
        corrections = self._reviewable(request, queryset)
        if corrections is None:
            return None
        return self.run_bulk_with_reason(
            request,
            corrections,
            lambda c, note: services.service_record_correction_review(
                correction=c, reviewer=request.user, approve=False, note=note
            ),
            _("已拒绝 %(count)d 条更正申请。"),
            title=_("拒绝所选更正申请"),
            action="refuse_selected",
        )


@admin.register(DeletionRequest)
class DeletionRequestAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Members' requests to delete their personal information: the branch approves (the member is anonymised at
    once, see services.member_anonymise) or refuses with a reason. Requests are made by the member, never here."""

    scope = staticmethod(selectors.visible_deletion_requests)
    list_display = ("member", "status", "requested_at", "decided_by", "decided_at")
    list_select_related = ("member", "decided_by")
    list_filter = ("status",)
    search_fields = ("=member__volunteer_number",)
    fields = ("member", "reason", "status", "requested_at", "decided_by", "decided_at", "decision_note")
    readonly_fields = fields
    actions = ("approve_selected", "reject_selected")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_decide_permission(self, request):
        return is_scoped_staff(request)

    @admin.action(description=_("批准所选申请并删除个人信息"), permissions=["decide"])
    def approve_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset.select_related("member"),
            lambda r: services.deletion_request_approve(request=r, actor=request.user),
            _("已批准 %(count)d 份申请，相关党员的个人信息已删除。"),
        )

    @admin.action(description=_("不批准所选申请"), permissions=["decide"])
    def reject_selected(self, request, queryset):
        return self.run_bulk_with_reason(
            request,
            queryset.select_related("member"),
            lambda r, note: services.deletion_request_reject(request=r, actor=request.user, note=note),
            _("已驳回 %(count)d 份申请。"),
            title=_("不批准所选申请"),
            action="reject_selected",
        )


@admin.register(WeChatBinding)
class WeChatBindingAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Which WeChat signs in which member (members.services.wechat). Bindings are made by the member, with an SMS
    code, never here; a secretary may remove one (e.g. a lost phone), through the service."""

    scope = staticmethod(selectors.visible_wechat_bindings)
    scoped_delete = True
    list_display = ("user", "app", "nickname", "created_at", "last_sign_in_at")
    list_select_related = ("user",)
    list_filter = ("app",)
    search_fields = ("=user__member__volunteer_number", "=user__username", "=openid", "=unionid")
    fields = ("user", "app", "openid", "unionid", "nickname", "created_at", "last_sign_in_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        services.wechat_unbind(user=obj.user, binding_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for binding in queryset.select_related("user"):
            services.wechat_unbind(user=binding.user, binding_id=binding.pk)


# --- Exchange with the national system -------------------------------------------------------------------------------


@admin.register(NationalExportBatch)
class NationalExportBatchAdmin(ServiceSavedAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """导出到全国志愿服务信息系统: the add page makes a batch (members.services.national); a batch is never changed,
    its two files are downloaded as they went out (.csv) or as .xlsx."""

    scope = staticmethod(selectors.visible_national_exports)
    form = NationalExportForm
    list_display = (
        "__str__",
        "period_start",
        "period_end",
        "volunteers",
        "records",
        "corrections",
        "voids",
        "created_by",
        "created_at",
        "downloads",
    )
    list_select_related = ("organization", "created_by")
    list_filter = (("organization", admin.RelatedOnlyFieldListFilter),)
    readonly_fields = ("organization", *list_display[1:])  # a batch is never changed

    def get_fields(self, request, obj=None):
        return self.form._meta.fields if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        """A valid request is queued (a large subtree's first export takes minutes): the secretary goes back to the
        list with a note and is told in the inbox when the batch is there. Anything else is the add page."""
        if request.method == "POST" and self.has_add_permission(request):
            form = self.get_form(request)(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                national_services.national_export_queue(
                    organization=data["organization"],
                    period_start=data["period_start"],
                    period_end=data["period_end"],
                    actor=request.user,
                )
                messages.success(
                    request,
                    _("已开始导出 %(organization)s 的数据。完成后会在站内消息中通知您，批次随即出现在这个列表里。")
                    % {"organization": data["organization"].name},
                )
                return HttpResponseRedirect(reverse("admin:members_nationalexportbatch_changelist"))
        return super().add_view(request, form_url, extra_context)

    @admin.display(description=_("下载"))
    def downloads(self, obj):
        links = [
            format_html(
                '<a href="{}">{}</a>',
                reverse("admin:members_nationalexportbatch_download", args=[obj.pk, part, fmt]),
                f"{label} .{fmt}",
            )
            for part, label in (("volunteers", _("志愿者")), ("records", _("服务记录")))
            for fmt in ("xlsx", "csv")
        ]
        return format_html_join(" · ", "{}", ((link,) for link in links))

    def get_urls(self):
        download = path(
            "<int:pk>/download/<str:part>.<str:fmt>",
            self.admin_site.admin_view(self.download_view),
            name="members_nationalexportbatch_download",
        )
        return [download, *super().get_urls()]

    def download_view(self, request, pk: int, part: str, fmt: str):
        if not self.has_view_permission(request):
            raise Http404(_("找不到该记录。"))
        batch = self.get_object(request, str(pk))  # 404 outside the user's scope
        if part not in national.PARTS or fmt not in ("csv", "xlsx"):
            raise Http404(_("找不到该记录。"))
        kept = getattr(batch, f"{part}_file")
        # The volunteers' file holds ID numbers and phones in clear: every download is on the audit trail.
        audit_record(
            action=AuditEvent.Action.EXPORT,
            request=request,
            obj=batch,
            detail={"kind": "national", "part": part, "format": fmt},
        )
        label = _("志愿者") if part == "volunteers" else _("服务记录")
        name = f"{batch.organization.name}-{label}-{batch.period_start:%Y%m%d}-{batch.period_end:%Y%m%d}.{fmt}"
        ascii_name = f"national-{batch.pk}-{part}.{fmt}"
        if fmt == "csv":
            response = FileResponse(kept.open("rb"), content_type="text/csv; charset=utf-8")
        else:
            target = tempfile.TemporaryFile()  # noqa: SIM115 — closed by the FileResponse once sent
            with kept.open("rb") as source:
                national.csv_to_xlsx(source, target, title=str(label))
            target.seek(0)
            response = FileResponse(target, content_type=XLSX_TYPE)
        response["Content-Disposition"] = attachment(name, ascii_fallback=ascii_name)
        return response


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

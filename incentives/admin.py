"""The secretaries' admin for points, rewards, star ratings and commendations.

Scoping reuses `members.admin.ScopedAdminMixin` with this app's selectors: a platform admin sees everything, a
secretary their subtree, and an object out of scope answers 404. Every write calls `incentives.services`. The
ledger is read-only for everyone, platform admins included: entries are added by the services (awards, manual
adjustments through the "adjust" page, reversals through an action) and never changed or deleted.
"""

import uuid
from collections.abc import Callable

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.forms import add_service_errors
from core.params import parse_id
from members.admin import ScopedAdminMixin, ScopedHistoryAdmin, is_scoped_staff
from members.selectors import visible_members

from . import selectors, services
from .forms import (
    AdjustForm,
    CatalogueItemAdminForm,
    CommendationAdminForm,
    DeclineForm,
    ObjectionAnswerForm,
    RedemptionCancelForm,
    RestockForm,
    ReverseForm,
    RuleAdminForm,
    StarSchemeAdminForm,
)
from .models import (
    CatalogueItem,
    Commendation,
    LedgerEntry,
    Objection,
    PointsBalance,
    RatingRun,
    Redemption,
    Rule,
    StarRating,
    StarScheme,
)


def _adopt(target, created) -> None:
    """Make the admin's unsaved form instance stand for the row a service created."""
    for field in created._meta.concrete_fields:
        setattr(target, field.attname, getattr(created, field.attname))
    target._state.adding = False
    target._state.db = created._state.db


def _refusing(operation: Callable) -> Callable:
    """A service's PermissionDenied becomes a ValidationError, which `run_bulk` lists by name."""

    def call(obj):
        try:
            return operation(obj)
        except PermissionDenied as exc:
            raise ValidationError(str(exc)) from exc

    return call


class ReadOnlyMixin:
    """Rows written by services only: viewable in scope, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Rules and ledger -------------------------------------------------------------------------------------------


@admin.register(Rule)
class RuleAdmin(ScopedHistoryAdmin):
    """Every secretary reads the rules; only a platform admin changes them. The set of rules is fixed (codes)."""

    form = RuleAdminForm
    list_display = ("__str__", "points", "cap_per_source", "leader_multiplier", "min_quantity", "active", "updated_at")
    fields = ("code", "points", "cap_per_source", "leader_multiplier", "min_quantity", "active", "description")
    readonly_fields = ("code",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        _adopt(
            obj,
            services.rule_update(
                rule=obj,
                actor=request.user,
                points=data["points"],
                cap_per_source=data.get("cap_per_source"),
                leader_multiplier=data["leader_multiplier"],
                min_quantity=data.get("min_quantity"),
                active=data.get("active", False),
                description=data.get("description", ""),
            ),
        )


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    scope = staticmethod(selectors.visible_ledger_entries)
    list_display = ("created_at", "member", "kind", "points", "balance_after", "rule", "source_ref", "actor", "note")
    list_select_related = ("member", "rule", "actor")
    list_filter = ("kind", "rule")
    search_fields = ("member__name", "=member__volunteer_number", "source_ref", "=idempotency_key")
    date_hierarchy = "created_at"
    actions = ("reverse_selected",)

    def has_reverse_permission(self, request):
        return is_scoped_staff(request)

    @admin.action(description=_("冲正所选明细"), permissions=["reverse"])
    def reverse_selected(self, request, queryset):
        form = ReverseForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self.run_bulk(
                request,
                queryset.select_related("member"),
                lambda entry: services.reverse(entry=entry, actor=request.user, reason=reason),
                _("已冲正 %(count)d 条明细。"),
            )
            return None
        return self.action_form_page(request, queryset, form, title=_("冲正所选明细"), action="reverse_selected")


@admin.register(PointsBalance)
class PointsBalanceAdmin(ReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Balances, with the page for a manual adjustment (手工调整积分), which needs a reason and is attributed."""

    scope = staticmethod(selectors.visible_balances)
    list_display = ("member", "organization", "balance", "earned_total", "statement", "updated_at")
    list_select_related = ("member__organization",)
    search_fields = ("member__name", "=member__volunteer_number")
    change_list_template = "admin/incentives/pointsbalance/change_list.html"

    @admin.display(description=_("所在支部"), ordering="member__organization__path")
    def organization(self, obj):
        return obj.member.organization

    @admin.display(description=_("积分明细"))
    def statement(self, obj):
        url = reverse("admin:incentives_ledgerentry_changelist") + f"?member__id__exact={obj.member_id}"
        return format_html('<a href="{}">{}</a>', url, _("查看"))

    def get_urls(self):
        return [
            path("adjust/", self.admin_site.admin_view(self.adjust_view), name="incentives_pointsbalance_adjust"),
            *super().get_urls(),
        ]

    def adjust_view(self, request):
        if not is_scoped_staff(request):
            raise PermissionDenied
        members = visible_members(request.user).select_related("organization")
        initial = {"token": uuid.uuid4().hex}
        if request.method == "GET" and parse_id(request.GET.get("member")):
            initial["member"] = get_object_or_404(members, pk=parse_id(request.GET["member"]))
        form = AdjustForm(
            request.POST if request.method == "POST" else None,
            initial=initial,
            members=members,
            admin_site=self.admin_site,
        )
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            try:
                entry = services.adjust(
                    member=data["member"],
                    points=data["points"],
                    actor=request.user,
                    reason=data["reason"],
                    idempotency_key=f"adjust:{data['token']}",
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    _("已为 %(member)s 调整 %(points)+d 分，当前余额 %(balance)d 分。")
                    % {"member": entry.member.name, "points": entry.points, "balance": entry.balance_after},
                    messages.SUCCESS,
                )
                url = reverse("admin:incentives_ledgerentry_changelist") + f"?member__id__exact={entry.member_id}"
                return HttpResponseRedirect(url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("手工调整积分"),
            "opts": self.opts,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/incentives/adjust_form.html", context)


# --- Catalogue and redemptions ----------------------------------------------------------------------------------


@admin.register(CatalogueItem)
class CatalogueItemAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Secretaries keep their organizations' items; platform-wide items (no organization) are the platform admin's.
    Stock is set when an item is added and then changes only by the restock action and by redemptions."""

    scope = staticmethod(selectors.visible_catalogue_items)
    form = CatalogueItemAdminForm
    list_display = (
        "name",
        "kind",
        "points_cost",
        "stock",
        "per_member_limit",
        "min_star_level",
        "organization",
        "active",
        "opens_at",
        "closes_at",
    )
    list_select_related = ("organization",)
    list_filter = ("kind", "active")
    search_fields = ("name",)
    actions = ("restock_selected",)

    def get_readonly_fields(self, request, obj=None):
        return ("stock",) if obj is not None else ()

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if "organization" in form.base_fields and not request.user.is_superuser:
            form.base_fields["organization"].required = True  # platform-wide items are the platform admin's
        return form

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.organization_id is None and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_restock_permission(self, request):
        return is_scoped_staff(request)

    def save_model(self, request, obj, form, change):
        data = {name: value for name, value in form.cleaned_data.items() if name != "stock"}
        if change:
            changed = {name: data[name] for name in form.changed_data if name in data}
            _adopt(obj, services.catalogue_item_update(item=obj, **changed))
        else:
            _adopt(obj, services.catalogue_item_create(stock=form.cleaned_data["stock"], **data))

    @admin.action(description=_("调整所选项目的库存"), permissions=["restock"])
    def restock_selected(self, request, queryset):
        if not request.user.is_superuser and queryset.filter(organization__isnull=True).exists():
            self.message_user(request, _("全平台的兑换项目由平台管理员维护。"), messages.ERROR)
            return None
        form = RestockForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            quantity = form.cleaned_data["quantity"]
            self.run_bulk(
                request,
                queryset,
                lambda item: services.catalogue_item_restock(item=item, quantity=quantity),
                _("已调整 %(count)d 个项目的库存。"),
            )
            return None
        return self.action_form_page(request, queryset, form, title=_("调整库存"), action="restock_selected")


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    """The approval queue: approve (the member gets a pickup code), mark collected, or cancel with a refund."""

    scope = staticmethod(selectors.visible_redemptions)
    list_display = ("requested_at", "member", "item", "points", "status", "pickup_code", "approved_by", "fulfilled_at")
    list_select_related = ("member", "item", "approved_by")
    list_filter = ("status", ("item", admin.RelatedOnlyFieldListFilter))
    search_fields = ("=pickup_code", "member__name", "=member__volunteer_number", "item__name")
    search_help_text = _("按提货码、姓名、志愿者编号或项目名称查找")
    actions = ("approve_selected", "fulfil_selected", "cancel_selected")

    def has_handle_permission(self, request):
        return is_scoped_staff(request)

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        code = search_term.strip().upper()
        if code:  # a pickup code read from a phone may be typed in lower case
            results |= queryset.filter(pickup_code=code)
        return results, may_have_duplicates

    @admin.action(description=_("批准所选兑换（生成提货码）"), permissions=["handle"])
    def approve_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset,
            lambda r: services.redemption_approve(redemption=r, actor=request.user),
            _("已批准 %(count)d 条兑换。"),
        )

    @admin.action(description=_("标记所选兑换为已领取"), permissions=["handle"])
    def fulfil_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset,
            lambda r: services.redemption_fulfil(redemption=r, actor=request.user),
            _("已标记 %(count)d 条兑换为已领取。"),
        )

    @admin.action(description=_("取消所选兑换并退还积分"), permissions=["handle"])
    def cancel_selected(self, request, queryset):
        form = RedemptionCancelForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self.run_bulk(
                request,
                queryset.select_related("member"),
                lambda r: services.redemption_cancel(redemption=r, actor=request.user, reason=reason),
                _("已取消 %(count)d 条兑换，积分已退还。"),
            )
            return None
        return self.action_form_page(request, queryset, form, title=_("取消所选兑换"), action="cancel_selected")


# --- Star ratings -----------------------------------------------------------------------------------------------


@admin.register(StarScheme)
class StarSchemeAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """An organization's own scheme; organizations below without one follow the nearest scheme above (or the
    default: cumulative hours 100/300/600/1000/1500). Deleting one returns its subtree to the inherited scheme."""

    scope = staticmethod(selectors.visible_schemes)
    scoped_delete = True
    form = StarSchemeAdminForm
    list_display = ("organization", "basis", "thresholds_display", "publicity_days", "updated_at")
    list_select_related = ("organization",)
    list_filter = ("basis",)
    search_fields = ("organization__name",)

    @admin.display(description=_("一至五星门槛"))
    def thresholds_display(self, obj):
        return " / ".join(str(value) for value in obj.thresholds)

    def get_readonly_fields(self, request, obj=None):
        return ("organization",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        scheme = services.star_scheme_save(
            organization=obj.organization if change else data["organization"],
            basis=data["basis"],
            thresholds=data["thresholds"],
            publicity_days=data["publicity_days"],
            actor=request.user,
        )
        _adopt(obj, scheme)


@admin.register(RatingRun)
class RatingRunAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """A rating per organization and period: add it, then compute → publish (公示) → finalize with the actions."""

    scope = staticmethod(selectors.visible_rating_runs)
    list_display = (
        "__str__",
        "status",
        "publicity_ends_on",
        "rating_count",
        "pending_objections",
        "computed_at",
        "finalized_at",
    )
    list_select_related = ("organization",)
    list_filter = ("status", ("organization", admin.RelatedOnlyFieldListFilter))
    search_fields = ("organization__name",)
    fields = ("organization", "period_start", "period_end")
    actions = ("compute_selected", "publish_selected", "finalize_selected")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                rating_count=Count("ratings", distinct=True),
                pending_objections=Count(
                    "ratings__objections",
                    filter=Q(ratings__objections__outcome=Objection.Outcome.PENDING),
                    distinct=True,
                ),
            )
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.fields
        return (
            *self.fields,
            "status",
            "publicity_ends_on",
            "ratings_link",
            "created_by",
            "computed_at",
            "published_at",
            "finalized_at",
            "finalized_by",
        )

    def get_readonly_fields(self, request, obj=None):
        return ("ratings_link",) if obj is not None else ()

    def has_change_permission(self, request, obj=None):
        return False  # a run changes only through its actions

    def has_delete_permission(self, request, obj=None):
        # A published or final run is history: members saw it and may have objected.
        if obj is not None and obj.status != RatingRun.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def has_run_permission(self, request):
        return is_scoped_staff(request)

    @admin.display(description=_("党员数"), ordering="rating_count")
    def rating_count(self, obj):
        return obj.rating_count

    @admin.display(description=_("待答复异议"), ordering="pending_objections")
    def pending_objections(self, obj):
        return obj.pending_objections

    @admin.display(description=_("评定结果"))
    def ratings_link(self, obj):
        url = reverse("admin:incentives_starrating_changelist") + f"?run__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("查看各党员星级"))

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        _adopt(
            obj,
            services.rating_run_create(
                organization=data["organization"],
                period_start=data["period_start"],
                period_end=data["period_end"],
                actor=request.user,
            ),
        )

    @admin.action(description=_("计算星级（草稿）"), permissions=["run"])
    def compute_selected(self, request, queryset):
        self.run_bulk(
            request, queryset, lambda run: services.rating_run_compute(run=run), _("已计算 %(count)d 次评定。")
        )

    @admin.action(description=_("公示所选评定"), permissions=["run"])
    def publish_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset,
            lambda run: services.rating_run_publish(run=run, actor=request.user),
            _("已公示 %(count)d 次评定，党员已收到通知。"),
        )

    @admin.action(description=_("定级（公示结束后）"), permissions=["run"])
    def finalize_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset,
            lambda run: services.rating_run_finalize(run=run, actor=request.user),
            _("已定级 %(count)d 次评定。"),
        )


@admin.register(StarRating)
class StarRatingAdmin(ReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    scope = staticmethod(selectors.visible_ratings)
    list_display = ("member", "run", "basis", "basis_value", "computed_stars", "stars", "status")
    list_select_related = ("member", "run__organization")
    list_filter = ("status", "stars", ("run", admin.RelatedOnlyFieldListFilter))
    search_fields = ("member__name", "=member__volunteer_number")


@admin.register(Objection)
class ObjectionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Objections filed during the 公示; a pending one is answered on its page (the answer may change the stars)."""

    scope = staticmethod(selectors.visible_objections)
    form = ObjectionAnswerForm
    list_display = ("member", "run", "stars_before", "outcome", "stars_after", "filed_at", "answered_by")
    list_select_related = ("member", "rating__run__organization", "answered_by")
    list_filter = ("outcome",)
    search_fields = ("member__name", "=member__volunteer_number")
    readonly_fields = ("member", "run", "text", "filed_at", "stars_before")

    @admin.display(description=_("星级评定"))
    def run(self, obj):
        return obj.rating.run

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.outcome != Objection.Outcome.PENDING:
            return False
        return super().has_change_permission(request, obj)

    def get_fields(self, request, obj=None):
        if obj is not None and obj.outcome == Objection.Outcome.PENDING:
            return (*self.readonly_fields, "answer", "new_stars")
        return (*self.readonly_fields, "outcome", "answer", "stars_after", "answered_by", "answered_at")

    def save_model(self, request, obj, form, change):
        _adopt(
            obj,
            services.objection_answer(
                objection=obj,
                actor=request.user,
                answer=form.cleaned_data["answer"],
                stars=form.cleaned_data["new_stars"],
            ),
        )


# --- Commendations ----------------------------------------------------------------------------------------------


@admin.register(Commendation)
class CommendationAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Add = nominate (推荐); the organization above approves or declines with the actions."""

    scope = staticmethod(selectors.visible_commendations)
    form = CommendationAdminForm
    list_display = (
        "member",
        "title",
        "organization",
        "awarded_on",
        "status",
        "published",
        "consented",
        "nominated_by",
        "approved_by",
    )
    list_select_related = ("member", "organization", "nominated_by", "approved_by")
    list_filter = ("status", "published")
    search_fields = ("member__name", "=member__volunteer_number", "title")
    autocomplete_fields = ("member",)
    fields = ("member", "organization", "title", "citation", "awarded_on")
    actions = ("approve_selected", "decline_selected", "publish_selected", "unpublish_selected")

    @admin.display(description=_("本人同意公开"), boolean=True)
    def consented(self, obj):
        return obj.member_consented_at is not None

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.fields
        return (
            *self.fields,
            "status",
            "nominated_by",
            "nominated_at",
            "approved_by",
            "decided_at",
            "decision_note",
            "published",
            "member_consented_at",
        )

    def has_change_permission(self, request, obj=None):
        return False  # a commendation changes only through its actions

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status != Commendation.Status.NOMINATED:
            return False  # a decision (and the points that came with an approval) stays on record
        return super().has_delete_permission(request, obj)

    def has_decide_permission(self, request):
        return is_scoped_staff(request)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.actor = request.user
        return form

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        _adopt(
            obj,
            services.commendation_nominate(
                member=data["member"],
                organization=data.get("organization"),
                title=data["title"],
                citation=data["citation"],
                awarded_on=data.get("awarded_on"),
                actor=request.user,
            ),
        )

    @admin.action(description=_("批准所选推荐"), permissions=["decide"])
    def approve_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset.select_related("organization"),
            _refusing(lambda c: services.commendation_approve(commendation=c, actor=request.user)),
            _("已批准 %(count)d 项表彰。"),
        )

    @admin.action(description=_("不予批准所选推荐"), permissions=["decide"])
    def decline_selected(self, request, queryset):
        form = DeclineForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self.run_bulk(
                request,
                queryset.select_related("organization"),
                _refusing(lambda c: services.commendation_decline(commendation=c, actor=request.user, reason=reason)),
                _("已处理 %(count)d 项推荐。"),
            )
            return None
        return self.action_form_page(request, queryset, form, title=_("不予批准所选推荐"), action="decline_selected")

    @admin.action(description=_("在先进典型页面发布（须本人同意）"), permissions=["decide"])
    def publish_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset,
            _refusing(
                lambda c: services.commendation_set_published(commendation=c, actor=request.user, published=True)
            ),
            _("已发布 %(count)d 项表彰。"),
        )

    @admin.action(description=_("从先进典型页面撤下"), permissions=["decide"])
    def unpublish_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset,
            lambda c: services.commendation_set_published(commendation=c, actor=request.user, published=False),
            _("已撤下 %(count)d 项表彰。"),
        )

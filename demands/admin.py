"""The secretaries' admin for wishes, categories, offers and blocked numbers.

Scoped like the members admin (`members.admin.ScopedAdminMixin`): a secretary sees the wishes of the communities
their subtree serves, and an out-of-scope wish answers 404. Wishes change only through `demands.services`: the
change page edits the public text (`wish_update`), the actions verify, publish, reject and confirm. The resident's
contact is shown masked here; the full contact is on the review page, where each view is logged.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from audit.mixins import FullDataViewAuditMixin
from members.admin import ScopedAdminMixin, is_scoped_staff

from . import selectors, services
from .forms import BlockedNetworkAdminForm, BlockedPhoneAdminForm, HouseholdAdminForm
from .models import (
    BlockedNetwork,
    BlockedPhone,
    ContactAccessLog,
    Household,
    MicroWish,
    Pairing,
    PairingVisit,
    ServiceOffer,
    WishCategory,
    WishEvent,
)


@admin.register(WishCategory)
class WishCategoryAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """A shared catalogue: every secretary sees it, only platform admins change it."""

    list_display = ("name", "name_en", "order", "active")
    list_editable = ("order", "active")
    search_fields = ("name", "name_en")
    autocomplete_fields = ("tags",)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser


class WishEventInline(admin.TabularInline):
    model = WishEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "action", "from_state", "to_state", "actor_kind", "actor", "reason", "public")
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        return is_scoped_staff(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MicroWish)
class MicroWishAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope = staticmethod(selectors.visible_wishes)
    list_display = (
        "tracking_code",
        "public_title",
        "community",
        "category",
        "state",
        "contact",
        "claimed_by",
        "created_at",
    )
    list_select_related = ("community", "category", "claimed_by")
    list_filter = ("state", "category", "target_group", ("community", admin.RelatedOnlyFieldListFilter))
    search_fields = ("=tracking_code", "public_title")
    date_hierarchy = "created_at"
    inlines = (WishEventInline,)
    actions = ("verify_and_publish_selected", "reject_selected", "confirm_service_selected")
    fields = (
        "tracking_code",
        "state",
        "review_link",
        "title",
        "description",
        "public_title",
        "public_description",
        "category",
        "community",
        "grid",
        "target_group",
        "preferred_time",
        "verification_note",
        "claim_deadline",
        "contact",
        "consent_processing_at",
        "consent_version",
        "consent_display",
        "claimed_by",
        "claimed_team",
        "fulfilment_note",
        "service_hours",
        "rating",
        "rating_comment",
        "reject_reason",
        "service_record",
    )
    readonly_fields = (
        "tracking_code",
        "state",
        "review_link",
        "title",
        "description",
        "community",
        "preferred_time",
        "contact",
        "consent_processing_at",
        "consent_version",
        "consent_display",
        "claimed_by",
        "claimed_team",
        "fulfilment_note",
        "service_hours",
        "rating",
        "rating_comment",
        "reject_reason",
        "service_record",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*self.list_select_related)

    def has_add_permission(self, request):
        return False  # residents submit through the public form

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.state not in services.EDITABLE_STATES:
            return False
        return super().has_change_permission(request, obj)

    def has_review_permission(self, request):
        return is_scoped_staff(request)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "grid":
            object_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            wish = MicroWish.objects.filter(pk=object_id).only("community_id").first() if object_id else None
            if wish is not None:
                kwargs["queryset"] = wish.community.grids.all()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("联系方式"))
    def contact(self, obj):
        if not obj.contact_phone:
            return "—"
        return f"{obj.contact_public_name} {obj.contact_phone_masked}"

    @admin.display(description=_("核实页面"))
    def review_link(self, obj):
        url = reverse("demands:review_detail", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("打开核实页面（查看完整联系方式）"))

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        services.wish_update(
            wish=obj,
            actor=request.user,
            public_title=data["public_title"],
            public_description=data["public_description"],
            category=data["category"],
            grid=data.get("grid"),
            target_group=data["target_group"],
            note=data.get("verification_note", ""),
            claim_deadline=data.get("claim_deadline"),
        )
        obj.refresh_from_db()

    @admin.action(description=_("核实并发布所选心愿"), permissions=["review"])
    def verify_and_publish_selected(self, request, queryset):
        def run(wish):
            if wish.state == MicroWish.State.SUBMITTED:
                wish = services.wish_verify(
                    wish=wish,
                    actor=request.user,
                    public_title=wish.public_title,
                    public_description=wish.public_description,
                    category=wish.category,
                    grid=wish.grid,
                    target_group=wish.target_group,
                    note=wish.verification_note,
                )
            services.wish_publish(wish=wish, actor=request.user, site_url=request.build_absolute_uri("/"))

        self.run_bulk(request, queryset.select_related("category", "grid"), run, _("已发布 %(count)d 个心愿。"))

    @admin.action(description=_("不予受理所选心愿"), permissions=["review"])
    def reject_selected(self, request, queryset):
        return self.run_bulk_with_reason(
            request,
            queryset,
            lambda w, reason: services.wish_reject(
                wish=w, actor=request.user, reason=reason, site_url=request.build_absolute_uri("/")
            ),
            _("已不予受理 %(count)d 个心愿。"),
            title=_("不予受理所选心愿"),
            action="reject_selected",
        )

    @admin.action(description=_("确认所选心愿的服务并办结"), permissions=["review"])
    def confirm_service_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset,
            lambda w: services.wish_confirm_service(wish=w, actor=request.user),
            _("已确认 %(count)d 个心愿的服务。"),
        )


@admin.register(ContactAccessLog)
class ContactAccessLogAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Who saw which resident's full contact, and when. Read-only."""

    list_display = ("viewed_at", "wish", "user", "role")
    list_select_related = ("wish", "user")
    list_filter = ("role",)
    search_fields = ("=wish__tracking_code", "user__username")
    date_hierarchy = "viewed_at"

    scope = staticmethod(selectors.visible_contact_accesses)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*self.list_select_related)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BlockedPhone)
class BlockedPhoneAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Numbers blocked from the review page (secretaries) or typed in here (platform admins only); a platform admin
    lifts a block by deleting the row."""

    list_display = ("phone_masked", "reason", "created_by", "created_at")
    list_select_related = ("created_by",)
    readonly_fields = ("phone_masked", "reason", "created_by", "created_at")
    add_form = BlockedPhoneAdminForm

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_fields(self, request, obj=None):
        return ("phone", "reason") if obj is None else self.readonly_fields

    def has_add_permission(self, request):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = services.phone_number_block(phone=data["phone"], actor=request.user, reason=data["reason"])
        obj.pk = saved.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(BlockedNetwork)
class BlockedNetworkAdmin(admin.ModelAdmin):
    """IP ranges refused by the public forms: platform admins only (a range may hold many residents)."""

    form = BlockedNetworkAdminForm
    list_display = ("network", "reason", "created_by", "created_at")
    list_select_related = ("created_by",)
    search_fields = ("network",)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("network", "reason", "created_by", "created_at")

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = services.network_block(network=data["network"], actor=request.user, reason=data["reason"])
        obj.pk = saved.pk
        obj._state.adding = False
        obj.refresh_from_db()


@admin.register(ServiceOffer)
class ServiceOfferAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Offers are written by their members (/offers/mine/); secretaries see those of their members and may pause
    one (e.g. the member moved away)."""

    scope = staticmethod(selectors.visible_offers)
    list_display = ("title", "member", "team", "category", "community", "active")
    list_select_related = ("member", "team", "category", "community")
    list_filter = ("active", "category")
    search_fields = ("title", "member__name")
    actions = ("pause_selected",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*self.list_select_related)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_pause_permission(self, request):
        return is_scoped_staff(request)

    @admin.action(description=_("暂停所选服务的点单"), permissions=["pause"])
    def pause_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset,
            lambda o: services.offer_pause(offer=o, actor=request.user),
            _("已暂停 %(count)d 项服务。"),
        )


# --- Households and pairings ------------------------------------------------------------------------------------


class PairingVisitInline(admin.TabularInline):
    model = PairingVisit
    extra = 0
    can_delete = False
    fields = ("started_at", "hours", "summary", "service_record")
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        return is_scoped_staff(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Household)
class HouseholdAdmin(FullDataViewAuditMixin, ScopedAdminMixin, admin.ModelAdmin):
    """服务对象户: contact, address, notes and the sensitive priority groups are encrypted; the list shows them
    masked. Saved through `services.household_save` (consents checked there)."""

    scope = staticmethod(selectors.visible_households)
    form = HouseholdAdminForm
    audit_full_data_fields = ("contact_name", "phone", "address", "priority_group_codes", "note")
    list_display = ("masked_name", "community", "grid", "phone_masked", "active", "created_at")
    list_select_related = ("community", "grid__community")
    list_filter = ("active", ("community", admin.RelatedOnlyFieldListFilter))
    readonly_fields = ("consent_processing_at", "consent_sensitive_at", "consent_version")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*self.list_select_related)

    def get_fields(self, request, obj=None):
        fields = ["community", "grid", "contact_name", "phone", "address", "priority_group_codes"]
        fields += ["consent_processing", "consent_sensitive", "note", "active"]
        return [*fields, *self.readonly_fields] if obj is not None else fields

    @admin.display(description=_("联系人"))
    def masked_name(self, obj):
        return str(obj)

    @admin.display(description=_("联系电话"))
    def phone_masked(self, obj):
        return obj.contact_phone_masked or "—"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = services.household_save(
            actor=request.user,
            household=obj if change else None,
            community=data["community"],
            grid=data.get("grid"),
            contact_name=data["contact_name"],
            address=data["address"],
            phone=data.get("phone", ""),
            priority_groups=data.get("priority_group_codes", []),
            consent_processing=data.get("consent_processing", False),
            consent_sensitive=data.get("consent_sensitive", False),
            note=data.get("note", ""),
            active=data.get("active", True),
        )
        obj.pk = saved.pk
        obj._state.adding = False
        obj.refresh_from_db()


@admin.register(Pairing)
class PairingAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope = staticmethod(selectors.visible_pairings)
    list_display = ("member", "household", "team", "started_on", "ended_on")
    list_select_related = ("member", "household__community", "team")
    list_filter = (("household__community", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("member__name", "=member__volunteer_number")
    autocomplete_fields = ("member",)
    fields = ("member", "household", "team", "note", "started_on")
    inlines = (PairingVisitInline,)
    actions = ("end_selected",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*self.list_select_related)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "household":
            kwargs["queryset"] = selectors.visible_households(
                request.user, queryset=Household.objects.filter(active=True).select_related("community")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_end_permission(self, request):
        return is_scoped_staff(request)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        created = services.pairing_create(
            member=data["member"],
            household=data["household"],
            team=data.get("team"),
            note=data.get("note", ""),
            started_on=data.get("started_on"),
            actor=request.user,
        )
        obj.pk = created.pk
        obj._state.adding = False

    @admin.action(description=_("结束所选结对"), permissions=["end"])
    def end_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset,
            lambda p: services.pairing_end(pairing=p, actor=request.user),
            _("已结束 %(count)d 个结对。"),
        )

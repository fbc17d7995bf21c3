from django.contrib import admin

from .models import AuditEvent
from .sign_in import identifier_hash


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The trail, for platform admins only, read-only: nothing is added, changed or deleted here. What was typed
    at a failed sign-in shows masked (138****1234); searching for an identifier typed in full (a phone in any
    spelling) also finds its attempts through their keyed hash."""

    list_display = ("created_at", "action", "username", "ip", "method", "path", "object_type", "object_repr")
    list_filter = ("action", ("created_at", admin.DateFieldListFilter), "object_type")
    search_fields = ("username", "=ip", "path", "object_repr", "=object_id")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditEvent._meta.fields]
    list_per_page = 100
    show_full_result_count = False  # counting a long trail on every page is slow

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        hashed = identifier_hash(request, search_term)
        if hashed:
            results |= queryset.filter(username_hash=hashed)
        return results, may_have_duplicates

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

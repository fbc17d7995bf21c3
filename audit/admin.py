from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The trail, for platform admins only, read-only: nothing is added, changed or deleted here."""

    list_display = ("created_at", "action", "username", "ip", "method", "path", "object_type", "object_repr")
    list_filter = ("action", ("created_at", admin.DateFieldListFilter), "object_type")
    search_fields = ("username", "=ip", "path", "object_repr", "=object_id")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditEvent._meta.fields]
    list_per_page = 100
    show_full_result_count = False  # counting a long trail on every page is slow

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

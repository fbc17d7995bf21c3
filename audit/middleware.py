"""Permission denials and admin changes into the audit trail (see audit/__init__.py)."""

from django.urls import reverse
from django.utils import timezone

from . import services
from .models import AuditEvent


class AuditMiddleware:
    """Records every 403 answer (PermissionDenied anywhere, a view's own refusal; CSRF failures are recorded with
    their reason by `audit.views.csrf_failure` instead) and copies the admin's log rows of a POST to the admin,
    with the IP. 404s are not recorded: out-of-scope objects answer 404 like missing ones, and a trail of every
    mistyped address would drown the rest."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._admin_prefix = None

    def _is_admin(self, request) -> bool:
        if self._admin_prefix is None:
            self._admin_prefix = reverse("admin:index")
        return request.path.startswith(self._admin_prefix)

    def __call__(self, request):
        started = timezone.now()
        response = self.get_response(request)
        if response.status_code == 403 and not getattr(request, "_audit_recorded", False):
            services.audit_record(action=AuditEvent.Action.PERMISSION_DENIED, request=request)
        user = getattr(request, "user", None)
        if request.method == "POST" and user is not None and user.is_authenticated and self._is_admin(request):
            services.admin_changes_record(request=request, since=started)
        return response

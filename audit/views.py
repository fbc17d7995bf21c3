from django.views.csrf import csrf_failure as django_csrf_failure

from . import services
from .models import AuditEvent


def csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: record the failure with Django's reason, then answer as Django does (403_csrf.html)."""
    services.audit_record(action=AuditEvent.Action.CSRF_FAILURE, request=request, detail={"reason": reason})
    request._audit_recorded = True
    return django_csrf_failure(request, reason=reason)

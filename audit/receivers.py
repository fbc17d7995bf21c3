"""Sign-in events into the trail. These are Django's and django-axes' own signals (the framework tells us), not a
hidden link between project apps: nothing in the project sends them."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from . import services
from .models import AuditEvent


@receiver(user_logged_in, dispatch_uid="audit_login")
def _logged_in(sender, request, user, **kwargs):
    services.audit_record(action=AuditEvent.Action.LOGIN, request=request, user=user)
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        services.user_session_remember(user=user, session_key=session.session_key)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    # `credentials` is already cleansed by Django (the password is masked); keep only the identifier typed.
    services.audit_record(
        action=AuditEvent.Action.LOGIN_FAILED, request=request, username=str(credentials.get("username") or "")
    )


@receiver(user_logged_out, dispatch_uid="audit_logout")
def _logged_out(sender, request, user, **kwargs):
    services.audit_record(action=AuditEvent.Action.LOGOUT, request=request, user=user)


@receiver(user_locked_out, dispatch_uid="audit_lockout")
def _locked_out(sender, request, username, ip_address, **kwargs):
    services.audit_record(action=AuditEvent.Action.LOCKOUT, request=request, username=str(username or ""))

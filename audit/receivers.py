"""Sign-in events into the trail. These are Django's and django-axes' own signals (the framework tells us), not a
hidden link between project apps: nothing in the project sends them."""

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from . import services, sign_in
from .models import AuditEvent


@receiver(user_logged_in, dispatch_uid="audit_login")
def _logged_in(sender, request, user, **kwargs):
    services.audit_record(action=AuditEvent.Action.LOGIN, request=request, user=user)
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        services.user_session_remember(user=user, session_key=session.session_key)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    # `credentials` is already cleansed by Django (the password is masked); the identifier typed is kept masked,
    # with its keyed hash (audit.sign_in).
    typed = str((credentials or {}).get(get_user_model().USERNAME_FIELD) or "")
    services.audit_record(
        action=AuditEvent.Action.LOGIN_FAILED,
        request=request,
        username=sign_in.identifier_shown(typed),
        username_hash=sign_in.identifier_hash(request, typed),
    )


@receiver(user_logged_out, dispatch_uid="audit_logout")
def _logged_out(sender, request, user, **kwargs):
    services.audit_record(action=AuditEvent.Action.LOGOUT, request=request, user=user)


@receiver(user_locked_out, dispatch_uid="audit_lockout")
def _locked_out(sender, request, username, ip_address, **kwargs):
    # `username` is what axes counts: already the keyed hash (members.backends.sign_in_identifier). What was typed,
    # for the masked name, is in the credentials axes keeps on the request.
    credentials = getattr(request, "axes_credentials", None) or {}
    typed = str(credentials.get(get_user_model().USERNAME_FIELD) or "")
    services.audit_record(
        action=AuditEvent.Action.LOCKOUT,
        request=request,
        username=sign_in.identifier_shown(typed),
        username_hash=str(username or ""),
    )

"""System checks of the audit app's settings (run at every start and by `manage.py check --deploy`)."""

from django.conf import settings
from django.core import checks

# China's Cybersecurity Law, article 21(3): network logs are kept for no less than six months.
MIN_RETENTION_DAYS = 183


@checks.register(checks.Tags.security)
def check_audit_settings(app_configs=None, **kwargs):
    errors = []
    days = getattr(settings, "AUDIT_RETENTION_DAYS", None)
    if not isinstance(days, int) or days < MIN_RETENTION_DAYS:
        errors.append(
            checks.Error(
                f"AUDIT_RETENTION_DAYS is {days!r}: the audit trail must be kept at least {MIN_RETENTION_DAYS} days "
                "(six months, Cybersecurity Law art. 21).",
                id="audit.E001",
            )
        )
    if not getattr(settings, "AXES_USERNAME_CALLABLE", None):
        errors.append(
            checks.Error(
                "AXES_USERNAME_CALLABLE is not set: django-axes and the audit trail would keep sign-in identifiers "
                "(members' phone numbers) in clear instead of their keyed hash.",
                id="audit.E002",
            )
        )
    return errors

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audit"
    verbose_name = _("审计")

    def ready(self):
        # Django's and axes' own signals about signing in (framework signals, not a link between project apps).
        from . import checks, receivers  # noqa: F401

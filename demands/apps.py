from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemandsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "demands"
    verbose_name = _("微心愿与结对帮扶")

    def ready(self):
        from . import receivers  # noqa: F401 - connects the receivers

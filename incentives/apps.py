from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncentivesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "incentives"
    verbose_name = _("积分与激励")

    def ready(self):
        from . import receivers  # noqa: F401 - connects the receivers

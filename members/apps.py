from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "members"
    verbose_name = _("党员与组织")

    def ready(self):
        from . import receivers  # noqa: F401 - connects the receivers

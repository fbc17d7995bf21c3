from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NewsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "news"
    verbose_name = _("宣传推介")

    def ready(self):
        from . import receivers  # noqa: F401 - connects the receivers

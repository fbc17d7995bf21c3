from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProjectsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "projects"
    verbose_name = _("服务项目与活动")

    def ready(self):
        from . import receivers  # noqa: F401 - connects the receivers

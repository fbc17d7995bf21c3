from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SiteConfig(AppConfig):
    name = "volunteer_platform"
    verbose_name = _("平台")

    def ready(self) -> None:
        from django.conf import settings
        from django.core.signals import request_finished

        from .celery import ensure_broker_folders
        from .observability import clear_request_id_after_response

        # The embedded defaults (SQLite, file cache, filesystem broker) keep their files under var/.
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        ensure_broker_folders()
        request_finished.connect(clear_request_id_after_response, dispatch_uid="observability.request_finished")

        from . import receivers  # noqa: F401 - connects the receivers (the member portal's page cache)

from django.apps import AppConfig


class DemandsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "demands"

    def ready(self):
        from . import receivers  # noqa: F401 - connects the receivers

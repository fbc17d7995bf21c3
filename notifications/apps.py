from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
    verbose_name = _("通知")

    def ready(self):
        from . import receivers  # noqa: F401 - connects the page cache's model watch (the unread count on /me/)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncentivesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "incentives"
    verbose_name = _("积分与激励")

    def ready(self):
        from members import events

        from . import receivers, services  # noqa: F401 - receivers connects the page cache's model watches

        # A counted service record's points and the member's ratings follow it (members/events.py lists the hooks).
        events.record_counted_changed.connect(services.record_counted_changed)

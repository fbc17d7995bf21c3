from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audit"
    verbose_name = _("审计")

    def ready(self):
        # Django's and axes' own signals about signing in (framework signals, not a link between project apps).
        from . import checks, receivers  # noqa: F401

        name_axes_in_chinese()


# django-axes names its app and models in English only (it has no Chinese catalogue); the admin shows them under
# these names. Only the names shown change: migrations read a model's declared options (Meta.original_attrs).
AXES_NAMES = {
    "AccessAttempt": (_("登录失败计数"), _("登录失败计数")),
    "AccessFailureLog": (_("登录失败记录"), _("登录失败记录")),
    "AccessLog": (_("登录记录"), _("登录记录")),
    "AccessAttemptExpiration": (_("登录失败计数有效期"), _("登录失败计数有效期")),
}


def name_axes_in_chinese() -> None:
    axes = apps.get_app_config("axes")
    axes.verbose_name = _("登录锁定")
    for model in axes.get_models():
        names = AXES_NAMES.get(model.__name__)
        if names:
            model._meta.verbose_name, model._meta.verbose_name_plural = names

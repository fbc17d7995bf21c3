from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from . import auth_views, views
from .forms import AdminSignInForm

admin.site.site_header = _("党员志愿服务平台 管理后台")
admin.site.site_title = _("党员志愿服务平台")
admin.site.index_title = _("工作台")
admin.site.login_form = AdminSignInForm

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.SignOutView.as_view(), name="logout"),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("me/", include("notifications.urls")),
    path("training/", include("training.urls")),
    path("dashboard/", include("volunteer_platform.dashboard_urls")),
    path("", include("members.urls")),
    path("", include("incentives.urls")),
    path("", include("demands.urls")),
    path("", include("projects.urls")),
    path("admin/", admin.site.urls),
]

if settings.BENCH_CEILING_VIEW:  # `make bench` only (bench/config.py); production never mounts it
    urlpatterns.append(path("bench/ceiling/", views.bench_ceiling, name="bench_ceiling"))

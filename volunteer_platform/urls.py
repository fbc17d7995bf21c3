from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from members import urls as members_urls
from notifications import views as notification_views

from . import auth_views, portal_views, views, wechat_views
from .forms import AdminSignInForm

admin.site.site_header = _("党员志愿服务平台 管理后台")
admin.site.site_title = _("党员志愿服务平台")
admin.site.index_title = _("工作台")
admin.site.login_form = AdminSignInForm

# The member portal: the members app's own pages and those the site composes from several apps, in one namespace.
member_portal = [
    *members_urls.urlpatterns,
    path("me/", portal_views.me, name="me"),
    path("me/certificate.pdf", portal_views.me_certificate, name="me_certificate"),
    path("me/data.json", portal_views.me_data_download, name="me_data_download"),
    path("me/devices/", portal_views.devices, name="me_devices"),
    path("me/devices/<int:pk>/revoke/", portal_views.device_revoke, name="me_device_revoke"),
    path("members/<str:volunteer_number>/certificate.pdf", portal_views.member_certificate, name="member_certificate"),
]

handler400 = views.bad_request
handler403 = views.permission_denied
handler404 = views.page_not_found
handler500 = views.server_error

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.SignOutView.as_view(), name="logout"),
    path("accounts/login/code/", auth_views.sign_in_code, name="sign_in_code"),
    path("accounts/login/code/confirm/", auth_views.sign_in_code_confirm, name="sign_in_code_confirm"),
    path("accounts/password/reset/", auth_views.password_reset, name="password_reset"),
    path("accounts/password/reset/confirm/", auth_views.password_reset_confirm, name="password_reset_confirm"),
    path("accounts/wechat/", wechat_views.wechat_start, name="wechat_start"),
    path("accounts/wechat/callback/", wechat_views.wechat_callback, name="wechat_callback"),
    path("accounts/wechat/bind/", wechat_views.wechat_bind, name="wechat_bind"),
    path("accounts/wechat/bind/confirm/", wechat_views.wechat_bind_confirm, name="wechat_bind_confirm"),
    path("me/wechat/unbind/", wechat_views.wechat_unbind, name="wechat_unbind"),
    path("accounts/2fa/", auth_views.second_factor, name="second_factor"),
    path("accounts/2fa/setup/", auth_views.second_factor_setup, name="second_factor_setup"),
    path("accounts/2fa/off/", auth_views.second_factor_turn_off, name="second_factor_turn_off"),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("api/", include("volunteer_platform.api_urls")),
    path("me/", include("notifications.urls")),
    # An SMS gateway's delivery receipts (the address, with its secret, is set in the gateway's console).
    path("sms/receipts/<str:vendor>/<str:token>/", notification_views.sms_receipt, name="sms_receipt"),
    path("training/", include("training.urls")),
    path("dashboard/", include("volunteer_platform.dashboard_urls")),
    path("", include((member_portal, members_urls.app_name))),
    path("", include("incentives.urls")),
    path("", include("demands.urls")),
    path("", include("projects.urls")),
    path("", include("news.urls")),
    path("admin/", admin.site.urls),
]

if settings.BENCH_CEILING_VIEW:  # `make bench` only (bench/config.py); production never mounts it
    # First: the ceiling measures the middleware stack against a bare Django view (bench/bare_django.py), not the
    # walk through the URLconf's empty-prefix includes that a page deep in it pays (25-90 µs, bench/RESULTS.md).
    urlpatterns.insert(0, path("bench/ceiling/", views.bench_ceiling, name="bench_ceiling"))

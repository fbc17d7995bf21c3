"""/api/: the JSON API, version 1, composed from each app's api.py (DESIGN.md: a thin layer beside the views), its
OpenAPI 3 schema and the schema's browsable docs (Swagger UI from static files, no CDN; its start script is a file
of its own, so the page keeps the site's Content-Security-Policy without inline script; Swagger UI sets inline
styles, which that page alone allows)."""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.core.cache import cache
from django.http import HttpResponse
from django.urls import include, path
from django.utils.translation import get_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import public_cache
from demands import api as demands_api
from incentives import api as incentives_api
from notifications import api as notifications_api
from projects import api as projects_api
from training import api as training_api

from . import api, api_wechat

v1 = [
    # Signing a device in
    path("auth/sms-code/", api.sms_code, name="auth_sms_code"),
    path("auth/token/", api.token, name="auth_token"),
    path("auth/token/rotate/", api.token_rotate, name="auth_token_rotate"),
    path("auth/token/revoke/", api.token_revoke, name="auth_token_revoke"),
    path("auth/wechat/", api_wechat.wechat_login, name="auth_wechat"),
    path("auth/wechat/bind/", api_wechat.wechat_bind, name="auth_wechat_bind"),
    # Residents
    path("wishes/submit/", demands_api.wish_submit, name="wish_submit"),
    path("wishes/track/", demands_api.wish_track, name="wish_track"),
    path("wishes/feedback/<str:token>/", demands_api.wish_feedback, name="wish_feedback"),
    # The wish wall and claims
    path("wishes/", demands_api.wall, name="wish_wall"),
    path("wishes/<int:pk>/", demands_api.wish_detail, name="wish_detail"),
    path("wishes/<int:pk>/claim/", demands_api.wish_claim, name="wish_claim"),
    path("wishes/<int:pk>/release/", demands_api.wish_release, name="wish_release"),
    path("wishes/<int:pk>/fulfil/", demands_api.wish_fulfil, name="wish_fulfil"),
    path("offers/", demands_api.offer_list, name="offer_list"),
    # Activities
    path("activities/", projects_api.activity_list, name="activity_list"),
    path("activities/<int:pk>/", projects_api.activity_detail, name="activity_detail"),
    path("activities/<int:pk>/signup/", projects_api.activity_signup, name="activity_signup"),
    path("activities/<int:pk>/cancel/", projects_api.activity_cancel, name="activity_cancel"),
    path("activities/<int:pk>/checkin/", projects_api.activity_checkin, name="activity_checkin"),
    # Posts
    path("posts/<int:pk>/claim/", projects_api.post_claim, name="post_claim"),
    path("posts/<int:pk>/skip/", projects_api.post_skip, name="post_skip"),
    path("posts/<int:pk>/leave/", projects_api.post_leave, name="post_leave"),
    # Training
    path("training/sessions/", training_api.session_list, name="training_sessions"),
    path("training/sessions/<int:pk>/enroll/", training_api.enroll, name="training_enroll"),
    path("training/sessions/<int:pk>/cancel/", training_api.cancel_enrollment, name="training_cancel"),
    # Rewards
    path("rewards/", incentives_api.reward_list, name="reward_list"),
    path("rewards/<int:pk>/redeem/", incentives_api.reward_redeem, name="reward_redeem"),
    path("me/redemptions/", incentives_api.redemption_list, name="redemption_list"),
    path("me/redemptions/<int:pk>/cancel/", incentives_api.redemption_cancel, name="redemption_cancel"),
    # The member's own
    path("me/", api.me, name="me"),
    path("me/records/", api.records, name="me_records"),
    path("me/points/", api.points, name="me_points"),
    path("me/certificate.pdf", api.certificate, name="me_certificate"),
    path("me/inbox/", api.inbox, name="me_inbox"),
    path("me/inbox/<int:pk>/read/", api.inbox_read, name="me_inbox_read"),
    path("me/stars/", incentives_api.stars, name="me_stars"),
    path("me/preferences/", notifications_api.preferences, name="me_preferences"),
    path("me/preferences/save/", notifications_api.preferences_save, name="me_preferences_save"),
    path("me/devices/", api.devices, name="me_devices"),
    path("me/devices/<int:pk>/revoke/", api.device_revoke, name="me_device_revoke"),
    # Secretaries
    path("review/wishes/", demands_api.review_queue, name="review_queue"),
    path("review/wishes/<int:pk>/", demands_api.review_save, name="review_save"),
    path("review/wishes/<int:pk>/reject/", demands_api.review_reject, name="review_reject"),
    path("attendance/<int:pk>/", projects_api.attendance_sheet, name="attendance_sheet"),
    path("attendance/<int:pk>/submit/", projects_api.attendance_submit, name="attendance_submit"),
    path("review/self-reports/", projects_api.self_report_queue, name="self_report_queue"),
    path("review/self-reports/<int:pk>/approve/", projects_api.self_report_approve, name="self_report_approve"),
    path("review/self-reports/<int:pk>/reject/", projects_api.self_report_reject, name="self_report_reject"),
]


def schema_view(request, *args, **kwargs):
    """The schema, generated once per release and language and kept in the shared cache: generating it costs
    60-450 ms of CPU, too much to give any visitor for the asking. Its answer differs by ?format= and language."""
    key = f"api-schema:{public_cache.release()}:{get_language()}:{request.GET.get('format', '')}"
    cached = cache.get(key)
    if cached is not None:
        content, content_type = cached
        return HttpResponse(content, content_type=content_type)
    response = _generate_schema(request, *args, **kwargs)
    if response.status_code == 200:
        response.render()
        cache.set(key, (response.content, response["Content-Type"]), timeout=24 * 3600)
    return response


_generate_schema = SpectacularAPIView.as_view()

app_name = "api"
urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", schema_view, name="schema"),
    path(
        "docs/",
        csp_update({"style-src": [SELF, UNSAFE_INLINE]})(SpectacularSwaggerSplitView.as_view(url_name="api:schema")),
        name="docs",
    ),
]

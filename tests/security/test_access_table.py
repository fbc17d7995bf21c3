"""Who may open what: every URL of the project × seven personas, in one table.

The table's keys must be exactly the URL resolver's route names, so a new view without a row fails
`test_the_table_lists_every_route`. Each row says what a GET answers for each persona, on real objects of branch A
(tests/security/world.py; the URL of each row is in tests/security/args.py):

    200   the page          L     302 to the sign-in page          405   GET refused (a state-changing view)
    403   not for this role 404   not found, or out of scope (nothing leaks about other branches)
    "→/path/"  302 elsewhere (e.g. the tracking page back to its form)

Personas: anon (nobody), resident (no account; opened their wish with its tracking code and phone digits),
member_a (branch A), member_b (branch B), secretary_a, secretary_b (branch secretaries: staff, scoped to their
branch), admin (platform superuser, not a member).

Beyond GET: `POST_REFUSED` lists POSTs by outsiders (with a valid CSRF token) that must answer 404 without
changing anything; and every route refuses a POST without a CSRF token (403). The admin has ~300 routes: every one
of them sends a non-staff persona to the admin's sign-in; for the staff personas `ADMIN` gives each ModelAdmin's
changelist and add page, and the change page of branch A's object where the model has one (secretary_b: 404).
"""

import re
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory
from tests.personas import module_rows
from tests.security.args import url_for
from tests.security.routes import route_names, sign_in
from tests.security.world import build_world

pytestmark = pytest.mark.django_db

PERSONAS = ("anon", "resident", "member_a", "member_b", "secretary_a", "secretary_b", "admin")
L = "login"


def row(*statuses) -> dict:
    """A row of the table, in the order of PERSONAS."""
    return dict(zip(PERSONAS, statuses, strict=True))


def everyone(status) -> dict:
    return row(*[status] * len(PERSONAS))


def signed_in_only(status=405) -> dict:
    """Visitors are sent to sign in; every signed-in persona gets `status`."""
    return row(L, L, *[status] * 5)


def api_signed_in(status=405) -> dict:
    """An API operation for accounts: 401 for a visitor (no session, no token); every signed-in persona `status`."""
    return row(401, 401, *[status] * 5)


# Routes a machine posts to without a CSRF token, each with what authenticates it instead.
CSRF_EXEMPT = {"sms_receipt": "SMS_RECEIPT_TOKEN in the address (tests/notifications/test_sms_gateways.py)"}

TO_NEW = "→/wishes/new/"
TO_TRACK = "→/wishes/track/"
TO_BROADCAST = "→/dashboard/messages/new/"  # the broadcast admin's add button: the page that shows the count first

# fmt: off
TABLE = {
    #                                          anon resident member_a member_b sec_a sec_b admin
    "home":                                 everyone(200),
    "healthz":                              everyone(200),
    "login":                                everyone(200),
    "logout":                               everyone(405),  # POST only
    "sign_in_code":                         everyone(200),
    "sign_in_code_confirm":                 everyone("→/accounts/login/code/"),  # no code asked in this session
    "password_reset":                       everyone(200),
    "password_reset_confirm":               everyone("→/accounts/password/reset/"),
    # WeChat sign-in (on in the test settings): off to WeChat's QR page (a PC browser); the callback without the
    # session's state is refused; the bind pages need a WeChat sign-in first; unbinding is a POST from /me/.
    "wechat_start":                         everyone("→https://open.weixin.qq.com/connect/qrconnect?"),
    "wechat_callback":                      everyone(400),
    "wechat_bind":                          everyone(L),
    "wechat_bind_confirm":                  everyone("→/accounts/wechat/bind/"),
    "wechat_unbind":                        signed_in_only(),  # POST only
    # The second factor: nothing owed here, so its page sends each person on to where they land after signing in.
    "second_factor":                        row(L, L, "→/me/", "→/me/", "→/dashboard/", "→/dashboard/", "→/"),
    "second_factor_setup":                  signed_in_only(200),
    "second_factor_turn_off":               signed_in_only(),  # POST only
    "sms_receipt":                          everyone(405),  # a gateway's POST, with the secret in its address
    "set_language":                         everyone("→/"),  # GET changes nothing, it only redirects
    # Inbox and preferences: any account.
    "notifications:inbox":                  signed_in_only(200),
    "notifications:inbox_mark_read":        signed_in_only(),
    "notifications:inbox_mark_all_read":    signed_in_only(),
    "notifications:preferences":            signed_in_only(200),
    # Training: branch A's session is for branch A (and its secretary); the record's evidence for its member.
    "training:index":                       signed_in_only(200),
    "training:session_detail":              row(L,    L,      200,     404,     200,  404,  200),
    "training:enroll":                      signed_in_only(),
    "training:cancel_enrollment":           signed_in_only(),
    "training:attendance":                  row(L,    L,      404,     404,     200,  404,  200),
    "training:material_download":           signed_in_only(200),  # a platform course's material
    "training:evidence_download":           row(L,    L,      200,     404,     200,  404,  200),
    "training:external_record_new":         row(L,    L,      403,     403,     200,  200,  200),
    "training:manage":                      row(L,    L,      403,     403,     200,  200,  200),
    "training:completion":                  row(L,    L,      403,     403,     200,  200,  200),
    "training:completion_export":           row(L,    L,      403,     403,     200,  200,  200),
    # Dashboard, asked for branch A (?org=).
    "dashboard:index":                      row(L,    L,      404,     404,     200,  404,  200),
    "dashboard:export":                     row(L,    L,      404,     404,     200,  404,  200),
    "dashboard:plans":                      row(L,    L,      404,     404,     200,  404,  200),
    "dashboard:plan":                       row(L,    L,      404,     404,     200,  404,  200),
    "dashboard:task":                       row(L,    L,      404,     404,     200,  404,  200),
    "dashboard:reports":                    row(L,    L,      404,     404,     200,  404,  200),
    "dashboard:report_download":            row(L,    L,      404,     404,     200,  404,  200),
    # Member portal: the admin holds no member profile.
    "members:me":                           row(L,    L,      200,     200,     200,  200,  404),
    "members:me_profile":                   row(L,    L,      200,     200,     200,  200,  404),
    "members:me_residence":                 row(L,    L,      200,     200,     200,  200,  404),
    "members:me_records":                   row(L,    L,      200,     200,     200,  200,  404),
    "members:me_record_correction":         row(L,    L,      200,     404,     404,  404,  404),  # one's own record
    "members:me_certificate":               row(L,    L,      200,     200,     200,  200,  404),
    "members:me_data":                      row(L,    L,      200,     200,     200,  200,  404),
    "members:me_data_download":             row(L,    L,      200,     200,     200,  200,  404),
    # The link checks its token, then moves it into the session (Django's password-reset pattern).
    "members:invite_accept":                everyone("→/accounts/invite/"),
    "members:residence_queue":              row(L,    L,      404,     404,     200,  200,  200),
    "members:residence_confirm":            signed_in_only(),
    "members:member_certificate":           row(L,    L,      404,     404,     200,  404,  200),
    # Points and rewards: members only; the objection page is for the rated member.
    "incentives:points":                    row(L,    L,      200,     200,     200,  200,  404),
    "incentives:objection":                 row(L,    L,      200,     404,     404,  404,  404),
    "incentives:publicity":                 row(L,    L,      200,     404,     200,  404,  200),  # branch A's 公示
    "incentives:commendation_consent":      everyone(405),
    "incentives:leaderboard":               row(L,    L,      200,     200,     200,  200,  404),
    "incentives:leaderboard_opt_out":       everyone(405),
    "incentives:rewards":                   row(L,    L,      200,     200,     200,  200,  404),
    "incentives:redeem":                    everyone(405),
    "incentives:redemption_cancel":         everyone(405),
    "incentives:exemplars":                 everyone(200),
    # Residents: public pages; the tracking pages need the code (the resident's session).
    "demands:privacy":                      everyone(200),
    "demands:wall":                         everyone(200),
    "demands:new":                          everyone(200),
    "demands:submitted":                    everyone(TO_NEW),
    "demands:track":                        everyone(200),
    "demands:track_status":                 row(TO_TRACK, 200, TO_TRACK, TO_TRACK, TO_TRACK, TO_TRACK, TO_TRACK),
    "demands:track_withdraw":               everyone(405),
    "demands:track_photo":                  row(404,  200,    404,     404,     404,  404,  404),
    "demands:feedback":                     everyone(200),  # the token in the link is the key
    # Wish wall and claims: the photo for the claimer and A's secretary; fulfilment for the claimer.
    "demands:detail":                       everyone(200),
    "demands:claim":                        signed_in_only(),
    "demands:decline":                      signed_in_only(),
    "demands:release":                      signed_in_only(),
    "demands:fulfil":                       row(L,    L,      200,     404,     404,  404,  403),
    "demands:photo":                        row(L,    L,      200,     404,     200,  404,  200),
    "demands:mine":                         row(L,    L,      200,     200,     200,  200,  403),
    # Review queue: secretaries; branch A's wish is out of B's scope.
    "demands:review":                       row(L,    L,      403,     403,     200,  200,  200),
    "demands:review_detail":                row(L,    L,      404,     404,     200,  404,  200),
    "demands:review_save":                  signed_in_only(),
    "demands:review_reject":                signed_in_only(),
    "demands:review_invite":                signed_in_only(),
    "demands:review_confirm":               signed_in_only(),
    "demands:review_block":                 signed_in_only(),
    # Offers and pairings: their member's.
    "demands:offers":                       everyone(200),
    "demands:my_offers":                    row(L,    L,      200,     200,     200,  200,  403),
    "demands:offer_edit":                   row(L,    L,      200,     404,     404,  404,  403),
    "demands:my_pairings":                  row(L,    L,      200,     200,     200,  200,  403),
    "demands:visit_new":                    row(L,    L,      200,     404,     404,  404,  403),
    # Projects: published projects and activities are public; attendance and the check-in QR for organizers.
    "projects:project_list":                everyone(200),
    "projects:project_detail":              everyone(200),
    "projects:project_qr":                  everyone(200),
    "projects:project_logo":                everyone(404),  # the project has no logo
    "projects:activity_detail":             everyone(200),
    "projects:activity_signup":             everyone(405),
    "projects:activity_cancel_signup":      everyone(405),
    "projects:activity_checkin":            row(L,    L,      200,     200,     200,  200,  404),
    "projects:activity_checkin_qr":         row(L,    L,      404,     404,     200,  404,  200),
    "projects:activity_checkin_screen":     row(L,    L,      404,     404,     200,  404,  200),
    "projects:activity_checkout":           everyone(405),
    "projects:activity_new_code":           everyone(405),
    "projects:activity_checkin_place":      everyone(405),
    "projects:attendance":                  row(L,    L,      404,     404,     200,  404,  200),
    "projects:activity_survey":             row(L,    L,      404,     404,     404,  404,  404),  # nobody attended
    "projects:post_claim":                  everyone(405),
    "projects:post_skip":                   everyone(405),
    "projects:post_leave":                  everyone(405),
    "projects:my_activities":               row(L,    L,      200,     200,     200,  200,  404),
    "projects:self_report":                 row(L,    L,      200,     200,     200,  200,  404),
    "projects:my_calendar":                 row(L,    L,      200,     200,     200,  200,  404),
    "projects:calendar_feed":               everyone(200),  # the secret token in the URL is the key
    # News: branch A's item is for its members (and those who administer it); messages are for secretaries.
    "news:list":                            everyone(200),
    "news:detail":                          row(404,  404,    200,     404,     200,  404,  200),
    "news:photo":                           row(404,  404,    200,     404,     200,  404,  200),
    "news:broadcast_new":                   row(L,    L,      404,     404,     200,  200,  200),
    # Signed-in devices (API tokens): any account, its own.
    "members:me_devices":                   signed_in_only(200),
    "members:me_device_revoke":             signed_in_only(),  # POST only
    # The JSON API. The personas come with their session (the site's own pages call the API so); a visitor is
    # not signed in: 401 (an app would send its device token). POST-only operations: 405 for a GET.
    "api:schema":                           everyone(200),
    "api:docs":                             everyone(200),
    "api:auth_sms_code":                    everyone(405),
    "api:auth_token":                       everyone(405),
    "api:auth_token_rotate":                api_signed_in(405),
    "api:auth_token_revoke":                api_signed_in(405),
    "api:auth_wechat":                      everyone(405),
    "api:auth_wechat_bind":                 everyone(405),
    "api:wish_submit":                      everyone(405),
    "api:wish_track":                       everyone(405),
    "api:wish_feedback":                    everyone(200),
    "api:wish_wall":                        everyone(200),
    "api:wish_detail":                      everyone(200),
    "api:offer_list":                       everyone(200),
    "api:wish_claim":                       api_signed_in(405),
    "api:wish_release":                     api_signed_in(405),
    "api:wish_fulfil":                      api_signed_in(405),
    "api:activity_list":                    everyone(200),
    "api:activity_detail":                  everyone(200),
    "api:activity_signup":                  api_signed_in(405),
    "api:activity_cancel":                  api_signed_in(405),
    "api:activity_checkin":                 api_signed_in(405),
    "api:me":                               row(401,  401,    200,     200,     200,  200,  404),
    "api:me_records":                       row(401,  401,    200,     200,     200,  200,  404),
    "api:me_points":                        row(401,  401,    200,     200,     200,  200,  404),
    "api:me_certificate":                   row(401,  401,    200,     200,     200,  200,  404),
    "api:me_inbox":                         api_signed_in(200),
    "api:me_inbox_read":                    api_signed_in(405),
    "api:me_stars":                         row(401,  401,    200,     200,     200,  200,  404),
    "api:me_preferences":                   api_signed_in(200),
    "api:me_preferences_save":              api_signed_in(405),
    "api:training_sessions":                row(401,  401,    200,     200,     200,  200,  404),
    "api:training_enroll":                  api_signed_in(405),
    "api:training_cancel":                  api_signed_in(405),
    "api:reward_list":                      row(401,  401,    200,     200,     200,  200,  404),
    "api:reward_redeem":                    api_signed_in(405),
    "api:redemption_list":                  row(401,  401,    200,     200,     200,  200,  404),
    "api:redemption_cancel":                api_signed_in(405),
    "api:me_devices":                       api_signed_in(200),
    "api:post_claim":                       api_signed_in(405),
    "api:post_skip":                        api_signed_in(405),
    "api:post_leave":                       api_signed_in(405),
    "api:attendance_sheet":                 row(401,  401,    404,     404,     200,  404,  200),
    "api:attendance_submit":                api_signed_in(405),
    "api:self_report_queue":                row(401,  401,    403,     403,     200,  200,  200),
    "api:self_report_approve":              api_signed_in(405),
    "api:self_report_reject":               api_signed_in(405),
    "api:me_device_revoke":                 api_signed_in(405),
    "api:review_queue":                     row(401,  401,    403,     403,     200,  200,  200),
    "api:review_save":                      api_signed_in(405),
    "api:review_reject":                    api_signed_in(405),
}

# POSTs (with a CSRF token, empty data) by someone for whom the object is out of scope: 404, nothing changes.
POST_REFUSED = {
    "notifications:inbox_mark_read":        {"member_b": 404, "secretary_b": 404},
    "training:enroll":                      {"member_b": 404},
    "training:cancel_enrollment":           {"member_b": 404},
    "training:attendance":                  {"member_b": 404, "secretary_b": 404},
    "dashboard:task":                       {"member_a": 404, "member_b": 404, "secretary_b": 404},
    "dashboard:reports":                    {"member_a": 404, "member_b": 404, "secretary_b": 404},
    "members:residence_confirm":            {"member_a": 404, "member_b": 404},
    "incentives:objection":                 {"member_b": 404, "secretary_b": 404},
    "members:me_record_correction":         {"member_b": 404, "secretary_b": 404},
    "incentives:commendation_consent":      {"member_b": 404, "secretary_b": 404},
    "incentives:redeem":                    {"member_b": 404},
    "incentives:redemption_cancel":         {"member_b": 404, "secretary_b": 404},
    "demands:fulfil":                       {"member_b": 404, "secretary_b": 404},
    "demands:review_save":                  {"member_a": 404, "member_b": 404, "secretary_b": 404},
    "demands:review_reject":                {"member_a": 404, "member_b": 404, "secretary_b": 404},
    "demands:review_invite":                {"member_a": 404, "member_b": 404, "secretary_b": 404},
    "demands:review_confirm":               {"member_a": 404, "member_b": 404, "secretary_b": 404},
    "demands:review_block":                 {"member_a": 404, "member_b": 404, "secretary_b": 404},
    "demands:offer_edit":                   {"member_b": 404, "secretary_b": 404},
    "demands:visit_new":                    {"member_b": 404, "secretary_b": 404},
    "projects:activity_cancel_signup":      {"member_b": 404},
    "projects:attendance":                  {"member_a": 404, "member_b": 404, "secretary_b": 404},
    "projects:activity_new_code":           {"member_a": 404, "member_b": 404, "secretary_b": 404},
    "projects:activity_checkin_place":      {"member_a": 404, "member_b": 404, "secretary_b": 404},
    "projects:post_skip":                   {"member_b": 404},
    "news:broadcast_new":                   {"member_a": 404, "member_b": 404},
    "members:me_device_revoke":             {"member_b": 404, "secretary_b": 404},
    "api:me_device_revoke":                 {"member_b": 404, "secretary_b": 404},
    "api:training_enroll":                  {"member_b": 404, "secretary_b": 404},
    "api:training_cancel":                  {"member_b": 404, "secretary_b": 404},
    "api:reward_redeem":                    {"member_b": 404, "secretary_b": 404},
    "api:redemption_cancel":                {"member_b": 404, "secretary_b": 404},
    "api:post_skip":                        {"member_b": 404, "secretary_b": 404},
    "api:post_leave":                       {"member_b": 404, "secretary_b": 404},
    "api:attendance_submit":                {"member_a": 404, "member_b": 404, "secretary_b": 404},
    "api:self_report_approve":              {"member_a": 403, "member_b": 403, "secretary_b": 404},
    "api:self_report_reject":               {"member_a": 403, "member_b": 403, "secretary_b": 404},
    "api:me_inbox_read":                    {"member_b": 404, "secretary_b": 404},
    "api:wish_fulfil":                      {"member_b": 404},
    "api:activity_cancel":                  {"member_b": 404},
    "api:review_save":                      {"member_b": 403, "secretary_b": 404},
    "api:review_reject":                    {"member_b": 403, "secretary_b": 404},
    "wechat_unbind":                        {"member_b": 404, "secretary_b": 404},  # no binding of theirs named
}

# The admin for staff. (changelist, add page) of each ModelAdmin for a branch secretary — the same for A and B,
# the lists are scoped — and, where branch A has an object, the change page: (secretary_a, secretary_b).
# The platform admin gets 200 everywhere, except add pages of models written only by services (403).
SUPERUSER_ONLY = (403, 403)
ADMIN = {
    #                                           secretary (list, add)  A's object (sec_a, sec_b)   admin add
    "auth.group":                               (SUPERUSER_ONLY,       None,                        200),
    "auth.user":                                (SUPERUSER_ONLY,       None,                        200),
    "axes.accessattempt":                       (SUPERUSER_ONLY,       None,                        403),
    "axes.accesslog":                           (SUPERUSER_ONLY,       None,                        403),
    "axes.accessfailurelog":                    (SUPERUSER_ONLY,       None,                        403),
    "audit.auditevent":                         (SUPERUSER_ONLY,       None,                        403),
    "django_celery_beat.periodictask":          (SUPERUSER_ONLY,       None,                        200),
    "django_celery_beat.clockedschedule":       (SUPERUSER_ONLY,       None,                        200),
    "django_celery_beat.crontabschedule":       (SUPERUSER_ONLY,       None,                        200),
    "django_celery_beat.solarschedule":         (SUPERUSER_ONLY,       None,                        200),
    "django_celery_beat.intervalschedule":      (SUPERUSER_ONLY,       None,                        200),
    "notifications.notification":               (SUPERUSER_ONLY,       None,                        403),
    "notifications.notificationpreference":     (SUPERUSER_ONLY,       None,                        403),
    "members.organization":                     ((200, 200),           ("branch_a", 200, 404),      200),
    "members.community":                        ((200, 200),           ("community_a", 200, 404),   200),
    "members.tag":                              ((200, 200),           None,                        200),
    "members.member":                           ((200, 200),           ("member_a", 200, 404),      200),
    # Member B registered at community A: both secretaries see it (B's member, A's community).
    "members.residenceregistration":            ((200, 200),           ("registration", 200, 200),  200),
    "members.deletionrequest":                  ((200, 403),           None,                        403),
    "members.transfer":                         ((200, 403),           None,                        403),
    "members.wechatbinding":                    ((200, 403),           ("wechat_binding", 200, 404), 403),
    "members.team":                             ((200, 200),           None,                        200),
    "members.servicerecord":                    ((200, 200),           None,                        200),
    "members.servicerecordcorrection":          ((200, 200),           None,                        200),
    "members.nationalexportbatch":              ((200, 200),           ("national_batch", 200, 404), 200),
    "incentives.rule":                          ((200, 403),           None,                        403),
    "incentives.ledgerentry":                   ((200, 403),           None,                        403),
    "incentives.pointsbalance":                 ((200, 403),           None,                        403),
    "incentives.catalogueitem":                 ((200, 200),           ("item", 200, 404),          200),
    "incentives.redemption":                    ((200, 403),           ("redemption", 200, 404),    403),
    "incentives.starscheme":                    ((200, 200),           None,                        200),
    "incentives.ratingrun":                     ((200, 200),           ("rating.run", 200, 404),    200),
    "incentives.starrating":                    ((200, 403),           ("rating", 200, 404),        403),
    "incentives.objection":                     ((200, 403),           None,                        403),
    "incentives.commendation":                  ((200, 200),           ("commendation", 200, 404),  200),
    "training.course":                          ((200, 200),           None,                        200),
    "training.trainingsession":                 ((200, 200),           ("session", 200, 404),       200),
    "training.trainingrecord":                  ((200, 403),           ("record", 200, 404),        403),
    "training.annualrequirement":               ((200, 200),           None,                        200),
    "demands.wishcategory":                     ((200, 403),           None,                        200),
    "demands.microwish":                        ((200, 403),           ("submitted", 200, 404),     403),
    "demands.contactaccesslog":                 ((200, 403),           None,                        403),
    "demands.blockedphone":                     ((200, 403),           None,                        200),
    "demands.blockednetwork":                   (SUPERUSER_ONLY,       None,                        200),
    "demands.serviceoffer":                     ((200, 403),           ("offer", 200, 404),         403),
    "demands.household":                        ((200, 200),           ("pairing.household", 200, 404), 200),
    "demands.pairing":                          ((200, 200),           ("pairing", 200, 404),       200),
    "projects.projectcategory":                 ((200, 403),           None,                        200),
    "projects.serviceproject":                  ((200, 200),           ("project", 200, 404),       200),
    "projects.activity":                        ((200, 200),           ("activity", 200, 404),      200),
    "projects.postclaim":                       ((200, 403),           None,                        403),
    "projects.selfreport":                      ((200, 403),           None,                        403),
    "volunteer_platform.plan":                  ((200, 200),           ("plan", 200, 404),          200),
    "volunteer_platform.task":                  ((200, 200),           ("task", 200, 404),          200),
    "volunteer_platform.jobfailure":            (SUPERUSER_ONLY,       None,                        403),
    "news.news":                                ((200, 200),           ("news", 200, 404),          200),
    "news.broadcast":                           ((200, TO_BROADCAST),  None,                        TO_BROADCAST),
}
# fmt: on

# Admin routes a non-staff persona may open: the admin's own sign-in page, and its logout, which sends a GET back
# to the admin (and so to its sign-in); every other one sends them to the admin's sign-in.
ADMIN_OPEN = {"admin:login": 200, "admin:logout": "→/admin/"}
PLACEHOLDERS = {"int": "1", "str": "x", "path": "1", "slug": "x"}


def test_the_table_lists_every_route():
    names = route_names()
    project_routes = {name for name in names if not name.startswith("admin:")}
    assert set(TABLE) == project_routes, "add a row for each new view (and remove rows of deleted views)"
    assert set(POST_REFUSED) <= project_routes
    admins = {model._meta.label_lower for model in admin.site._registry}
    assert set(ADMIN) == admins, "add a row for each new ModelAdmin"
    assert all(set(statuses) == set(PERSONAS) for statuses in TABLE.values())


def _status(response) -> int | str:
    if response.status_code != 302:
        return response.status_code
    if urlsplit(response.url).path in ("/accounts/login/", "/admin/login/"):  # not /accounts/login/code/
        return L
    return "→" + response.url


def _matches(expected, got) -> bool:
    if isinstance(expected, str) and expected.startswith("→"):
        return isinstance(got, str) and got.startswith(expected)
    return expected == got


def _get(obj, dotted: str):
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _admin_url(label: str, view: str, *args) -> str:
    app, model = label.split(".")
    return reverse(f"admin:{app}_{model}_{view}", args=args)


def _filled(route: str) -> str:
    return "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: PLACEHOLDERS.get(m.group(1) or "str", "x"), route)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """One street for every persona's table; each test runs in a savepoint (tests/personas.py: module_rows)."""
    with module_rows(django_db_blocker):
        yield build_world(UserFactory(username="admin", is_staff=True, is_superuser=True))


@pytest.mark.parametrize("persona", PERSONAS)
def test_access_table(persona, world):
    client = Client()
    client.raise_request_exception = False
    sign_in(client, persona, world)
    failures = []

    def check(what: str, expected, response) -> None:
        got = _status(response)
        if not _matches(expected, got):
            failures.append(f"{what}: expected {expected}, got {got}")

    for name, statuses in TABLE.items():
        check(f"GET {name}", statuses[persona], client.get(url_for(name, world)))

    # Outsiders' POSTs: refused, and nothing changed (each persona's test runs in a savepoint of the one world, so
    # no test sees another's writes; here the row counts of the touched tables must stay put).
    counts_before = _row_counts()
    for name, statuses in POST_REFUSED.items():
        if persona in statuses:
            check(f"POST {name}", statuses[persona], client.post(url_for(name, world), {}))
    assert _row_counts() == counts_before

    # No POST without a CSRF token reaches a view (the middleware's check does not depend on who asks: a visitor,
    # a member and the admin are enough).
    if persona in ("anon", "member_a", "admin"):
        strict = Client(enforce_csrf_checks=True)
        if persona != "anon":
            user = getattr(world, persona)
            strict.force_login(getattr(user, "user", user))
        for name in TABLE:
            if name in CSRF_EXEMPT or (persona == "anon" and name.startswith("api:")):
                # A visitor's API call carries no credential a forged form could borrow (the API reads no
                # session of a visitor; an app's token is a header): nothing for CSRF to protect.
                continue
            check(f"POST without CSRF {name}", 403, strict.post(url_for(name, world), {}))

    # The admin.
    if persona in ("secretary_a", "secretary_b", "admin"):
        for label, (secretary, obj, admin_add) in ADMIN.items():
            listing, add = (200, admin_add) if persona == "admin" else secretary
            check(f"admin {label} changelist", listing, client.get(_admin_url(label, "changelist")))
            check(f"admin {label} add", add, client.get(_admin_url(label, "add")))
            if obj is not None:
                attr, status_a, status_b = obj
                expected = {"secretary_a": status_a, "secretary_b": status_b, "admin": 200}[persona]
                url = _admin_url(label, "change", _get(world, attr).pk)
                check(f"admin {label} change", expected, client.get(url))
    else:
        for name, route in route_names().items():
            if name.startswith("admin:"):
                expected = ADMIN_OPEN.get(name, L)
                check(f"GET {name}", expected, client.get(_filled(route)))

    assert not failures, f"{persona}:\n" + "\n".join(failures)


def _row_counts() -> dict[str, int]:
    from demands.models import MicroWish, WishEvent
    from incentives.models import LedgerEntry, Objection, Redemption
    from members.models import ResidenceRegistration, ServiceRecord
    from projects.models import SelfReport, SignUp
    from training.models import Enrollment
    from volunteer_platform.models import Task

    models = (MicroWish, WishEvent, LedgerEntry, Objection, Redemption, ResidenceRegistration, ServiceRecord)
    counts = {m.__name__: m.objects.count() for m in (*models, SignUp, Enrollment, Task)}
    counts["wish states"] = sorted(MicroWish.objects.values_list("state", flat=True))
    counts["task states"] = sorted(Task.objects.values_list("status", flat=True))
    counts["self-report states"] = sorted(SelfReport.objects.values_list("status", flat=True))
    return counts

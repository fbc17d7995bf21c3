"""Every write of the projects app.

Functions are keyword-only, typed and atomic; each docstring names the lock it takes and the invariant it keeps.
A broken rule raises `django.core.exceptions.ValidationError` with a Chinese message, before anything is written.

Seats. An activity's capacity is never exceeded: every service that gives or frees a seat first locks the activity
row (SELECT … FOR UPDATE) and then counts the sign-ups holding a seat, so concurrent sign-ups queue on that row and
the count each one sees is exact; the count is not stored anywhere else. A member's row is locked next: two
sign-ups of one member to two overlapping activities hold different activity locks, and the member lock makes the
second one see the first before it checks for an overlap.

Lock order, the same everywhere (so two services never wait for each other in a circle):
    project → post → activities (by id) → members (by id).
A service that touches several activities locks all of them before any member. Sign-up rows are locked only while
their activity's lock is held (check-in and sign-out, which lock one sign-up row and nothing else, are the exception).

Services do not decide who may call them: views and the admin check scope through `projects.selectors` first.
"""

from ._common import (
    CHECKIN_EARLY,
    CHECKIN_LATE,
    GENERATE_WEEKS,
    GENERATED_CANCEL_CUTOFF,
    KEEP,
    NO_SHOW_WINDOW,
    new_checkin_code,
)
from .activities import (
    activity_cancel,
    activity_create,
    activity_update,
    activity_windows,
)
from .attendance import AttendanceResult, attendance_submit, default_hours
from .calendar import activities_generate_all, calendar_feed_for
from .checkin import (
    CHECKIN_STEP_SECONDS,
    Position,
    activity_checkin_place_set,
    activity_new_code,
    checkin_token,
    checkin_window,
    distance_m,
    seconds_to_next_step,
    signout_window,
    signup_check_in,
    signup_check_out,
)
from .projects import project_save
from .recurring import ClaimResult, activities_generate, post_claim, post_leave, post_save, post_skip
from .scheduled import activity_reminders_plan, activity_reminders_send, waitlists_promote
from .self_reports import self_report_approve, self_report_reject, self_report_submit
from .signups import (
    _overlapping,
    _seats_taken,
    _signup_state,
    check_member_may_serve,
    no_shows_recently,
    signup_cancel,
    signup_create,
    team_signup_create,
)
from .surveys import activity_surveys_plan, activity_surveys_send, survey_submit

__all__ = [
    "AttendanceResult",
    "CHECKIN_EARLY",
    "CHECKIN_LATE",
    "CHECKIN_STEP_SECONDS",
    "ClaimResult",
    "GENERATED_CANCEL_CUTOFF",
    "GENERATE_WEEKS",
    "KEEP",
    "NO_SHOW_WINDOW",
    "Position",
    "_overlapping",
    "_seats_taken",
    "_signup_state",
    "activities_generate",
    "activities_generate_all",
    "activity_cancel",
    "activity_checkin_place_set",
    "activity_create",
    "activity_new_code",
    "activity_reminders_plan",
    "activity_reminders_send",
    "activity_surveys_plan",
    "activity_surveys_send",
    "activity_update",
    "activity_windows",
    "attendance_submit",
    "calendar_feed_for",
    "check_member_may_serve",
    "checkin_token",
    "checkin_window",
    "default_hours",
    "distance_m",
    "new_checkin_code",
    "no_shows_recently",
    "post_claim",
    "post_leave",
    "post_save",
    "post_skip",
    "project_save",
    "self_report_approve",
    "self_report_reject",
    "seconds_to_next_step",
    "self_report_submit",
    "signup_cancel",
    "signout_window",
    "signup_check_in",
    "signup_check_out",
    "signup_create",
    "survey_submit",
    "team_signup_create",
    "waitlists_promote",
]

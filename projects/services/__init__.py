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
their activity's lock is held (check-in, which locks one sign-up row and nothing else, is the exception).

Services do not decide who may call them: views and the admin check scope through `projects.selectors` first.
"""

import contextlib
import functools
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core import public_cache
from core.text import check_text
from members import services as members_services
from members.models import Member, ServiceRecord, Tag, Team
from members.validators import check_service_times
from notifications import fanout
from notifications.services import Message, notify, notify_many, user_messages
from training.selectors import is_qualified

from .. import selectors
from ..models import (
    Activity,
    ActivitySurvey,
    CalendarFeed,
    Post,
    PostClaim,
    PostSkip,
    SelfReport,
    ServiceProject,
    SignUp,
)
from ..validators import clean_logo

# The no-show restriction (DESIGN.md: "repeated no-shows restrict new sign-ups"): settings.NO_SHOW_LIMIT no-shows
# among the activities that started within the window refuse new sign-ups and post claims until the oldest one ages
# out.
NO_SHOW_WINDOW = timedelta(days=90)

# Check-in is open from an hour before the start to an hour after it, both ends included.
CHECKIN_EARLY = timedelta(hours=1)
CHECKIN_LATE = timedelta(hours=1)

# Activities generated from a recurrence rule or a post: sign-up closes at the start, cancellation a day before.
GENERATE_WEEKS = 8
GENERATED_CANCEL_CUTOFF = timedelta(hours=24)


KEEP = object()  # activity_update: leave the on-site leader as it is


def _lock_activity(activity: Activity) -> Activity:
    # of=("self",): the project joined for its rules is read, not locked.
    return Activity.objects.select_for_update(of=("self",)).select_related("project").get(pk=activity.pk)


def _lock_activities(activity_ids: Iterable[int]) -> dict[int, Activity]:
    """Lock activity rows in id order (the fixed order) and return them by id."""
    rows = Activity.objects.select_for_update(of=("self",)).select_related("project").filter(pk__in=set(activity_ids))
    return {a.pk: a for a in rows.order_by("pk")}


def _lock_members(member_ids: Iterable[int]) -> dict[int, Member]:
    """Lock member rows in id order (the fixed order) and return them by id."""
    rows = Member.objects.select_for_update(of=("self",)).select_related("user").filter(pk__in=set(member_ids))
    return {m.pk: m for m in rows.order_by("pk")}


def new_checkin_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def _as_hours(value, field_name: str = "hours") -> Decimal:
    try:
        hours = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({field_name: _("请填写有效的服务时长。")}) from None
    if not hours.is_finite() or hours <= 0:
        raise ValidationError({field_name: _("服务时长必须大于0。")})
    return hours


def _person_name(user) -> str:
    """How a record names the person in charge (负责人): the member's name, else the account's name."""
    if user is None:
        return ""
    member = Member.objects.filter(user=user).only("name").first()
    return member.name if member is not None else (user.get_full_name() or user.get_username())


# --- Projects ---------------------------------------------------------------------------------------------------


def check_project(*, project: ServiceProject) -> None:
    """The rules of a project's fields a CHECK cannot state, shared by the admin form (clean) and `project_save`."""
    errors = {}
    if project.grid_id is not None and project.community_id is not None:
        if project.grid.community_id != project.community_id:
            errors["grid"] = _("网格不在所选社区（村）内。")
    elif project.grid_id is not None:
        errors["community"] = _("选择网格时请同时选择社区（村）。")
    if project.recurrence != ServiceProject.Recurrence.NONE:
        missing = [
            f
            for f in ("recurrence_weekday", "recurrence_time", "recurrence_minutes", "recurrence_capacity")
            if not getattr(project, f) and getattr(project, f) != 0
        ]
        for name in missing:
            errors[name] = _("重复的项目需要填写此项。")
        if project.recurrence == ServiceProject.Recurrence.MONTHLY and not (1 <= (project.recurrence_week or 0) <= 4):
            errors["recurrence_week"] = _("每月重复的项目需要填写第几周（1–4）。")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def project_save(*, project: ServiceProject, actor, skills_wanted: Iterable[Tag] | None = None) -> ServiceProject:
    """Create or change a project (the admin's form fills the instance).

    No lock: a project row is changed by its organizers only. Invariants: the CHECKs (recurrence complete, known
    mode and groups) and `check_project`; a newly uploaded logo is stored only as the PNG `clean_logo` re-encoded.
    """
    public_cache.changed("projects")  # the public project pages show it (core/public_cache.py)
    check_project(project=project)
    if project.logo and isinstance(getattr(project.logo, "file", None), UploadedFile):
        try:
            cleaned = clean_logo(project.logo.file)
        except ValidationError as exc:
            raise ValidationError({"logo": exc.messages}) from None
        project.logo.save(cleaned.name, cleaned, save=False)
    if project.recurrence == ServiceProject.Recurrence.NONE:
        project.recurrence_weekday = project.recurrence_week = project.recurrence_time = None
        project.recurrence_minutes = project.recurrence_capacity = None
    elif project.recurrence == ServiceProject.Recurrence.WEEKLY:
        project.recurrence_week = None
    if project.pk is None:
        project.created_by = actor
    project.title = project.title.strip()
    project.save()
    if skills_wanted is not None:
        project.skills_wanted.set(list(skills_wanted))
    return project


# --- Activities -------------------------------------------------------------------------------------------------


def check_activity(
    *,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int | None,
    signup_opens_at: datetime,
    signup_closes_at: datetime,
    cancel_cutoff_at: datetime,
) -> None:
    """The rules of an activity's times and seats (the same as its CHECKs, as messages on the form's fields)."""
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": _("结束时间必须晚于开始时间。")})
    if capacity is None or capacity <= 0:
        raise ValidationError({"capacity": _("名额必须大于0。")})
    if signup_closes_at <= signup_opens_at:
        raise ValidationError({"signup_closes_at": _("报名截止应晚于报名开始。")})
    if signup_closes_at > starts_at:
        raise ValidationError({"signup_closes_at": _("报名截止不能晚于活动开始。")})
    if cancel_cutoff_at > starts_at:
        raise ValidationError({"cancel_cutoff_at": _("取消截止不能晚于活动开始。")})


def check_activity_start(*, starts_at: datetime, now: datetime) -> None:
    """A new activity, or one moved to another time, starts after `now`: members must be able to sign up for it."""
    if starts_at <= now:
        raise ValidationError({"starts_at": _("开始时间已过，请填写将来的时间。")})


def activity_windows(
    *,
    starts_at: datetime,
    signup_opens_at: datetime | None = None,
    signup_closes_at: datetime | None = None,
    cancel_cutoff_at: datetime | None = None,
    now: datetime,
) -> tuple[datetime, datetime, datetime]:
    """(sign-up opens, closes, cancellation cut-off), each as given or by the one default rule of the admin,
    `activity_create` and `activities_generate`: sign-up opens now and closes at the start (so an activity starting
    soon is open at once until it starts), cancellation is free until GENERATED_CANCEL_CUTOFF before the start, or
    until now when the start is closer. No default makes sense for a start that is not after `now` (the window would
    lie in the past): a window left empty then is refused, on `starts_at` (`check_activity_start`)."""
    if None in (signup_opens_at, signup_closes_at, cancel_cutoff_at):
        check_activity_start(starts_at=starts_at, now=now)
    closes = signup_closes_at or starts_at
    opens = signup_opens_at or min(now, closes - timedelta(minutes=1))
    cutoff = cancel_cutoff_at or max(starts_at - GENERATED_CANCEL_CUTOFF, now)
    return opens, closes, cutoff


@transaction.atomic
def activity_create(
    *,
    project: ServiceProject,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    place: str = "",
    title: str = "",
    signup_opens_at: datetime | None = None,
    signup_closes_at: datetime | None = None,
    cancel_cutoff_at: datetime | None = None,
    post: Post | None = None,
    leader: Member | None = None,
) -> Activity:
    """Schedule one activity of `project` with a fresh 6-digit check-in code; `leader` is its on-site leader
    (现场负责人), whose attendance is recorded in that role (`_record_hours`).

    No lock: a new row. The windows left empty take the defaults of `activity_windows` (sign-up opens now and closes
    at the start; cancellation is free until a day before, or until now when the start is closer), which need a
    start in the future. Invariants: the CHECKs (times in order, capacity > 0) and one activity per project and start
    (UNIQUE). History (an activity entered after it took place, with all its windows given: the demo's past
    activities) is accepted here; the admin refuses a past start (forms.ActivityAdminForm).
    """
    public_cache.changed("projects")  # the public project pages show it (core/public_cache.py)
    opens, closes, cutoff = activity_windows(
        starts_at=starts_at,
        signup_opens_at=signup_opens_at,
        signup_closes_at=signup_closes_at,
        cancel_cutoff_at=cancel_cutoff_at,
        now=timezone.now(),
    )
    check_activity(
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        signup_opens_at=opens,
        signup_closes_at=closes,
        cancel_cutoff_at=cutoff,
    )
    if Activity.objects.filter(project=project, starts_at=starts_at).exists():
        raise ValidationError({"starts_at": _("该项目在这个时间已有活动。")})
    place = (place or project.place).strip()
    if not place:
        raise ValidationError({"place": _("请填写活动地点。")})
    check_leader(leader)
    return Activity.objects.create(
        project=project,
        post=post,
        leader=leader,
        title=title.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        place=place,
        capacity=capacity,
        signup_opens_at=opens,
        signup_closes_at=closes,
        cancel_cutoff_at=cutoff,
        checkin_code=new_checkin_code(),
    )


@transaction.atomic
def activity_update(
    *,
    activity: Activity,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    place: str,
    title: str,
    signup_opens_at: datetime,
    signup_closes_at: datetime,
    cancel_cutoff_at: datetime,
    leader: Member | None | object = KEEP,
) -> Activity:
    """Change a scheduled activity (its on-site leader too, unless `leader` is left as KEEP). Lock: the activity
    row. Invariants: the capacity is never below the seats already taken; raising it promotes waitlisted members
    (notified) into the new seats; a start that moves, moves into the future (`check_activity_start`). Any valid
    window may be given — an organizer extends sign-up this way."""
    public_cache.changed("projects")  # the public project pages show it (core/public_cache.py)
    activity = _lock_activity(activity)
    if activity.status != Activity.Status.SCHEDULED:
        raise ValidationError(_("已取消或已记录考勤的活动不能修改。"))
    if starts_at != activity.starts_at:
        check_activity_start(starts_at=starts_at, now=timezone.now())
    check_activity(
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        signup_opens_at=signup_opens_at,
        signup_closes_at=signup_closes_at,
        cancel_cutoff_at=cancel_cutoff_at,
    )
    taken = _seats_taken(activity)
    if capacity < taken:
        raise ValidationError({"capacity": _("已有 %(taken)d 人报名，名额不能少于报名人数。") % {"taken": taken}})
    if Activity.objects.filter(project_id=activity.project_id, starts_at=starts_at).exclude(pk=activity.pk).exists():
        raise ValidationError({"starts_at": _("该项目在这个时间已有活动。")})
    activity.starts_at, activity.ends_at, activity.capacity = starts_at, ends_at, capacity
    activity.place, activity.title = place.strip(), title.strip()
    activity.signup_opens_at, activity.signup_closes_at = signup_opens_at, signup_closes_at
    activity.cancel_cutoff_at = cancel_cutoff_at
    if leader is not KEEP:
        check_leader(leader)
        activity.leader = leader
    activity.save()
    _promote(activity, timezone.now())
    return activity


def check_leader(leader: Member | None) -> None:
    if leader is not None and leader.status != Member.Status.ACTIVE:
        raise ValidationError({"leader": _("现场负责人须为在册党员。")})


@transaction.atomic
def activity_cancel(*, activity: Activity, actor, reason: str = "") -> Activity:
    """Cancel a scheduled activity: every confirmed or waitlisted sign-up is cancelled and told (in-app).

    Lock: the activity row, then its sign-ups. Idempotent: cancelling twice changes nothing and tells nobody twice.
    """
    public_cache.changed("projects")  # the public project pages show it (core/public_cache.py)
    activity = _lock_activity(activity)
    if activity.status == Activity.Status.CANCELLED:
        return activity
    if activity.status != Activity.Status.SCHEDULED:
        raise ValidationError(_("已结束的活动不能取消。"))
    signups = list(
        SignUp.objects.select_for_update(of=("self",))
        .filter(activity=activity, status__in=(SignUp.Status.CONFIRMED, SignUp.Status.WAITLISTED))
        .select_related("member__user")
        .order_by("pk")
    )
    now = timezone.now()
    SignUp.objects.filter(pk__in=[s.pk for s in signups]).update(
        status=SignUp.Status.CANCELLED, cancelled_at=now, waitlist_position=None
    )
    activity.status = Activity.Status.CANCELLED
    activity.save(update_fields=["status"])
    for signup in signups:
        notify(
            template="projects_activity_cancelled",
            channel="inapp",
            user=signup.member.user,
            dedupe_key=f"projects-activity-cancelled:{signup.pk}",
            kind="activity_reminder",
            context={**_activity_context(activity), "name": signup.member.name, "reason": reason.strip()},
        )
    return activity


def _activity_context(activity: Activity) -> dict:
    return {
        "activity": activity.display_title,
        "starts_at": timezone.localtime(activity.starts_at).strftime("%Y-%m-%d %H:%M"),
        "place": activity.place,
        "url": reverse("projects:activity_detail", args=[activity.pk]),
    }


# --- Sign-ups ---------------------------------------------------------------------------------------------------


# What a sign-up asks under its locks, each rule written once as a scalar subquery with named parameters:
# _signup_state asks all five in one statement (built by the ORM they cost more CPU under the lock than they take
# to run, see bench/profile_storm.py), and a service that needs one answer runs that one alone.
_SIGNUP_QUESTIONS = {
    # the member's no-shows at activities that started within NO_SHOW_WINDOW before now
    "no_shows": """SELECT COUNT(*) FROM {signup} s INNER JOIN {activity} a ON a."id" = s."activity_id"
        WHERE s."member_id" = %(member)s AND s."status" = %(no_show)s AND a."starts_at" >= %(since)s""",
    # the activity's seats taken
    "taken": """SELECT COUNT(*) FROM {signup} WHERE "activity_id" = %(activity)s AND "status" IN ({seat})""",
    # the last waitlist place given out (NULL while nobody waits)
    "last_place": """SELECT MAX("waitlist_position") FROM {signup}
        WHERE "activity_id" = %(activity)s AND "status" = %(waitlisted)s""",
    # the member's active sign-ups of the activity (one at most)
    "mine": """SELECT COUNT(*) FROM {signup}
        WHERE "activity_id" = %(activity)s AND "member_id" = %(member)s AND "status" IN ({active})""",
    # another scheduled activity the member is confirmed for whose time overlaps the activity's (touching ends do not)
    "overlapping": """SELECT s."activity_id" FROM {signup} s INNER JOIN {activity} a ON a."id" = s."activity_id"
        WHERE s."member_id" = %(member)s AND s."status" = %(confirmed)s AND a."status" = %(scheduled)s
          AND a."starts_at" < %(ends)s AND a."ends_at" > %(starts)s AND s."activity_id" <> %(activity)s
        LIMIT 1""",
}


@functools.cache
def _signup_sql(questions: tuple[str, ...]) -> str:
    """One SELECT answering `questions` in their order, written once per process (table names, status lists)."""
    q = connection.ops.quote_name
    names = {
        "signup": q(SignUp._meta.db_table),
        "activity": q(Activity._meta.db_table),
        "seat": ", ".join(f"%(seat{i})s" for i in range(len(SignUp.SEAT_STATUSES))),
        "active": ", ".join(f"%(active{i})s" for i in range(len(SignUp.ACTIVE_STATUSES))),
    }
    return "SELECT " + ", ".join(f"({_SIGNUP_QUESTIONS[name].format(**names)})" for name in questions)


def _ask(
    questions: tuple[str, ...],
    *,
    activity: Activity | None = None,
    member: Member | None = None,
    now: datetime | None = None,
) -> tuple:
    """The answers to `questions` (keys of _SIGNUP_QUESTIONS) about `activity`, `member` and `now`, one statement."""
    when = connection.ops.adapt_datetimefield_value
    # The statuses are TextChoices members: handed to the driver as the plain strings they are.
    params: dict[str, object] = {
        "no_show": str(SignUp.Status.NO_SHOW),
        "waitlisted": str(SignUp.Status.WAITLISTED),
        "confirmed": str(SignUp.Status.CONFIRMED),
        "scheduled": str(Activity.Status.SCHEDULED),
        **{f"seat{i}": str(status) for i, status in enumerate(SignUp.SEAT_STATUSES)},
        **{f"active{i}": str(status) for i, status in enumerate(SignUp.ACTIVE_STATUSES)},
    }
    if activity is not None:
        params |= {"activity": activity.pk, "starts": when(activity.starts_at), "ends": when(activity.ends_at)}
    if member is not None:
        params["member"] = member.pk
    if now is not None:
        params["since"] = when(now - NO_SHOW_WINDOW)
    with connection.cursor() as cursor:
        cursor.execute(_signup_sql(questions), params)
        return cursor.fetchone()


def _seats_taken(activity: Activity) -> int:
    return _ask(("taken",), activity=activity)[0]


def no_shows_recently(member: Member, now: datetime | None = None) -> int:
    """No-shows of `member` at activities that started within NO_SHOW_WINDOW before `now`."""
    return _ask(("no_shows",), member=member, now=now or timezone.now())[0]


def check_member_may_serve(
    *, project: ServiceProject, member: Member, on: date, now: datetime, no_shows: int | None = None
) -> None:
    """Rules about the member, shared by sign-ups and post claims: active, trained (the course gate: 条例第16条,
    specialised service needs training first) and not restricted for repeated no-shows (`no_shows`, the member's
    recent no-shows when the caller has counted them already, see _signup_state)."""
    if member.status != Member.Status.ACTIVE:
        raise ValidationError(_("只有在册党员可以报名。"))
    course = project.course_required
    if course is not None and not is_qualified(member, course, on=on):
        raise ValidationError(
            _("该项目需要先完成培训“%(course)s”（且在有效期内）才能报名。") % {"course": course.title}
        )
    if (no_shows_recently(member, now) if no_shows is None else no_shows) >= settings.NO_SHOW_LIMIT:
        raise ValidationError(
            _("您在最近%(days)d天内缺席了%(count)d次活动，暂时不能报名新的活动。")
            % {"days": NO_SHOW_WINDOW.days, "count": settings.NO_SHOW_LIMIT}
        )


def check_activity_open(activity: Activity, now: datetime) -> None:
    if activity.status != Activity.Status.SCHEDULED or activity.project.status != ServiceProject.Status.PUBLISHED:
        raise ValidationError(_("该活动不在报名中。"))
    if now < activity.signup_opens_at:
        raise ValidationError(
            _("报名将于 %(when)s 开始。")
            % {"when": timezone.localtime(activity.signup_opens_at).strftime("%m-%d %H:%M")}
        )
    if now >= activity.signup_closes_at:
        raise ValidationError(_("该活动已截止报名。"))


def _overlapping(member: Member, activity: Activity) -> Activity | None:
    """Another activity `member` is confirmed for whose time overlaps `activity` (touching ends do not overlap).
    Asks for the id first and loads the activity only when there is one: this runs under the activity's lock."""
    (other_id,) = _ask(("overlapping",), activity=activity, member=member)
    return None if other_id is None else Activity.objects.select_related("project").get(pk=other_id)


def _overlap_error(member: Member, other: Activity) -> ValidationError:
    return ValidationError(
        _("%(name)s已报名同一时间的活动“%(other)s”（%(when)s），时间冲突。")
        % {
            "name": member.name,
            "other": other.display_title,
            "when": timezone.localtime(other.starts_at).strftime("%m-%d %H:%M"),
        }
    )


@dataclass(frozen=True)
class _SignupState:
    """What a sign-up decides under its locks: the member's recent no-shows, the activity's seats taken and next
    waitlist place, whether the member already holds an active sign-up of it, and the id of another scheduled
    activity the member is confirmed for whose time overlaps it (None when there is none)."""

    no_shows: int
    taken: int
    next_position: int
    already: bool
    overlapping_id: int | None


def _signup_state(activity: Activity, member: Member, now: datetime) -> _SignupState:
    """Everything a sign-up reads under the activity's and the member's locks, in one statement."""
    no_shows, taken, last_place, mine, other = _ask(
        ("no_shows", "taken", "last_place", "mine", "overlapping"), activity=activity, member=member, now=now
    )
    return _SignupState(no_shows, taken, (last_place or 0) + 1, mine > 0, other)


def _signup_locked(
    *,
    activity: Activity,
    member: Member,
    now: datetime,
    team: Team | None = None,
    claim: PostClaim | None = None,
) -> SignUp:
    """Sign `member` up; the caller holds the activity lock and then the member lock. Confirmed while seats are
    left, waitlisted otherwise. The callers announce the change to the public pages (public_cache.changed) before
    they lock: a round trip to the cache less under the activity's lock."""
    check_activity_open(activity, now)
    state = _signup_state(activity, member, now)
    check_member_may_serve(
        project=activity.project,
        member=member,
        on=timezone.localdate(activity.starts_at),
        now=now,
        no_shows=state.no_shows,
    )
    if state.already:
        raise ValidationError(_("您已报名该活动。"))
    if state.overlapping_id is not None:
        raise _overlap_error(member, Activity.objects.select_related("project").get(pk=state.overlapping_id))
    if state.taken < activity.capacity:
        status, position = SignUp.Status.CONFIRMED, None
    else:
        status, position = SignUp.Status.WAITLISTED, state.next_position
    try:
        with transaction.atomic():
            return SignUp.objects.create(
                activity=activity, member=member, team=team, claim=claim, status=status, waitlist_position=position
            )
    except IntegrityError:  # the partial UNIQUE: the same member, twice (only without the member lock)
        raise ValidationError(_("您已报名该活动。")) from None


@transaction.atomic
def signup_create(*, activity: Activity, member: Member) -> SignUp:
    """Sign `member` up for `activity`: confirmed while seats are left, otherwise waitlisted (in arrival order).

    Locks: the activity row, then the member row. Under them the seats are counted, so the capacity is never
    exceeded however many members press the button at once; the member lock serialises one member's sign-ups, so
    two overlapping activities cannot both be confirmed. Invariants: one active sign-up per member and activity
    (also a partial UNIQUE); no overlap with the member's other confirmed activities; inside the sign-up window of a
    scheduled activity of a published project; the course gate; the no-show restriction.
    """
    public_cache.changed("projects")  # the public project pages show it (core/public_cache.py)
    activity = _lock_activity(activity)
    member = _lock_members([member.pk])[member.pk]
    return _signup_locked(activity=activity, member=member, now=timezone.now())


@transaction.atomic
def team_signup_create(*, activity: Activity, team: Team, leader: Member) -> list[SignUp]:
    """A team leader signs the whole team (leader included) up: one confirmed seat per member, all or nothing.

    Locks: the activity row, then the members' rows in id order. Invariants: only the team's leader signs it up;
    enough seats for everyone (no team member is waitlisted); every member passes the individual rules (active,
    trained, not restricted, not already signed up, no overlap) — otherwise nobody is signed up and the message
    names who failed.
    """
    if team.leader_id != leader.pk:
        raise ValidationError(_("只有服务队队长可以为全队报名。"))
    public_cache.changed("projects")  # the public project pages show it (core/public_cache.py)
    activity = _lock_activity(activity)
    member_ids = set(team.members.values_list("pk", flat=True)) | {leader.pk}
    members = _lock_members(member_ids)
    now = timezone.now()
    check_activity_open(activity, now)
    free = activity.capacity - _seats_taken(activity)
    if free < len(members):
        raise ValidationError(
            _("剩余名额（%(free)d）不足以让全队%(count)d人报名。") % {"free": max(free, 0), "count": len(members)}
        )
    signups, problems = [], []
    for member in members.values():
        try:
            signups.append(_signup_locked(activity=activity, member=member, now=now, team=team))
        except ValidationError as exc:
            problems.append(f"{member.name}：{'；'.join(exc.messages)}")
    if problems:
        raise ValidationError(_("全队报名未成功，没有人被报名。") + " " + "；".join(problems))
    return signups


def _cancel_locked(signup: SignUp, activity: Activity, now: datetime) -> SignUp:
    """Cancel a sign-up; the caller holds the activity lock. Before the cut-off a confirmed sign-up is cancelled,
    from the cut-off on it is a late cancellation; either way the seat goes to the waitlist."""
    public_cache.changed("projects")  # the public project pages show it (core/public_cache.py)
    signup = SignUp.objects.select_for_update(of=("self",)).get(pk=signup.pk)
    if signup.status in (SignUp.Status.CANCELLED, SignUp.Status.LATE_CANCELLED):
        return signup
    if signup.status not in (SignUp.Status.CONFIRMED, SignUp.Status.WAITLISTED):
        raise ValidationError(_("已记录考勤，不能取消报名。"))
    if now >= activity.starts_at:
        raise ValidationError(_("活动已经开始，不能取消报名。"))
    was_confirmed = signup.status == SignUp.Status.CONFIRMED
    if was_confirmed and now >= activity.cancel_cutoff_at:
        signup.status = SignUp.Status.LATE_CANCELLED
    else:
        signup.status = SignUp.Status.CANCELLED
    signup.waitlist_position = None
    signup.cancelled_at = now
    signup.save(update_fields=["status", "waitlist_position", "cancelled_at"])
    if was_confirmed:
        _promote(activity, now)
    return signup


@transaction.atomic
def signup_cancel(*, signup: SignUp, now: datetime | None = None) -> SignUp:
    """Cancel a sign-up before the activity starts.

    Before the cancellation cut-off the status is `cancelled`; from the cut-off on (the cut-off itself included) it
    is `late_cancelled`, which the organizer sees. The freed seat goes to the first waitlisted member who can take it
    (no overlap), who is told in-app. A waitlisted sign-up is simply cancelled. Cancelling twice is a no-op.
    Locks: the activity row, then the promoted members' rows, then the sign-up rows.
    """
    activity = _lock_activity(signup.activity)
    return _cancel_locked(signup, activity, now or timezone.now())


def _promote(activity: Activity, now: datetime) -> list[SignUp]:
    """Fill free seats from the waitlist in order; the caller holds the activity lock. A waitlisted member who is
    now confirmed for an overlapping activity (or no longer active) keeps their place in the queue and is skipped."""
    if activity.status != Activity.Status.SCHEDULED or now >= activity.starts_at:
        return []
    free = activity.capacity - _seats_taken(activity)
    if free <= 0:
        return []
    waiting = list(
        SignUp.objects.select_for_update(of=("self",))
        .filter(activity=activity, status=SignUp.Status.WAITLISTED)
        .order_by("waitlist_position")
    )
    if not waiting:
        return []
    members = _lock_members(s.member_id for s in waiting)
    promoted = []
    for signup in waiting:
        if len(promoted) == free:
            break
        member = members[signup.member_id]
        if member.status != Member.Status.ACTIVE or _overlapping(member, activity) is not None:
            continue
        signup.status = SignUp.Status.CONFIRMED
        signup.waitlist_position = None
        signup.save(update_fields=["status", "waitlist_position"])
        promoted.append(signup)
        notify(
            template="projects_waitlist_promoted",
            channel="inapp",
            user=member.user,
            dedupe_key=f"projects-promoted:{signup.pk}",
            kind="activity_reminder",
            context={**_activity_context(activity), "name": member.name},
        )
    return promoted


# --- Check-in ---------------------------------------------------------------------------------------------------


def checkin_window(activity: Activity) -> tuple[datetime, datetime]:
    return activity.starts_at - CHECKIN_EARLY, activity.starts_at + CHECKIN_LATE


@transaction.atomic
def signup_check_in(*, activity: Activity, member: Member, code: str, now: datetime | None = None) -> SignUp:
    """Check `member` in with the activity's code, from CHECKIN_EARLY before the start to CHECKIN_LATE after it
    (both ends included). Checking in again keeps the first time. Attempts are limited by the caller
    (CHECKIN_ATTEMPT_LIMIT per member and activity, projects.views.activity_checkin), so the code cannot be guessed.
    Lock: the sign-up row.
    """
    now = now or timezone.now()
    opens, closes = checkin_window(activity)
    if now < opens:
        raise ValidationError(
            _("签到将于 %(when)s 开始（活动开始前1小时）。")
            % {"when": timezone.localtime(opens).strftime("%m-%d %H:%M")}
        )
    if now > closes:
        raise ValidationError(_("签到已结束（活动开始后1小时内可以签到）。"))
    signup = (
        SignUp.objects.select_for_update(of=("self",))
        .filter(activity=activity, member=member, status__in=SignUp.ACTIVE_STATUSES)
        .first()
    )
    if signup is None or signup.status == SignUp.Status.WAITLISTED:
        raise ValidationError(_("您没有该活动的确认报名，不能签到。"))
    if activity.status == Activity.Status.CANCELLED:
        raise ValidationError(_("该活动已取消。"))
    if not secrets.compare_digest((code or "").strip(), activity.checkin_code):
        raise ValidationError({"code": _("签到码不正确。")})
    if signup.checked_in_at is None:
        signup.checked_in_at = now
        signup.save(update_fields=["checked_in_at"])
    return signup


@transaction.atomic
def activity_new_code(*, activity: Activity) -> Activity:
    """Give the activity a new check-in code (the old one leaked). Lock: the activity row."""
    activity = _lock_activity(activity)
    activity.checkin_code = new_checkin_code()
    activity.save(update_fields=["checkin_code"])
    return activity


# --- Attendance -------------------------------------------------------------------------------------------------


def default_hours(signup: SignUp, activity: Activity) -> Decimal:
    """The checked-in span — from the check-in (or the start, if earlier) to the end — capped by the activity's
    length; the whole length for someone marked present without a check-in."""
    length = activity.length_hours
    if signup.checked_in_at is None:
        return length
    start = max(signup.checked_in_at, activity.starts_at)
    span = Decimal(max(int((activity.ends_at - start).total_seconds()), 0)) / 3600
    return min(span.quantize(Decimal("0.01"), ROUND_DOWN), length)


@dataclass
class AttendanceResult:
    attended: list[SignUp] = field(default_factory=list)
    no_show: list[SignUp] = field(default_factory=list)
    # Records left pending because the organizer marked their own attendance (nobody confirms their own hours).
    unverified: list[SignUp] = field(default_factory=list)


def _record_hours(signup: SignUp, activity: Activity, actor, organizer_name: str, result: AttendanceResult) -> None:
    """The ServiceRecord of an attended sign-up, verified, and its points — each idempotent (see attendance_submit)."""
    project = activity.project
    record = members_services.service_record_create(
        member=signup.member,
        start=activity.starts_at,
        end=activity.ends_at,
        place=activity.place,
        content=_("参加“%(project)s”活动：%(activity)s")
        % {"project": project.display_name, "activity": activity.display_title},
        hours=signup.hours,
        source=ServiceRecord.Source.ACTIVITY,
        source_ref=f"activity:{activity.pk}",
        recording_organization=project.organization,
        organizer=organizer_name or project.organization.name,
        recorder=actor,
        beneficiary_summary="、".join(project.target_group_labels)[:200],
        role=ServiceRecord.Role.LEADER if activity.leader_id == signup.member_id else ServiceRecord.Role.PARTICIPANT,
    )
    if record.status == ServiceRecord.Status.PENDING:
        if signup.member.user_id == getattr(actor, "pk", None):
            result.unverified.append(signup)
            return
        # The points follow the verification (members.events.record_counted_changed → incentives).
        members_services.service_record_verify(record=record, verifier=actor)


@transaction.atomic
def attendance_submit(*, activity: Activity, marks: dict[int, tuple[str, object]], actor) -> AttendanceResult:
    """The attendance sheet: `marks` maps sign-up ids to ("attended", hours or None) or ("no_show", None).

    An attended sign-up gets its hours (default: `default_hours`; at most the activity's length), a verified
    ServiceRecord (source "activity", source_ref "activity:<id>", recorded and confirmed by the actor for the
    project's organization — 谁组织谁记录), whose points follow its verification (incentives.record_points_sync:
    the `service_hour` rule, capped per record, which is one per member and activity).

    Lock: the activity row, held to the end, then the sign-up rows: two submissions of one sheet run one after the
    other. Idempotent: a sign-up already attended keeps its hours, and its record and ledger entry are found, not
    made again — one record and one entry per member, however often the sheet is sent. Invariants: only seat
    holders are marked; attended is final (never turned into a no-show); attendance opens at the start.
    """
    public_cache.changed("projects")  # the public project pages show it (core/public_cache.py)
    activity = _lock_activity(activity)
    now = timezone.now()
    if activity.status == Activity.Status.CANCELLED:
        raise ValidationError(_("该活动已取消，不能记录考勤。"))
    if now < activity.starts_at:
        raise ValidationError(_("活动开始后才能记录考勤。"))
    signups = {
        s.pk: s
        for s in SignUp.objects.select_for_update(of=("self",))
        .filter(activity=activity, pk__in=list(marks), status__in=SignUp.SEAT_STATUSES)
        .select_related("member__user")
    }
    if set(marks) - set(signups):
        raise ValidationError(_("只能为已确认报名的党员记录考勤。"))
    length = activity.length_hours
    result = AttendanceResult()
    planned = []
    for signup_id, (mark, hours) in sorted(marks.items()):
        signup = signups[signup_id]
        if mark == SignUp.Status.ATTENDED:
            if signup.status != SignUp.Status.ATTENDED:
                value = default_hours(signup, activity) if hours in (None, "") else _as_hours(hours)
                if value > length:
                    raise ValidationError(
                        _("%(name)s的服务时长不能超过活动时长（%(length)s小时）。")
                        % {"name": signup.member.name, "length": length}
                    )
                if value <= 0:
                    raise ValidationError(_("%(name)s的服务时长必须大于0。") % {"name": signup.member.name})
                signup.hours = value
            planned.append(signup)
        elif mark == SignUp.Status.NO_SHOW:
            if signup.status == SignUp.Status.ATTENDED:
                raise ValidationError(_("%(name)s 已记录服务时长，不能改为缺席。") % {"name": signup.member.name})
            planned.append(signup)
            signup.hours = None
        else:
            raise ValidationError(_("无效的考勤标记。"))
        signup.mark = mark
    organizer_name = _person_name(actor)
    for signup in planned:
        if signup.mark == SignUp.Status.NO_SHOW:
            if signup.status != SignUp.Status.NO_SHOW:
                signup.status, signup.marked_at, signup.marked_by = SignUp.Status.NO_SHOW, now, actor
                signup.save(update_fields=["status", "hours", "marked_at", "marked_by"])
            result.no_show.append(signup)
            continue
        if signup.status != SignUp.Status.ATTENDED:
            signup.status, signup.marked_at, signup.marked_by = SignUp.Status.ATTENDED, now, actor
            signup.save(update_fields=["status", "hours", "marked_at", "marked_by"])
        _record_hours(signup, activity, actor, organizer_name, result)
        result.attended.append(signup)
    if activity.status == Activity.Status.SCHEDULED and planned:
        activity.status = Activity.Status.COMPLETED
        activity.save(update_fields=["status"])
    return result


# --- Self-reports -----------------------------------------------------------------------------------------------


def check_self_report(*, started_at: datetime, ended_at: datetime, hours, place: str, content: str) -> Decimal:
    hours, _date = check_service_times(start=started_at, end=ended_at, hours=hours)
    if ended_at > timezone.now():
        raise ValidationError({"ended_at": _("只能申报已经完成的服务。")})
    if not (place or "").strip():
        raise ValidationError({"place": _("请填写服务地点。")})
    if not (content or "").strip():
        raise ValidationError({"content": _("请填写服务内容。")})
    return hours


@transaction.atomic
def self_report_submit(
    *,
    member: Member,
    started_at: datetime,
    ended_at: datetime,
    hours,
    place: str,
    content: str,
    project: ServiceProject | None = None,
) -> SelfReport:
    """A member reports offline service (自主申报); it waits in the approval queue of the project's organization,
    or of the member's branch. No lock: a new row. Invariants: as a ServiceRecord (hours > 0 and within the span),
    and the service is over."""
    if member.status != Member.Status.ACTIVE:
        raise ValidationError(_("只有在册党员可以申报。"))
    hours = check_self_report(started_at=started_at, ended_at=ended_at, hours=hours, place=place, content=content)
    return SelfReport.objects.create(
        member=member,
        organization=project.organization if project is not None else member.organization,
        project=project,
        started_at=started_at,
        ended_at=ended_at,
        hours=hours,
        place=place.strip(),
        content=content.strip(),
    )


def _lock_report(report: SelfReport) -> SelfReport:
    return SelfReport.objects.select_for_update(of=("self",)).select_related("member", "organization").get(pk=report.pk)


@transaction.atomic
def self_report_approve(*, report: SelfReport, actor) -> SelfReport:
    """Approve a pending self-report: a verified ServiceRecord (source "self_report") and the `service_hour` points.

    Lock: the report row. Invariants: pending → approved once (approving again returns the report); nobody approves
    their own report; the record and the ledger entry are made once (source_ref / idempotency key of the report).
    """
    report = _lock_report(report)
    if report.status == SelfReport.Status.APPROVED:
        return report
    if report.status != SelfReport.Status.PENDING:
        raise ValidationError(_("该申报已处理。"))
    if report.member.user_id == getattr(actor, "pk", None):
        raise ValidationError(_("不能审核本人的申报。"))
    ref = f"self-report:{report.pk}"
    record = members_services.service_record_create(
        member=report.member,
        start=report.started_at,
        end=report.ended_at,
        place=report.place,
        content=report.content,
        hours=report.hours,
        source=ServiceRecord.Source.SELF_REPORT,
        source_ref=ref,
        recording_organization=report.organization,
        organizer=_person_name(actor),
        recorder=actor,
    )
    if record.status == ServiceRecord.Status.PENDING:  # its points follow (members.events.record_counted_changed)
        record = members_services.service_record_verify(record=record, verifier=actor)
    report.status = SelfReport.Status.APPROVED
    report.record = record
    report.reviewed_by, report.reviewed_at = actor, timezone.now()
    report.save(update_fields=["status", "record", "reviewed_by", "reviewed_at"])
    return report


@transaction.atomic
def self_report_reject(*, report: SelfReport, actor, reason: str) -> SelfReport:
    """Refuse a pending self-report with a reason the member sees. Lock: the report row."""
    if not (reason or "").strip():
        raise ValidationError({"reason": _("请填写不通过的原因。")})
    report = _lock_report(report)
    if report.status != SelfReport.Status.PENDING:
        raise ValidationError(_("该申报已处理。"))
    report.status = SelfReport.Status.REJECTED
    report.reviewed_by, report.reviewed_at = actor, timezone.now()
    report.review_note = reason.strip()[:200]
    report.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
    return report


# --- Recurring activities and posts -----------------------------------------------------------------------------


def _at(day: date, at: time) -> datetime:
    return timezone.make_aware(datetime.combine(day, at))


def _weekly_dates(start: date, end: date, weekday: int) -> list[date]:
    first = start + timedelta(days=(weekday - start.weekday()) % 7)
    return [first + timedelta(weeks=i) for i in range((end - first).days // 7 + 1)] if first <= end else []


def _monthly_dates(start: date, end: date, weekday: int, week: int) -> list[date]:
    """The `week`-th `weekday` of each month between start and end."""
    days, year, month = [], start.year, start.month
    while date(year, month, 1) <= end:
        first = date(year, month, 1)
        day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (week - 1))
        if start <= day <= end:
            days.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return days


def _slots(project: ServiceProject, posts: list[Post], start: date, end: date) -> dict[datetime, dict]:
    """Start → {minutes, capacity, post} of every occurrence between start and end; a post slot that coincides with
    the rule's occurrence becomes that occurrence's post, with room for its places."""
    slots: dict[datetime, dict] = {}
    if project.recurrence != ServiceProject.Recurrence.NONE:
        if project.recurrence == ServiceProject.Recurrence.WEEKLY:
            days = _weekly_dates(start, end, project.recurrence_weekday)
        else:
            days = _monthly_dates(start, end, project.recurrence_weekday, project.recurrence_week)
        for day in days:
            slots[_at(day, project.recurrence_time)] = {
                "minutes": project.recurrence_minutes,
                "capacity": project.recurrence_capacity,
                "post": None,
            }
    for post in posts:
        for day in _weekly_dates(start, end, post.weekday):
            when = _at(day, post.start_time)
            slot = slots.get(when)
            if slot is None:
                slots[when] = {"minutes": post.minutes, "capacity": post.places, "post": post}
            elif slot["post"] is None:
                slot["post"], slot["capacity"] = post, max(slot["capacity"], post.places)
    return slots


@transaction.atomic
def activities_generate(*, project: ServiceProject, weeks: int = GENERATE_WEEKS) -> list[Activity]:
    """Create the activities of a published recurring project (its rule and its posts' weekly slots) for the next
    `weeks` weeks, and sign each post's active claimers up to the new activities of their post (except the dates
    they skip). Returns the activities it created. Run nightly (generate_recurring_activities) and by the admin.

    Locks: the project row, then its posts, then the new activities' claimers' member rows — so two runs, or a run
    and a claim, never miss each other. Idempotent: an occurrence that exists (UNIQUE project + start) is left as
    it is, so running it again creates nothing.
    """
    public_cache.changed("projects")  # the public project pages show it (core/public_cache.py)
    project = ServiceProject.objects.select_for_update().get(pk=project.pk)
    if project.status != ServiceProject.Status.PUBLISHED:
        return []
    posts = list(Post.objects.select_for_update().filter(project=project, active=True).order_by("pk"))
    now = timezone.now()
    today = timezone.localdate(now)
    slots = _slots(project, posts, today, today + timedelta(weeks=weeks) - timedelta(days=1))
    existing = set(
        Activity.objects.filter(project=project, starts_at__in=list(slots)).values_list("starts_at", flat=True)
    )
    created = []
    for starts_at in sorted(slots):
        if starts_at <= now or starts_at in existing:
            continue
        slot = slots[starts_at]
        opens, closes, cutoff = activity_windows(starts_at=starts_at, now=now)
        created.append(
            Activity.objects.create(
                project=project,
                post=slot["post"],
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=slot["minutes"]),
                place=project.place,
                capacity=slot["capacity"],
                signup_opens_at=opens,
                signup_closes_at=closes,
                cancel_cutoff_at=cutoff,
                checkin_code=new_checkin_code(),
            )
        )
    by_post = {}
    for activity in created:
        if activity.post_id is not None:
            by_post.setdefault(activity.post_id, []).append(activity)
    if by_post:
        claims = list(
            PostClaim.objects.filter(post_id__in=by_post, status=PostClaim.Status.ACTIVE).prefetch_related("skips")
        )
        members = _lock_members(c.member_id for c in claims)
        for claim in claims:
            skipped = {s.date for s in claim.skips.all()}
            for activity in by_post[claim.post_id]:
                if timezone.localdate(activity.starts_at) in skipped:
                    continue
                activity.project = project
                # A date that fails (e.g. an overlap) is left out: the claimer keeps the post, signs up by hand.
                with contextlib.suppress(ValidationError):
                    _signup_locked(activity=activity, member=members[claim.member_id], now=now, claim=claim)
    return created


def check_post(*, post: Post) -> None:
    if post.places is None or post.places <= 0:
        raise ValidationError({"places": _("岗位数必须大于0。")})
    if post.minutes is None or post.minutes <= 0:
        raise ValidationError({"minutes": _("时长必须大于0。")})


@transaction.atomic
def post_save(*, post: Post) -> Post:
    """Create or change a post. Lock: the post row (when it exists). Invariant: places are never below the active
    claims (nobody is pushed out of a post they hold)."""
    public_cache.changed("projects")  # the public project pages show it (core/public_cache.py)
    check_post(post=post)
    same_slot = Post.objects.filter(project_id=post.project_id, weekday=post.weekday, start_time=post.start_time)
    if same_slot.exclude(pk=post.pk).exists():
        raise ValidationError({"start_time": _("该项目在这个时段已有岗位。")})
    if post.pk is not None:
        Post.objects.select_for_update().get(pk=post.pk)
        claimed = PostClaim.objects.filter(post=post, status=PostClaim.Status.ACTIVE).count()
        if post.places < claimed:
            raise ValidationError({"places": _("已有 %(n)d 人认领，岗位数不能少于认领人数。") % {"n": claimed}})
    post.save()
    return post


@dataclass
class ClaimResult:
    claim: PostClaim
    signed_up: list[SignUp] = field(default_factory=list)
    missed: list[tuple[Activity, str]] = field(default_factory=list)


@transaction.atomic
def post_claim(*, post: Post, member: Member) -> ClaimResult:
    """Claim a standing post (认领岗位) and sign up to each of its scheduled activities still ahead.

    Locks: the post row, then its upcoming activities (by id), then the member row. Under the post lock the active
    claims are counted, so the post's places are never exceeded, even when several members claim the last place at
    once. Invariants: one active claim per member and post (also a partial UNIQUE); the member may serve (active,
    trained, not restricted). A date that cannot be signed up (an overlap, a full activity) is listed in `missed`;
    the claim stands.
    """
    public_cache.changed("projects")  # the public project pages show it (core/public_cache.py)
    post = Post.objects.select_for_update(of=("self",)).select_related("project__course_required").get(pk=post.pk)
    now = timezone.now()
    if not post.active or post.project.status != ServiceProject.Status.PUBLISHED:
        raise ValidationError(_("该岗位暂不开放认领。"))
    check_member_may_serve(project=post.project, member=member, on=timezone.localdate(now), now=now)
    if PostClaim.objects.filter(post=post, member=member, status=PostClaim.Status.ACTIVE).exists():
        raise ValidationError(_("您已认领该岗位。"))
    if PostClaim.objects.filter(post=post, status=PostClaim.Status.ACTIVE).count() >= post.places:
        raise ValidationError(_("该岗位已被认领满。"))
    activities = list(
        Activity.objects.select_for_update(of=("self",))
        .select_related("project")
        .filter(post=post, status=Activity.Status.SCHEDULED, starts_at__gt=now)
        .order_by("pk")
    )
    member = _lock_members([member.pk])[member.pk]
    claim = PostClaim.objects.create(post=post, member=member)
    result = ClaimResult(claim=claim)
    for activity in sorted(activities, key=lambda a: a.starts_at):
        existing = SignUp.objects.filter(activity=activity, member=member, status__in=SignUp.ACTIVE_STATUSES).first()
        if existing is not None:
            SignUp.objects.filter(pk=existing.pk).update(claim=claim)
            continue
        try:
            signup = _signup_locked(activity=activity, member=member, now=now, claim=claim)
        except ValidationError as exc:
            result.missed.append((activity, "；".join(exc.messages)))
            continue
        if signup.status == SignUp.Status.WAITLISTED:
            result.missed.append((activity, _("名额已满，已列入候补。")))
        result.signed_up.append(signup)
    return result


def _claim_signups_ahead(claim: PostClaim, now: datetime, day: date | None = None) -> list[SignUp]:
    qs = SignUp.objects.filter(
        claim=claim,
        status__in=(SignUp.Status.CONFIRMED, SignUp.Status.WAITLISTED),
        activity__starts_at__gt=now,
    ).select_related("activity")
    signups = list(qs)
    if day is not None:
        signups = [s for s in signups if timezone.localdate(s.activity.starts_at) == day]
    return signups


@transaction.atomic
def post_skip(*, claim: PostClaim, day: date) -> PostSkip:
    """The claimer will not serve on `day` (请假): their sign-up for that date is cancelled (a late cancellation from
    the cut-off on; the seat goes to the waitlist) and no sign-up is made for it later.

    Locks: the post row, the activity of that day, then the sign-up. Idempotent: skipping a date twice is one skip.
    """
    public_cache.changed("projects")  # the public project pages show it (core/public_cache.py)
    Post.objects.select_for_update().get(pk=claim.post_id)
    claim = PostClaim.objects.get(pk=claim.pk)
    if claim.status != PostClaim.Status.ACTIVE:
        raise ValidationError(_("您已退出该岗位。"))
    now = timezone.now()
    if day < timezone.localdate(now):
        raise ValidationError({"day": _("不能为已经过去的日期请假。")})
    skip, _created = PostSkip.objects.get_or_create(claim=claim, date=day)
    signups = _claim_signups_ahead(claim, now, day)
    activities = _lock_activities(s.activity_id for s in signups)
    for signup in signups:
        _cancel_locked(signup, activities[signup.activity_id], now)
    return skip


@transaction.atomic
def post_leave(*, claim: PostClaim) -> PostClaim:
    """Leave a post: the claim ends and the sign-ups it made for activities ahead are cancelled (late cancellations
    from each cut-off on; the seats go to the waitlists). Past attendance stays.

    Locks: the post row, the claim, then each activity in id order with its sign-up. Leaving twice is a no-op.
    """
    public_cache.changed("projects")  # the public project pages show it (core/public_cache.py)
    Post.objects.select_for_update().get(pk=claim.post_id)
    claim = PostClaim.objects.select_for_update().get(pk=claim.pk)
    if claim.status == PostClaim.Status.LEFT:
        return claim
    now = timezone.now()
    signups = _claim_signups_ahead(claim, now)
    # Every activity first, in id order; only then the members a promotion locks (the fixed order).
    activities = _lock_activities(s.activity_id for s in signups)
    for signup in signups:
        _cancel_locked(signup, activities[signup.activity_id], now)
    claim.status = PostClaim.Status.LEFT
    claim.left_at = now
    claim.save(update_fields=["status", "left_at"])
    return claim


# --- Calendar feed ----------------------------------------------------------------------------------------------


@transaction.atomic
def calendar_feed_for(*, member: Member, renew: bool = False) -> CalendarFeed:
    """The member's private calendar token, made on first use; `renew` replaces it (the old URL stops working).
    No lock: the one-to-one row settles a race (the loser reads the winner)."""
    feed = CalendarFeed.objects.filter(member=member).first()
    if feed is None:
        try:
            with transaction.atomic():
                return CalendarFeed.objects.create(member=member, token=secrets.token_urlsafe(32))
        except IntegrityError:
            feed = CalendarFeed.objects.get(member=member)
    if renew:
        feed.token = secrets.token_urlsafe(32)
        feed.save(update_fields=["token", "created_at"])
    return feed


def activities_generate_all(*, weeks: int = GENERATE_WEEKS) -> int:
    """Run `activities_generate` for every published recurring project or project with an active post, each in its
    own transaction (one project's failure does not undo the others'); return how many activities were created."""
    projects = ServiceProject.objects.filter(status=ServiceProject.Status.PUBLISHED).filter(
        Q(recurrence__in=(ServiceProject.Recurrence.WEEKLY, ServiceProject.Recurrence.MONTHLY)) | Q(posts__active=True)
    )
    created = 0
    for project_id in projects.values_list("pk", flat=True).distinct().order_by("pk"):
        created += len(activities_generate(project=ServiceProject(pk=project_id), weeks=weeks))
    return created


# --- Scheduled work: activity reminders, waitlist promotion -----------------------------------------------------


def activity_reminders_plan(*, hours_before: int, now: datetime | None = None) -> int:
    """Fan out the reminders `hours_before` (24 or 2) an activity: one chunk task per 500 sign-ups of
    `selectors.signups_to_remind`; returns the number of chunks. Writes nothing itself; a rerun writes nothing new."""
    return fanout.plan(
        "projects.tasks.send_activity_reminders",
        selectors.signups_to_remind(hours_before, now),
        kwargs={"hours_before": hours_before},
    )


def activity_reminders_send(*, signup_ids: list[int], hours_before: int, now: datetime | None = None) -> int:
    """Remind the member of each sign-up in `signup_ids` that is still due (the selection is checked again: a
    sign-up cancelled or an activity moved since the plan is skipped); returns the rows written.

    Kind `activity_reminder`: in-app always, email and SMS as the member chose. Dedupe key: the lead, activity,
    member and start time, so a rerun writes nothing while an activity moved to another time is reminded again."""
    signups = (
        selectors.signups_to_remind(hours_before, now)
        .filter(pk__in=signup_ids)
        .select_related("activity__project", "member__user")
        .order_by("pk")
    )
    messages = []
    for signup in signups:
        activity, member = signup.activity, signup.member
        messages += user_messages(
            user_id=member.user_id,
            kind="activity_reminder",
            template="projects_activity_reminder",
            dedupe_key=(
                f"projects:activity-reminder:{hours_before}h:{activity.pk}:{member.pk}:{activity.starts_at.isoformat()}"
            ),
            context={**_activity_context(activity), "name": member.name, "hours_before": hours_before},
            has_email=bool(member.user.email),
            phone=member.phone,
        )
    return notify_many(messages)


def waitlists_promote(*, now: datetime | None = None) -> int:
    """Promote waitlisted members into the free seats of every upcoming activity with a waitlist — the rule of
    `signup_cancel` (`_promote`: queue order, overlap and inactive members skipped) — and tell each promoted member
    (in-app, dedupe key per sign-up, so once). One transaction per activity, holding its lock; idempotent: a rerun
    finds no free seat or no one who can take it. Returns the number of members promoted."""
    now = now or timezone.now()
    promoted = 0
    for activity_id in selectors.activities_with_waitlist(now).values_list("pk", flat=True).order_by("pk"):
        with transaction.atomic():
            activity = _lock_activity(Activity(pk=activity_id))
            promoted += len(_promote(activity, now))
    return promoted


# --- Surveys after an activity ----------------------------------------------------------------------------------


def activity_surveys_plan(*, now: datetime | None = None) -> int:
    """Fan out the survey requests over `selectors.signups_to_survey`; returns the number of chunks."""
    return fanout.plan("projects.tasks.send_activity_surveys", selectors.signups_to_survey(now))


def activity_surveys_send(*, signup_ids: list[int], now: datetime | None = None) -> int:
    """Ask the attendee of each sign-up still due (checked again) for the short survey: one in-app message, kind
    `feedback`, dedupe key per sign-up — once, however often planned. Returns the rows written."""
    signups = (
        selectors.signups_to_survey(now)
        .filter(pk__in=signup_ids)
        .select_related("activity__project", "member")
        .order_by("pk")
    )
    return notify_many(
        Message(
            template="projects_activity_survey",
            channel="inapp",
            dedupe_key=f"projects:survey:{signup.pk}",
            user_id=signup.member.user_id,
            kind="feedback",
            context={
                **_activity_context(signup.activity),
                "name": signup.member.name,
                "survey_url": reverse("projects:activity_survey", args=[signup.activity_id]),
            },
        )
        for signup in signups
    )


def check_survey_rating(rating) -> int:
    try:
        value = int(rating)
    except (TypeError, ValueError):
        value = 0
    if str(value) != str(rating).strip() or not ActivitySurvey.RATING_MIN <= value <= ActivitySurvey.RATING_MAX:
        raise ValidationError(_("请选择1到5分的满意度。"))
    return value


@transaction.atomic
def survey_submit(*, activity: Activity, member: Member, rating, comment: str = "") -> ActivitySurvey:
    """Store `member`'s answer for `activity`: only an attendee (sign-up `attended`) after the activity has ended,
    once (the UNIQUE on the sign-up decides a race). Rating 1–5, comment at most 500 characters.
    Lock: the member's sign-up row."""
    public_cache.changed("projects")  # the public project pages show it (core/public_cache.py)
    rating = check_survey_rating(rating)
    comment = (comment or "").strip()
    if len(comment) > 500:
        raise ValidationError(_("意见建议不能超过500字。"))
    check_text(comment, multiline=True)  # read without a form: PostgreSQL refuses a NUL
    signup = (
        SignUp.objects.select_for_update(of=("self",))
        .select_related("activity")
        .filter(activity=activity, member=member, status=SignUp.Status.ATTENDED)
        .first()
    )
    if signup is None:
        raise ValidationError(_("只有参加了这次活动的党员才能填写问卷。"))
    if signup.activity.ends_at > timezone.now():
        raise ValidationError(_("活动结束后才能填写问卷。"))
    if ActivitySurvey.objects.filter(signup=signup).exists():
        raise ValidationError(_("您已提交过这次活动的问卷。"))
    try:
        with transaction.atomic():
            return ActivitySurvey.objects.create(signup=signup, rating=rating, comment=comment)
    except IntegrityError:
        raise ValidationError(_("您已提交过这次活动的问卷。")) from None

"""Sign-ups: the seats, the waitlist, overlaps, the course gate and the no-show restriction; cancelling."""

import functools
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member, Team
from notifications.services import notify
from training.selectors import is_qualified

from ..models import Activity, PostClaim, ServiceProject, SignUp
from ..validators import check_activity_open, check_cancellable
from ._common import NO_SHOW_WINDOW, _activity_context, _lock_activity, _lock_members

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
    params: dict[str, Any] = {
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
        row: tuple = cursor.fetchone()
        return row


def _seats_taken(activity: Activity) -> int:
    taken: int = _ask(("taken",), activity=activity)[0]
    return taken


def no_shows_recently(member: Member, now: datetime | None = None) -> int:
    """No-shows of `member` at activities that started within NO_SHOW_WINDOW before `now`."""
    no_shows: int = _ask(("no_shows",), member=member, now=now or timezone.now())[0]
    return no_shows


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
    left, waitlisted otherwise (the public pages follow the new row: projects/receivers.py)."""
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
    signup = SignUp.objects.select_for_update(of=("self",)).get(pk=signup.pk)
    if signup.status in (SignUp.Status.CANCELLED, SignUp.Status.LATE_CANCELLED):
        return signup
    check_cancellable(signup=signup, activity=activity, now=now)
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
    """Cancel a sign-up (or leave the waitlist) before the activity starts and before the member checked in.

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
    promoted: list[SignUp] = []
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

"""Activities: their windows, creating, changing and cancelling one."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.types import Actor
from members.models import Member
from notifications.services import notify

from ..models import Activity, Post, ServiceProject, SignUp
from ..validators import check_activity, check_activity_start, check_checkin_place, check_leader
from ._common import GENERATED_CANCEL_CUTOFF, KEEP, _activity_context, _lock_activity, new_checkin_code
from .signups import _promote, _seats_taken


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
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    checkin_radius_m: int | None = None,
    signout_required: bool = False,
) -> Activity:
    """Schedule one activity of `project` with a fresh 6-digit check-in code; `leader` is its on-site leader
    (现场负责人), whose attendance is recorded in that role (`_record_hours`).

    No lock: a new row. The windows left empty take the defaults of `activity_windows` (sign-up opens now and closes
    at the start; cancellation is free until a day before, or until now when the start is closer), which need a
    start in the future. Invariants: the CHECKs (times in order, capacity > 0) and one activity per project and start
    (UNIQUE). History (an activity entered after it took place, with all its windows given: the demo's past
    activities) is accepted here; the admin refuses a past start (forms.ActivityAdminForm). The check-in place
    (latitude, longitude, radius) is optional, all three or none (`check_checkin_place`, and a CHECK);
    `signout_required` asks members to sign out (services.checkin).
    """
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
    check_checkin_place(latitude=latitude, longitude=longitude, checkin_radius_m=checkin_radius_m)
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
        latitude=latitude,
        longitude=longitude,
        checkin_radius_m=checkin_radius_m,
        signout_required=signout_required,
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
    leader: Member | None = KEEP,
    latitude: Decimal | None = KEEP,
    longitude: Decimal | None = KEEP,
    checkin_radius_m: int | None = KEEP,
    signout_required: bool = KEEP,
) -> Activity:
    """Change a scheduled activity (its on-site leader, check-in place and sign-out too, each unless left as KEEP;
    the place's three values are checked together). Lock: the activity row. Invariants: the capacity is never
    below the seats already taken; raising it promotes waitlisted members (notified) into the new seats; a start
    that moves, moves into the future (`check_activity_start`). Any valid window may be given — an organizer
    extends sign-up this way."""
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
    if latitude is not KEEP:
        activity.latitude = latitude
    if longitude is not KEEP:
        activity.longitude = longitude
    if checkin_radius_m is not KEEP:
        activity.checkin_radius_m = checkin_radius_m
    check_checkin_place(
        latitude=activity.latitude, longitude=activity.longitude, checkin_radius_m=activity.checkin_radius_m
    )
    if signout_required is not KEEP:
        activity.signout_required = signout_required
    activity.save()
    _promote(activity, timezone.now())
    return activity


@transaction.atomic
def activity_cancel(*, activity: Activity, actor: Actor, reason: str = "") -> Activity:
    """Cancel a scheduled activity: every confirmed or waitlisted sign-up is cancelled and told (in-app).

    Lock: the activity row, then its sign-ups. Idempotent: cancelling twice changes nothing and tells nobody twice.
    """
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

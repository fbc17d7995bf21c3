"""Recurring activities and posts: generating activities ahead, claiming and leaving a post."""

import contextlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member

from ..models import Activity, Post, PostClaim, PostSkip, ServiceProject, SignUp
from ..validators import check_post
from ._common import GENERATE_WEEKS, _lock_activities, _lock_members, new_checkin_code
from .activities import activity_windows
from .signups import _cancel_locked, _signup_locked, check_member_may_serve


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
        weekday, week, at = project.recurrence_weekday, project.recurrence_week, project.recurrence_time
        # Set on every recurring project, the week on a monthly one (CHECKs projects_project_recurrence_complete and
        # projects_project_monthly_week).
        assert weekday is not None and at is not None
        if project.recurrence == ServiceProject.Recurrence.WEEKLY:
            days = _weekly_dates(start, end, weekday)
        else:
            assert week is not None
            days = _monthly_dates(start, end, weekday, week)
        for day in days:
            slots[_at(day, at)] = {
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
    by_post: dict[int, list[Activity]] = {}
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


@transaction.atomic
def post_save(*, post: Post) -> Post:
    """Create or change a post. Lock: the post row (when it exists). Invariant: places are never below the active
    claims (nobody is pushed out of a post they hold)."""
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
        checked_in_at__isnull=True,  # already there: leaving the post does not undo today's service
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

"""Scheduled work: activity reminders and waitlist promotion (projects/tasks.py)."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from notifications import fanout
from notifications.services import notify_many, user_messages

from .. import selectors
from ..models import Activity
from ._common import _activity_context, _lock_activity
from .signups import _promote


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

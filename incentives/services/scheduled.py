"""Scheduled work (incentives/tasks.py; schedules in volunteer_platform/schedules.py): the drafts recomputed and
the 公示 notices."""

from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone

from members.selectors import organization_managers
from notifications import fanout
from notifications.services import notify_many, user_messages

from .. import selectors
from ..models import RatingRun
from .ratings import rating_run_compute


def draft_runs_recompute() -> int:
    """Recompute every draft rating run (each in its own transaction, under its lock), so drafts follow the hours
    verified since; returns how many ratings changed. Idempotent: a run with nothing new writes nothing."""
    changed = 0
    for run_id in RatingRun.objects.filter(status=RatingRun.Status.DRAFT).order_by("pk").values_list("pk", flat=True):
        try:
            changed += rating_run_compute(run=RatingRun(pk=run_id))
        except ValidationError:  # published since the list was read
            continue
    return changed


def publicity_notices_plan(*, today: date | None = None) -> int:
    """The daily 公示 notices; returns the chunks planned plus the messages written.

    - On the last day of a 公示, every rated member is reminded that an objection can still be filed today
      (fanned out in chunks of 500 ratings: `publicity_last_day_send`).
    - Once a 公示 has ended, the organization's secretary and admins are told, with the number of objections
      still to answer, so they finalize (`publicity_ended_send`).
    Each message once (dedupe keys); a rerun writes nothing new."""
    today = today or timezone.localdate()
    chunks = fanout.plan(
        "incentives.tasks.send_publicity_last_day",
        selectors.ratings_on_last_publicity_day(today),
        kwargs={"today": today.isoformat()},
    )
    return chunks + publicity_ended_send(today=today)


def publicity_last_day_send(*, rating_ids: list[int], today: date) -> int:
    """Remind the members of these ratings, if their 公示 still ends `today`, that objections close today; once per
    rating. Kind `points`. Returns the rows written."""
    ratings = (
        selectors.ratings_on_last_publicity_day(today)
        .filter(pk__in=rating_ids)
        .select_related("run__organization", "member__user")
        .order_by("pk")
    )
    messages = []
    for rating in ratings:
        member = rating.member
        messages += user_messages(
            user_id=member.user_id,
            kind="points",
            template="incentives_publicity_last_day",
            dedupe_key=f"incentives:publicity-last-day:{rating.pk}",
            context={
                "name": member.name,
                "organization": rating.run.organization.name,
                "stars": rating.stars,
                "ends_on": today.isoformat(),
            },
            has_email=bool(member.user.email),
            phone=member.phone,
        )
    return notify_many(messages)


def publicity_ended_send(*, today: date) -> int:
    """Tell the managers of each organization whose 公示 ended before `today` and is not finalized yet; once per run
    and person. Kind `work`. Returns the rows written."""
    runs = list(selectors.runs_past_publicity(today))
    managers = organization_managers([run.organization_id for run in runs])
    messages = []
    for run in runs:
        assert run.publicity_ends_on is not None  # a run past its publicity has it (incentives_run_published_has_dates)
        for user in managers.get(run.organization_id, []):
            messages += user_messages(
                user_id=user.pk,
                kind="work",
                template="incentives_publicity_ended",
                dedupe_key=f"incentives:publicity-ended:{run.pk}:{user.pk}",
                context={
                    "organization": run.organization.name,
                    "start": run.period_start.isoformat(),
                    "end": run.period_end.isoformat(),
                    "ends_on": run.publicity_ends_on.isoformat(),
                    "pending_objections": run.pending_objections,  # type: ignore[attr-defined]  # annotated by the selector
                },
                has_email=bool(user.email),
            )
    return notify_many(messages)

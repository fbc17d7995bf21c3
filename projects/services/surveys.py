"""Surveys after an activity."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.text import check_text
from members.models import Member
from notifications import fanout
from notifications.services import Message, notify_many

from .. import selectors
from ..models import Activity, ActivitySurvey, SignUp
from ..validators import check_survey_rating
from ._common import _activity_context


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


@transaction.atomic
def survey_submit(*, activity: Activity, member: Member, rating: str | int | None, comment: str = "") -> ActivitySurvey:
    """Store `member`'s answer for `activity`: only an attendee (sign-up `attended`) after the activity has ended,
    once (the UNIQUE on the sign-up decides a race). Rating 1–5, comment at most 500 characters.
    Lock: the member's sign-up row."""
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

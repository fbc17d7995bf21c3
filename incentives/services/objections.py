"""Objections to a rating during its 公示, and the secretary's answer."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.types import Actor
from members.models import Member
from notifications.models import Notification
from notifications.services import notify

from ..models import MAX_STARS, Objection, RatingRun, StarRating
from ..validators import check_objection_answerable
from ._common import _lock_run, _required_text


@transaction.atomic
def objection_file(*, rating: StarRating, member: Member, text: str) -> Objection:
    """A member objects to their own rating, only during the 公示 (until the publicity end date, inclusive).

    Locks, in order: the run row (so a concurrent finalize sees the objection or refuses it), the rating row.
    One pending objection per rating (DB constraint).
    """
    text = _required_text(text, "text", _("请写明异议的内容。"), 1000)
    run = _lock_run(rating.run)
    rating = StarRating.objects.select_for_update().get(pk=rating.pk)
    if rating.member_id != member.pk:
        raise PermissionDenied(_("只能对本人的星级提出异议。"))
    # A run in publicity has its end date (incentives_run_published_has_dates): the None test only narrows the type.
    if (
        run.status != RatingRun.Status.PUBLICITY
        or run.publicity_ends_on is None
        or timezone.localdate() > run.publicity_ends_on
    ):
        raise ValidationError(_("只能在公示期内提出异议。"))
    if rating.objections.filter(outcome=Objection.Outcome.PENDING).exists():
        raise ValidationError(_("您已提出异议，请等待答复。"))
    return Objection.objects.create(rating=rating, member=member, text=text, stars_before=rating.stars)


@transaction.atomic
def objection_answer(*, objection: Objection, actor: Actor, answer: str, stars: int | None = None) -> Objection:
    """The secretary answers an objection before the run is final; `stars` (0–5) changes the member's stars.
    The member gets an in-app message. Locks, in order: the run, the rating, the objection."""
    answer = _required_text(answer, "answer", _("请填写答复。"), 1000)
    if stars is not None and not 0 <= stars <= MAX_STARS:
        raise ValidationError({"stars": _("星级应为 0 到 5。")})
    run = _lock_run(objection.rating.run)
    rating = StarRating.objects.select_for_update().select_related("member__user").get(pk=objection.rating_id)
    objection = Objection.objects.select_for_update().get(pk=objection.pk)
    objection.rating = rating
    rating.run = run
    check_objection_answerable(objection)
    now = timezone.now()
    if stars is not None and stars != rating.stars:
        rating.stars = stars
        rating.save(update_fields=["stars", "updated_at"])
        objection.outcome = Objection.Outcome.CHANGED
    else:
        objection.outcome = Objection.Outcome.MAINTAINED
    objection.answer = answer
    objection.answered_by = actor
    objection.answered_at = now
    objection.stars_after = rating.stars
    objection.save(update_fields=["outcome", "answer", "answered_by", "answered_at", "stars_after"])
    notify(
        template="incentives_objection_answered",
        channel=Notification.Channel.INAPP,
        user=rating.member.user,
        dedupe_key=f"incentives:objection:{objection.pk}:answered",
        context={"name": rating.member.name, "stars": rating.stars, "answer": answer},
    )
    return objection

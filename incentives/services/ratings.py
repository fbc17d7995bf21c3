"""Star ratings: the schemes, and a rating run from draft through 公示 to final (定级)."""

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import member_cache
from core.types import Actor
from members.models import Member, Organization
from notifications.models import Notification
from notifications.services import notify

from .. import selectors
from ..models import (
    DEFAULT_HOURS_THRESHOLDS,
    DEFAULT_POINTS_THRESHOLDS,
    Objection,
    RatingRun,
    StarBasis,
    StarRating,
    StarScheme,
)
from ..validators import check_thresholds
from ._common import _lock_run, stars_for


def default_thresholds(basis: str) -> list[int]:
    return list(DEFAULT_POINTS_THRESHOLDS if basis == StarBasis.POINTS else DEFAULT_HOURS_THRESHOLDS)


@transaction.atomic
def star_scheme_save(
    *,
    organization: Organization,
    basis: str,
    thresholds: Iterable[Decimal | int | str],
    publicity_days: int,
    actor: Actor = None,
) -> StarScheme:
    """Create or change an organization's scheme; organizations below without their own scheme follow it.
    Lock: the scheme row (if any)."""
    if basis not in StarBasis.values:
        raise ValidationError({"basis": _("请选择评定依据。")})
    thresholds = check_thresholds(thresholds)
    if not 1 <= publicity_days <= 30:
        raise ValidationError({"publicity_days": _("公示天数应为 1 到 30 天。")})
    scheme = StarScheme.objects.select_for_update().filter(organization=organization).first()
    if scheme is None:
        scheme = StarScheme(organization=organization)
    scheme.basis = basis
    scheme.thresholds = thresholds
    scheme.publicity_days = publicity_days
    scheme.save()
    return scheme


@transaction.atomic
def rating_run_create(*, organization: Organization, period_start: date, period_end: date, actor: Actor) -> RatingRun:
    """Start a rating of `organization`'s subtree for a period; the same organization and period again returns the
    existing run (a period is rated once)."""
    if period_end < period_start:
        raise ValidationError({"period_end": _("评定期结束日期不能早于开始日期。")})
    existing = RatingRun.objects.filter(
        organization=organization, period_start=period_start, period_end=period_end
    ).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return RatingRun.objects.create(
                organization=organization, period_start=period_start, period_end=period_end, created_by=actor
            )
    except IntegrityError:
        return RatingRun.objects.get(organization=organization, period_start=period_start, period_end=period_end)


@transaction.atomic
def rating_run_compute(*, run: RatingRun) -> int:
    """Compute the draft stars of every active member whose home branch is in the run's subtree; return how many
    ratings were added, changed or removed.

    Each member is rated by the nearest scheme up their branch's path (the hours default when none): cumulative
    counted service hours up to the end of the period, or points *earned* in the period (spending never lowers a
    rating). Idempotent: computing again with the same data writes nothing, not even the computation time.
    Only a draft is computed. Lock: the run row.
    """
    run = _lock_run(run)
    if run.status != RatingRun.Status.DRAFT:
        raise ValidationError(
            _("只有草稿状态的评定可以重新计算（当前：%(status)s）。") % {"status": run.get_status_display()}
        )
    members = list(
        Member.objects.filter(
            organization__path__startswith=run.organization.path, status=Member.Status.ACTIVE
        ).select_related("organization")
    )
    schemes = selectors.schemes_for_members(members)
    by_basis: dict[str, list[int]] = {StarBasis.HOURS: [], StarBasis.POINTS: []}
    for member in members:
        by_basis[schemes[member.pk][0]].append(member.pk)
    values: dict[int, Decimal] = {}
    for basis, ids in by_basis.items():
        values.update(
            selectors.rating_values(ids, basis=basis, period_start=run.period_start, period_end=run.period_end)
        )
    existing = {rating.member_id: rating for rating in run.ratings.all()}
    to_create, to_update = [], []
    for member in members:
        basis, thresholds = schemes[member.pk]
        value = Decimal(values.get(member.pk) or 0).quantize(Decimal("0.01"))
        stars = stars_for(value, thresholds)
        rating = existing.pop(member.pk, None)
        if rating is None:
            to_create.append(
                StarRating(
                    run=run,
                    member=member,
                    basis=basis,
                    thresholds=thresholds,
                    basis_value=value,
                    computed_stars=stars,
                    stars=stars,
                )
            )
        elif (rating.basis, rating.thresholds, rating.basis_value, rating.stars, rating.computed_stars) != (
            basis,
            thresholds,
            value,
            stars,
            stars,
        ):
            rating.basis, rating.thresholds, rating.basis_value = basis, thresholds, value
            rating.computed_stars = rating.stars = stars
            rating.updated_at = timezone.now()
            to_update.append(rating)
    StarRating.objects.bulk_create(to_create)
    StarRating.objects.bulk_update(
        to_update, ["basis", "thresholds", "basis_value", "computed_stars", "stars", "updated_at"]
    )
    gone = [rating.pk for rating in existing.values()]  # left the subtree or became inactive since the last run
    if gone:
        StarRating.objects.filter(pk__in=gone).delete()
    # bulk writes send no signals: the members' cached portal pages are dropped here (core/member_cache.py)
    member_cache.members_changed(rating.member_id for rating in [*to_create, *to_update])
    changed = len(to_create) + len(to_update) + len(gone)
    if changed or run.computed_at is None:
        run.computed_at = timezone.now()
        run.save(update_fields=["computed_at"])
    return changed


@transaction.atomic
def rating_run_publish(*, run: RatingRun, actor: Actor, publicity_ends_on: date | None = None) -> RatingRun:
    """Start the 公示: ratings become visible to their members, who get an in-app message and may object until
    `publicity_ends_on` (default: today + the scheme's publicity days, 5 unless configured). Lock: the run row."""
    run = _lock_run(run)
    if run.status != RatingRun.Status.DRAFT:
        raise ValidationError(_("该评定已经公示过。"))
    if run.computed_at is None:
        raise ValidationError(_("请先计算星级再公示。"))
    days = selectors.scheme_for_organization(run.organization)[2]
    now = timezone.now()
    run.status = RatingRun.Status.PUBLICITY
    run.published_at = now
    run.publicity_ends_on = publicity_ends_on or timezone.localdate() + timedelta(days=days)
    run.save(update_fields=["status", "published_at", "publicity_ends_on"])
    run.ratings.update(status=StarRating.Status.PUBLICITY, updated_at=now)
    member_cache.members_changed(run.ratings.values_list("member_id", flat=True))  # no signals from update()
    for rating in run.ratings.select_related("member__user"):
        notify(
            template="incentives_rating_published",
            channel=Notification.Channel.INAPP,
            user=rating.member.user,
            dedupe_key=f"incentives:rating:{rating.pk}:published",
            context={
                "name": rating.member.name,
                "organization": run.organization.name,
                "start": run.period_start.isoformat(),
                "end": run.period_end.isoformat(),
                "stars": rating.stars,
                "ends_on": run.publicity_ends_on.isoformat(),
            },
        )
    return run


@transaction.atomic
def rating_run_finalize(*, run: RatingRun, actor: Actor) -> RatingRun:
    """定级: after the 公示 has ended and every objection is answered, the stars become final (a member's current
    stars are those of their latest final rating). Lock: the run row."""
    run = _lock_run(run)
    if run.status != RatingRun.Status.PUBLICITY:
        raise ValidationError(
            _("只有公示中的评定可以定级（当前：%(status)s）。") % {"status": run.get_status_display()}
        )
    assert run.publicity_ends_on is not None  # a run in publicity has it (incentives_run_published_has_dates)
    if timezone.localdate() <= run.publicity_ends_on:
        raise ValidationError(_("公示期到 %(date)s 结束，之后才能定级。") % {"date": run.publicity_ends_on.isoformat()})
    pending = Objection.objects.filter(rating__run=run, outcome=Objection.Outcome.PENDING).count()
    if pending:
        raise ValidationError(_("还有 %(n)d 条异议没有答复。") % {"n": pending})
    now = timezone.now()
    run.status = RatingRun.Status.FINAL
    run.finalized_at = now
    run.finalized_by = actor
    run.save(update_fields=["status", "finalized_at", "finalized_by"])
    run.ratings.update(status=StarRating.Status.FINAL, updated_at=now)
    member_cache.members_changed(run.ratings.values_list("member_id", flat=True))  # no signals from update()
    return run

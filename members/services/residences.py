"""双报到: a member's registration with the community they live in, confirmed by it, and its end."""

from datetime import date as date_type

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.types import Actor

from ..models import Community, Grid, Member, ResidenceRegistration
from ._common import _lock


@transaction.atomic
def residence_register(
    *,
    member: Member,
    community: Community,
    actor: Actor,
    grid: Grid | None = None,
    registered_on: date_type | None = None,
) -> ResidenceRegistration:
    """Register a member at their residence community (双报到), pending the community's confirmation.

    A registration at another community ends the previous one (the member moved). Lock: the member row, which
    serialises a member's registrations. Invariant: at most one active registration per member (partial UNIQUE).
    """
    member = _lock(Member, member.pk)
    if member.status != Member.Status.ACTIVE:
        raise ValidationError(_("只有在册党员可以到社区报到。"))
    if grid is not None and grid.community_id != community.pk:
        raise ValidationError({"grid": _("所选网格不属于该社区（村）。")})
    current = member.residence_registrations.filter(status__in=ResidenceRegistration.ACTIVE_STATUSES).first()
    if current is not None:
        if current.community_id == community.pk:
            raise ValidationError(_("%(name)s 已在该社区报到。") % {"name": member.name})
        current.status = ResidenceRegistration.Status.ENDED
        current.ended_at = timezone.now()
        current.save(update_fields=["status", "ended_at"])
    return ResidenceRegistration.objects.create(
        member=member, community=community, grid=grid, registered_on=registered_on or timezone.localdate()
    )


@transaction.atomic
def residence_confirm(*, registration: ResidenceRegistration, actor: Actor) -> ResidenceRegistration:
    """The community confirms a pending registration. Lock: the registration row. Invariant: pending → confirmed."""
    registration = _lock(ResidenceRegistration, registration.pk)
    if registration.status != ResidenceRegistration.Status.PENDING:
        raise ValidationError(_("只有待确认的报到可以确认。"))
    registration.status = ResidenceRegistration.Status.CONFIRMED
    registration.confirmed_by = actor
    registration.confirmed_at = timezone.now()
    registration.save(update_fields=["status", "confirmed_by", "confirmed_at"])
    return registration


@transaction.atomic
def residence_end(*, registration: ResidenceRegistration, actor: Actor) -> ResidenceRegistration:
    """End an active registration (moved away, or registered by mistake). Lock: the registration row."""
    registration = _lock(ResidenceRegistration, registration.pk)
    if registration.status not in ResidenceRegistration.ACTIVE_STATUSES:
        raise ValidationError(_("该报到已经结束。"))
    registration.status = ResidenceRegistration.Status.ENDED
    registration.ended_at = timezone.now()
    registration.save(update_fields=["status", "ended_at"])
    return registration

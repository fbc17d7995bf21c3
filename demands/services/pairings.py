"""Households, pairings and visits (结对帮扶)."""

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.crypto import blind_index
from core.types import Actor
from members.identifiers import normalize_mobile
from members.models import Community, Grid, Member, ServiceRecord, Team
from members.services import service_record_create
from members.validators import check_service_times

from ..models import CONSENT_VERSION, Household, Pairing, PairingVisit
from ..validators import _text, check_place, check_priority_groups


@transaction.atomic
def household_save(
    *,
    actor: Actor,
    community: Community,
    contact_name: str,
    address: str,
    consent_processing: bool,
    household: Household | None = None,
    grid: Grid | None = None,
    phone: str = "",
    priority_groups: Iterable[str] = (),
    consent_sensitive: bool = False,
    note: str = "",
    active: bool = True,
) -> Household:
    """Register or update a household (服务对象户). Invariants: consent to registration is required; the priority
    groups (sensitive) need a separate consent, kept with its time, and are cleared when it is withdrawn; contact,
    address, notes and tags are encrypted. Lock: the household when it exists."""
    check_place(community=community, grid=grid)
    if not consent_processing:
        raise ValidationError({"consent_processing": _("登记服务对象需要本人（或监护人）同意。")})
    contact_name = _text(contact_name, field="contact_name", label=_("联系人"), max_length=30)
    address = _text(address, field="address", label=_("住址"), max_length=200)
    note = _text(note, field="note", label=_("情况说明"), max_length=1000, required=False)
    stored_groups = check_priority_groups(priority_groups, consent_sensitive=consent_sensitive)
    if phone:
        try:
            phone = normalize_mobile(phone)
        except ValidationError as exc:
            raise ValidationError({"phone": exc.messages}) from None
    now = timezone.now()
    if household is None:
        household = Household(consent_processing_at=now, consent_version=CONSENT_VERSION, created_by=actor)
    else:
        household = Household.objects.select_for_update().get(pk=household.pk)
    household.community = community
    household.grid = grid
    household.contact_name = contact_name
    household.address = address
    household.note = note
    household.contact_phone = phone
    household.phone_hash = blind_index(phone) if phone else ""
    household.priority_groups = stored_groups if consent_sensitive else ""
    if consent_sensitive and household.consent_sensitive_at is None:
        household.consent_sensitive_at = now
    elif not consent_sensitive:
        household.consent_sensitive_at = None
    household.active = active
    household.save()
    return household


@transaction.atomic
def pairing_create(
    *,
    member: Member,
    household: Household,
    actor: Actor,
    team: Team | None = None,
    note: str = "",
    started_on: date | None = None,
) -> Pairing:
    """Pair a member (or a team, represented by a member of it) with a household. Lock: the household, so two
    pairings of one member and household cannot both start. Invariant: one active pairing per member and
    household (partial UNIQUE); only active members and households."""
    household = Household.objects.select_for_update().get(pk=household.pk)
    if not household.active:
        raise ValidationError(_("该服务对象户已不在册。"))
    if member.status != Member.Status.ACTIVE:
        raise ValidationError({"member": _("只能与在册党员结对。")})
    if team is not None and not team.members.filter(pk=member.pk).exists() and team.leader_id != member.pk:
        raise ValidationError({"team": _("结对党员必须是该服务队的队员。")})
    if Pairing.objects.filter(member=member, household=household, ended_on__isnull=True).exists():
        raise ValidationError(_("该党员已与这户结对。"))
    return Pairing.objects.create(
        member=member,
        household=household,
        team=team,
        note=_text(note, field="note", label=_("帮扶内容"), max_length=200, required=False),
        started_on=started_on or timezone.localdate(),
        created_by=actor,
    )


@transaction.atomic
def pairing_end(*, pairing: Pairing, actor: Actor, ended_on: date | None = None) -> Pairing:
    """End an active pairing (moved away, no longer needed). Lock: the pairing."""
    pairing = Pairing.objects.select_for_update().get(pk=pairing.pk)
    if pairing.ended_on is not None:
        raise ValidationError(_("该结对已经结束。"))
    ended_on = ended_on or timezone.localdate()
    if ended_on < pairing.started_on:
        raise ValidationError({"ended_on": _("结束日期不能早于结对日期。")})
    pairing.ended_on = ended_on
    pairing.save(update_fields=["ended_on"])
    return pairing


@transaction.atomic
def pairing_visit_log(
    *, pairing: Pairing, member: Member, start: datetime, end: datetime, hours: Decimal | str, summary: str
) -> PairingVisit:
    """The paired member logs a visit (走访); it becomes their ServiceRecord (source "pairing", recorded by the
    household community's organization, pending until a secretary verifies it). Lock: the pairing.
    Invariants: only the paired member, only while the pairing is active; hours within the visit's time."""
    summary = _text(summary, field="summary", label=_("走访内容"), max_length=200)
    hours, _date = check_service_times(start=start, end=end, hours=hours)
    if end > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"end": _("走访结束时间不能晚于现在。")})
    pairing = (
        Pairing.objects.select_for_update(of=("self",))
        .select_related("household__community__organization")
        .get(pk=pairing.pk)
    )
    if pairing.member_id != member.pk:
        raise ValidationError(_("只能为自己的结对登记走访。"))
    if pairing.ended_on is not None:
        raise ValidationError(_("该结对已经结束，不能再登记走访。"))
    visit = PairingVisit.objects.create(pairing=pairing, started_at=start, ended_at=end, hours=hours, summary=summary)
    community = pairing.household.community
    record = service_record_create(
        member=member,
        start=start,
        end=end,
        hours=hours,
        place=community.name,
        content=_("结对帮扶走访：%(summary)s") % {"summary": summary},
        beneficiary_summary=_("%(community)s结对帮扶户") % {"community": community.name},
        source=ServiceRecord.Source.PAIRING,
        source_ref=f"pairing_visit:{visit.pk}",
        recording_organization=community.organization,
        organizer=member.name,
        recorder=member.user,
        service_category="special_groups",  # 结对帮扶 households: MZ/T 061 关爱特殊群体
    )
    visit.service_record = record
    visit.save(update_fields=["service_record"])
    return visit

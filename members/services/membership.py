"""A member's registration and life in the branch: volunteer numbers, create, profile, leave, return, transfer."""

from collections.abc import Iterable
from datetime import date as date_type

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import user_sessions_end
from core.types import Actor, User

from ..models import Member, Organization, Tag, Transfer, VolunteerNumberCounter
from ..validators import (
    check_home_organization,
    check_member_id_number,
    check_member_national_number,
    check_member_phone,
    check_profile_values,
    check_secretaries_stay_inside,
    check_tags,
)
from ._common import UNSET, _audit, _lock


@transaction.atomic
def volunteer_numbers_allocate(*, count: int = 1, year: int | None = None) -> list[str]:
    """Hand out `count` new volunteer numbers "V" + year + 6-digit sequence (V2025000001, …).

    Lock: the year's counter row (SELECT … FOR UPDATE), held until the caller's transaction ends, so two
    transactions never read the same last value. Invariant: numbers are unique (also a UNIQUE column on Member).
    A block (`count` > 1) serves bulk imports and seeding with one lock.
    """
    if count < 1:
        raise ValueError("count must be positive")
    year = year or timezone.localdate().year
    VolunteerNumberCounter.objects.get_or_create(year=year)  # a race on a new year ends in get(), not an error
    counter = _lock(VolunteerNumberCounter, year)
    first = counter.last_value + 1
    counter.last_value += count
    counter.save(update_fields=["last_value"])
    return [f"V{year}{n:06d}" for n in range(first, first + count)]


def _save_member(member: Member) -> None:
    """Save, turning a lost race on a unique phone / ID number into the message the form would have shown."""
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError:
        if Member.objects.filter(phone_hash=member.phone_hash).exclude(pk=member.pk).exists():
            raise ValidationError({"phone": _("该手机号已被其他党员使用。")}) from None
        if (
            member.id_number_hash
            and Member.objects.filter(id_number_hash=member.id_number_hash).exclude(pk=member.pk).exists()
        ):
            raise ValidationError({"id_number": _("该身份证号已被其他党员使用。")}) from None
        raise


@transaction.atomic
def member_create(
    *,
    name: str,
    phone: str,
    organization: Organization,
    actor: Actor,
    gender: str = "",
    birth_year: int | None = None,
    id_number: str = "",
    skills: Iterable[Tag] = (),
    interests: Iterable[Tag] = (),
    availability: int = 0,
    user: User | None = None,
    national_volunteer_number: str = "",
) -> Member:
    """Register a member in a branch, with a new volunteer number and, unless `user` is given, a new account.

    The new account's username is the volunteer number and it has no usable password: the member sets one through
    an invitation. Lock: the volunteer-number counter of the year (see `volunteer_numbers_allocate`).
    Invariants: unique volunteer number, phone and ID number (normalised, hashed, encrypted); home org is a branch.
    """
    check_profile_values(name=name, birth_year=birth_year, availability=availability)
    phone = check_member_phone(phone)
    id_number = check_member_id_number(id_number)
    national_volunteer_number = check_member_national_number(national_volunteer_number)
    check_home_organization(organization)
    skills = check_tags(skills, Tag.Kind.SKILL, "skills")
    interests = check_tags(interests, Tag.Kind.INTEREST, "interests")
    if user is not None and Member.objects.filter(user=user).exists():
        raise ValidationError(_("该用户已经关联了党员信息。"))

    (number,) = volunteer_numbers_allocate()
    if user is None:
        user = User(username=number)
        user.set_unusable_password()
        user.save()
    member = Member(
        user=user,
        volunteer_number=number,
        name=name.strip(),
        gender=gender,
        birth_year=birth_year,
        organization=organization,
        availability=availability,
        national_volunteer_number=national_volunteer_number,
    )
    member.set_phone(phone)
    member.set_id_number(id_number)
    _audit(member, actor, _("登记党员"))
    _save_member(member)
    member.skills.set(skills)
    member.interests.set(interests)
    return member


@transaction.atomic
def member_update_profile(
    *,
    member: Member,
    actor: Actor,
    name: str = UNSET,
    phone: str = UNSET,
    gender: str = UNSET,
    birth_year: int | None = UNSET,
    id_number: str = UNSET,
    skills: Iterable[Tag] = UNSET,
    interests: Iterable[Tag] = UNSET,
    availability: int = UNSET,
    national_volunteer_number: str = UNSET,
) -> Member:
    """Change the fields passed (the others stay). The home branch and status change only through
    `member_transfer` and `member_deactivate` / `member_reactivate`.

    Lock: the member row. Invariants: as `member_create` (normalised unique phone and ID number, tag kinds).
    """
    member = _lock(Member, member.pk)
    new_name = member.name if name is UNSET else name
    new_birth_year = member.birth_year if birth_year is UNSET else birth_year
    new_availability = member.availability if availability is UNSET else availability
    check_profile_values(name=new_name, birth_year=new_birth_year, availability=new_availability)
    if phone is not UNSET:
        member.set_phone(check_member_phone(phone, member=member))
    if id_number is not UNSET:
        member.set_id_number(check_member_id_number(id_number, member=member))
    if national_volunteer_number is not UNSET:
        member.national_volunteer_number = check_member_national_number(national_volunteer_number, member=member)
    if gender is not UNSET:
        member.gender = gender
    member.name = new_name.strip()
    member.birth_year = new_birth_year
    member.availability = new_availability
    if skills is not UNSET:
        member.skills.set(check_tags(skills, Tag.Kind.SKILL, "skills"))
    if interests is not UNSET:
        member.interests.set(check_tags(interests, Tag.Kind.INTEREST, "interests"))
    _audit(member, actor, _("修改党员信息"))
    _save_member(member)
    return member


@transaction.atomic
def member_set_name_consent(*, member: Member, consent: bool) -> Member:
    """Record the member's own, separate consent to show their full name publicly (条例 §20–21), with its time.

    Lock: the member row. Invariant: consent given ⇒ a consent time (DB check).
    """
    member = _lock(Member, member.pk)
    member.show_full_name_publicly = consent
    member.full_name_consent_at = timezone.now() if consent else None
    _audit(member, member.user, _("同意公开全名") if consent else _("撤回公开全名的同意"))
    member.save()
    return member


_LEAVING_STATUSES = (Member.Status.INACTIVE, Member.Status.EXEMPT, Member.Status.TRANSFERRED)


@transaction.atomic
def member_deactivate(
    *, member: Member, actor: Actor, status: str = Member.Status.INACTIVE, reason: str = ""
) -> Member:
    """Set a member 停用 (default), 免除 (e.g. 70+ or infirm) or 已转出 (relationship moved off the platform).

    Lock: the member row. Invariants: only an active member is deactivated; a secretary is replaced first; the
    reason is kept in the history; every session the member signed in with is ended (they sign in again and meet
    their new status), in the same transaction.
    """
    if status not in _LEAVING_STATUSES:
        raise ValueError(f"not a leaving status: {status}")
    member = _lock(Member, member.pk)
    if member.status == status:
        raise ValidationError(
            _("%(name)s 已经是“%(status)s”状态。") % {"name": member.name, "status": member.get_status_display()}
        )
    if member.status != Member.Status.ACTIVE and status != Member.Status.TRANSFERRED:
        raise ValidationError(_("%(name)s 不是在册状态，不能停用。") % {"name": member.name})
    if member.organizations_as_secretary.exists():
        check_secretaries_stay_inside(members_path=member.organization.path, new_path=None)
    member.status = status
    _audit(member, actor, reason or str(Member.Status(status).label))
    member.save()
    user_sessions_end(user=member.user, actor=actor, reason=str(Member.Status(status).label))
    return member


@transaction.atomic
def member_reactivate(*, member: Member, actor: Actor, reason: str = "") -> Member:
    """Back to 在册. Lock: the member row. Invariant: only a member who is not active is reactivated."""
    member = _lock(Member, member.pk)
    if member.status == Member.Status.ACTIVE:
        raise ValidationError(_("%(name)s 已经是在册状态。") % {"name": member.name})
    member.status = Member.Status.ACTIVE
    _audit(member, actor, reason or _("恢复在册"))
    member.save()
    return member


@transaction.atomic
def member_transfer(
    *,
    member: Member,
    to_organization: Organization,
    actor: Actor,
    note: str = "",
    transferred_on: date_type | None = None,
) -> Transfer:
    """Move a member to another branch on the platform (组织关系转接), keeping a Transfer row.

    Lock: the member row. Invariants: the target is a branch other than the current one; the member is active or
    exempt; a secretary stays inside the organizations they lead; the history of branches is the Transfer rows.
    """
    member = _lock(Member, member.pk)
    if member.status not in (Member.Status.ACTIVE, Member.Status.EXEMPT):
        raise ValidationError(
            _("%(name)s 处于“%(status)s”状态，不能转接。")
            % {"name": member.name, "status": member.get_status_display()}
        )
    check_home_organization(to_organization)
    if to_organization.pk == member.organization_id:
        raise ValidationError(_("%(name)s 已在%(org)s。") % {"name": member.name, "org": to_organization.name})
    for organization in member.organizations_as_secretary.all():
        if not to_organization.path.startswith(organization.path):
            raise ValidationError(
                _("%(name)s 是%(org)s的书记，转出前请先更换书记。") % {"name": member.name, "org": organization.name}
            )
    transfer = Transfer.objects.create(
        member=member,
        from_organization_id=member.organization_id,
        to_organization=to_organization,
        actor=actor,
        transferred_on=transferred_on or timezone.localdate(),
        note=note,
    )
    member.organization = to_organization
    _audit(member, actor, _("转接至%(org)s") % {"org": to_organization.name})
    member.save()
    return transfer

"""Every write of the members app.

Functions are keyword-only, typed and atomic; each docstring names the lock it takes and the invariant it keeps.
Rules a form must show before saving are the `check_*` functions of members/validators.py: forms call them in
`clean()`, services call them again inside the transaction, so each rule is written once. A broken rule raises
`django.core.exceptions.ValidationError` with a Chinese message (a dict keyed by field when the field is known).

Services do not decide who may call them — the admin and the views check scope through `members.selectors` first.
They record who acted: audited models (Member, Organization, ServiceRecord) get the actor and a reason in their
django-simple-history rows.
"""

import secrets
from collections.abc import Iterable, Sequence
from datetime import date as date_type
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from audit.services import user_sessions_end
from core import member_cache
from notifications import fanout
from notifications.services import notifications_forget_user, notify, notify_many, user_messages

from .. import events, selectors
from ..models import (
    Community,
    DeletionRequest,
    Grid,
    Member,
    Organization,
    ResidenceRegistration,
    ServiceRecord,
    ServiceRecordCorrection,
    ServiceYear,
    ServiceYearBuilt,
    Tag,
    Team,
    Transfer,
    VolunteerNumberCounter,
)
from ..tokens import invitation_token_generator
from ..validators import (
    NewMember,
    check_correction,
    check_home_organization,
    check_invitable,
    check_member_id_number,
    check_member_phone,
    check_new_members,
    check_organization_name,
    check_organization_placement,
    check_profile_values,
    check_secretaries_stay_inside,
    check_secretary,
    check_service_times,
    check_tags,
    check_team_members,
)

User = get_user_model()


class _Unset:
    def __repr__(self):
        return "UNSET"


UNSET: Any = _Unset()  # "leave this field as it is" in partial updates, where None and "" are real values


def _audit(instance, actor, reason: str) -> None:
    """Attribute the next history row of `instance` to `actor`, with a reason (django-simple-history)."""
    instance._history_user = actor
    instance._change_reason = reason


def _lock(model, pk):
    return model.objects.select_for_update().get(pk=pk)


def _ensure_staff(user) -> None:
    """Secretaries and 组织管理员 work in the admin, which lets only staff in. Never unset here: staff status may
    have been granted for other reasons, and without managed organizations the admin shows such a user nothing."""
    if user is not None and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])


# --- Organisation tree ------------------------------------------------------------------------------------------


@transaction.atomic
def organization_create(
    *,
    name: str,
    type: str,
    actor,
    parent: Organization | None = None,
    contact_name: str = "",
    contact_phone: str = "",
) -> Organization:
    """Create an organization under `parent` (None: a new root).

    Lock: the parent row, so a concurrent move of the parent cannot leave the child with a stale path.
    Invariant: path = parent.path + own id; the placement rules of `check_organization_placement`.
    """
    if parent is not None:
        parent = _lock(Organization, parent.pk)
    check_organization_placement(type=type, parent=parent)
    check_organization_name(name=name, parent=parent)
    organization = Organization(
        parent=parent, name=name.strip(), type=type, contact_name=contact_name, contact_phone=contact_phone
    )
    _audit(organization, actor, _("创建组织"))
    organization.save()
    # The path needs the id, which exists only now; `path` is left out of the history (it is derived).
    organization.path = f"{parent.path if parent else ''}{organization.pk:06d}."
    Organization.objects.filter(pk=organization.pk).update(path=organization.path)
    return organization


@transaction.atomic
def organization_update(
    *,
    organization: Organization,
    actor,
    name: str,
    type: str,
    secretary: Member | None,
    contact_name: str = "",
    contact_phone: str = "",
) -> Organization:
    """Change an organization's own fields (not its place in the tree: `organization_move`).

    Lock: the organization row. Invariants: placement rules for the type; the secretary belongs to the subtree and
    can enter the admin (staff).
    """
    organization = _lock(Organization, organization.pk)
    check_organization_placement(type=type, parent=organization.parent, organization=organization)
    check_organization_name(name=name, parent=organization.parent, organization=organization)
    check_secretary(organization=organization, secretary=secretary)
    organization.name = name.strip()
    organization.type = type
    organization.secretary = secretary
    organization.contact_name = contact_name
    organization.contact_phone = contact_phone
    _audit(organization, actor, _("修改组织信息"))
    organization.save()
    if secretary is not None:
        _ensure_staff(secretary.user)
    return organization


@transaction.atomic
def organization_move(*, organization: Organization, new_parent: Organization | None, actor) -> Organization:
    """Move an organization, with its whole subtree, under `new_parent` (None: make it a root).

    Locks: the organization and the new parent, in id order (no deadlock with a concurrent opposite move); the
    UPDATE of the subtree then locks the descendants' rows. Rows are re-read under the lock, so a path changed by a
    concurrent move is seen. Invariants: every descendant's path starts with its ancestors' paths; no cycle; no
    organization left behind loses its secretary to the moved subtree.
    """
    ids = sorted({organization.pk} | ({new_parent.pk} if new_parent else set()))
    locked = {o.pk: o for o in Organization.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    organization = locked[organization.pk]
    new_parent = locked[new_parent.pk] if new_parent else None
    if organization.parent_id == (new_parent.pk if new_parent else None):
        return organization
    check_organization_placement(type=organization.type, parent=new_parent, organization=organization)
    check_organization_name(name=organization.name, parent=new_parent, organization=organization)
    old_path = organization.path
    new_path = f"{new_parent.path if new_parent else ''}{organization.pk:06d}."
    check_secretaries_stay_inside(members_path=old_path, new_path=new_path)
    organization.parent = new_parent
    organization.path = new_path
    _audit(organization, actor, _("调整上级组织"))
    organization.save()
    Organization.objects.filter(path__startswith=old_path).update(
        path=Concat(Value(new_path), Substr("path", len(old_path) + 1))
    )
    return organization


@transaction.atomic
def organization_set_admins(*, organization: Organization, users: Iterable, actor) -> None:
    """Replace the organization's 组织管理员.

    Lock: the organization row. Invariant: every admin is staff, so the scope they are given is usable.
    """
    organization = _lock(Organization, organization.pk)
    users = list(users)
    _audit(organization, actor, _("调整组织管理员"))
    organization.admins.set(users)
    for user in users:
        _ensure_staff(user)


# --- Members ----------------------------------------------------------------------------------------------------


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
    actor,
    gender: str = "",
    birth_year: int | None = None,
    id_number: str = "",
    skills: Iterable[Tag] = (),
    interests: Iterable[Tag] = (),
    availability: int = 0,
    user=None,
) -> Member:
    """Register a member in a branch, with a new volunteer number and, unless `user` is given, a new account.

    The new account's username is the volunteer number and it has no usable password: the member sets one through
    an invitation. Lock: the volunteer-number counter of the year (see `volunteer_numbers_allocate`).
    Invariants: unique volunteer number, phone and ID number (normalised, hashed, encrypted); home org is a branch.
    """
    check_profile_values(name=name, birth_year=birth_year, availability=availability)
    phone = check_member_phone(phone)
    id_number = check_member_id_number(id_number)
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
    )
    member.set_phone(phone)
    member.set_id_number(id_number)
    _audit(member, actor, _("登记党员"))
    _save_member(member)
    member.skills.set(skills)
    member.interests.set(interests)
    return member


# --- Bulk registration: roster import, demo data ---------------------------------------------------------------

_BULK_BATCH = 1000


def _tags_named(kind: str, names: set[str]) -> dict[str, Tag]:
    """The tags of `kind` with these names, creating the missing ones (a concurrent creation is not an error)."""
    found = {tag.name: tag for tag in Tag.objects.filter(kind=kind, name__in=names)}
    if names - found.keys():
        Tag.objects.bulk_create([Tag(kind=kind, name=name) for name in names - found.keys()], ignore_conflicts=True)
        found = {tag.name: tag for tag in Tag.objects.filter(kind=kind, name__in=names)}
    return found


@transaction.atomic
def members_import(
    *, rows: Sequence[NewMember], actor, reason: str = "", row_numbers: Sequence[int] | None = None
) -> list[Member]:
    """Register many members at once: the bulk form of `member_create`, for roster imports and demo data.

    All or nothing: when any row breaks a rule of `check_new_members`, one ValidationError lists every problem as
    "第N行：…" (N from `row_numbers`) and nothing is written. Each member gets a volunteer number (one block of
    `volunteer_numbers_allocate`), an account named by it with no usable password (an invitation sets one), the phone
    normalised, encrypted and hashed, tags linked (missing ones created), and a history row attributed to `actor`
    with `reason`. Returns the members in row order. Queries: a constant number per 1,000 rows, none per row.

    Lock: the volunteer-number counter of the year. Invariants: those of `member_create`; a phone registered by a
    concurrent transaction meets the UNIQUE index, and the import fails with a ValidationError, not half done.
    """
    rows = list(rows)
    if not rows:
        return []
    numbers = list(row_numbers) if row_numbers is not None else list(range(1, len(rows) + 1))
    problems = check_new_members(rows, row_numbers=numbers)
    messages = [
        _("第%(row)s行：%(message)s") % {"row": numbers[i], "message": message}
        for i, errors in enumerate(problems)
        for field_messages in errors.values()
        for message in field_messages
    ]
    if messages:
        raise ValidationError(messages)

    volunteer_numbers = volunteer_numbers_allocate(count=len(rows))
    # Unusable passwords, as make_password(None) writes them, with one call of the system's random source per row.
    users = [
        User(username=number, password=UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30))
        for number in volunteer_numbers
    ]
    members = []
    for row, number, user in zip(rows, volunteer_numbers, users, strict=True):
        member = Member(
            user=user,
            volunteer_number=number,
            name=row.name.strip(),
            gender=row.gender,
            birth_year=row.birth_year,
            organization=row.organization,
            availability=row.availability,
            status=row.status,
        )
        member.set_phone(row.phone)
        members.append(member)
    try:
        with transaction.atomic():
            User.objects.bulk_create(users, batch_size=_BULK_BATCH)
            # bulk_create fills each member's user_id from its account, which has an id now.
            Member.objects.bulk_create(members, batch_size=_BULK_BATCH)
    except IntegrityError:
        raise ValidationError(
            _("导入时有手机号或账号刚被其他操作登记，没有导入任何党员，请重新导入。"), code="conflict"
        ) from None
    Member.history.bulk_history_create(
        members, batch_size=_BULK_BATCH, default_user=actor, default_change_reason=reason or _("批量导入")
    )
    for field, kind in (("skills", Tag.Kind.SKILL), ("interests", Tag.Kind.INTEREST)):
        wanted = [
            (member, dict.fromkeys(name.strip() for name in getattr(row, field)))
            for member, row in zip(members, rows, strict=True)
        ]
        tags = _tags_named(kind, {name for _member, names in wanted for name in names})
        through = getattr(Member, field).through
        through.objects.bulk_create(
            [through(member_id=member.pk, tag_id=tags[name].pk) for member, names in wanted for name in names],
            batch_size=_BULK_BATCH,
        )
    return members


@transaction.atomic
def member_update_profile(
    *,
    member: Member,
    actor,
    name: str = UNSET,
    phone: str = UNSET,
    gender: str = UNSET,
    birth_year: int | None = UNSET,
    id_number: str = UNSET,
    skills: Iterable[Tag] = UNSET,
    interests: Iterable[Tag] = UNSET,
    availability: int = UNSET,
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
def member_deactivate(*, member: Member, actor, status: str = Member.Status.INACTIVE, reason: str = "") -> Member:
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
    _audit(member, actor, reason or Member.Status(status).label)
    member.save()
    user_sessions_end(user=member.user, actor=actor, reason=str(Member.Status(status).label))
    return member


@transaction.atomic
def member_reactivate(*, member: Member, actor, reason: str = "") -> Member:
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
    actor,
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


# --- 双报到 -----------------------------------------------------------------------------------------------------


@transaction.atomic
def residence_register(
    *,
    member: Member,
    community: Community,
    actor,
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
def residence_confirm(*, registration: ResidenceRegistration, actor) -> ResidenceRegistration:
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
def residence_end(*, registration: ResidenceRegistration, actor) -> ResidenceRegistration:
    """End an active registration (moved away, or registered by mistake). Lock: the registration row."""
    registration = _lock(ResidenceRegistration, registration.pk)
    if registration.status not in ResidenceRegistration.ACTIVE_STATUSES:
        raise ValidationError(_("该报到已经结束。"))
    registration.status = ResidenceRegistration.Status.ENDED
    registration.ended_at = timezone.now()
    registration.save(update_fields=["status", "ended_at"])
    return registration


# --- Teams ------------------------------------------------------------------------------------------------------


@transaction.atomic
def team_create(
    *,
    organization: Organization,
    name: str,
    actor,
    leader: Member | None = None,
    members: Iterable[Member] = (),
    description: str = "",
) -> Team:
    """Create a 服务队. Invariants: unique name in the organization; leader is a member of the team; everyone
    belongs to the organization's subtree. No lock: the UNIQUE (organization, name) settles a race."""
    people = check_team_members(organization=organization, leader=leader, members=members)
    if Team.objects.filter(organization=organization, name=name.strip()).exists():
        raise ValidationError({"name": _("该组织已有同名服务队。")})
    team = Team.objects.create(organization=organization, name=name.strip(), leader=leader, description=description)
    team.members.set(people)
    return team


@transaction.atomic
def team_update(
    *,
    team: Team,
    actor,
    name: str,
    leader: Member | None,
    members: Iterable[Member],
    description: str = "",
) -> Team:
    """Change a team's name, leader and members. Lock: the team row. Invariants: as `team_create`."""
    team = _lock(Team, team.pk)
    people = check_team_members(organization=team.organization, leader=leader, members=members)
    if Team.objects.filter(organization=team.organization, name=name.strip()).exclude(pk=team.pk).exists():
        raise ValidationError({"name": _("该组织已有同名服务队。")})
    team.name = name.strip()
    team.leader = leader
    team.description = description
    team.save()
    team.members.set(people)
    return team


# --- Service records --------------------------------------------------------------------------------------------


_SOURCES_NEEDING_REF = (ServiceRecord.Source.ACTIVITY, ServiceRecord.Source.WISH, ServiceRecord.Source.PAIRING)


@transaction.atomic
def service_record_create(
    *,
    member: Member,
    start: datetime,
    end: datetime,
    place: str,
    content: str,
    hours,
    source: str,
    recording_organization: Organization,
    organizer: str,
    recorder,
    source_ref: str = "",
    beneficiary_summary: str = "",
    evaluation: int | None = None,
    date: date_type | None = None,
    role: str = ServiceRecord.Role.PARTICIPANT,
) -> ServiceRecord:
    """Record one service of one member — the one way any step records hours. The record stays pending until a
    verifier of the recording organization confirms it (`service_record_verify`).

    Idempotent: with a `source_ref` ("activity:12"), a second call for the same (source, source_ref, member) returns
    the first record unchanged, even when two calls race (the partial UNIQUE decides; the loser reads the winner).
    No lock otherwise. Invariants: hours > 0 and ≤ end − start (also CHECKs); no beneficiary personal data (the
    summary is free text the caller keeps general).
    """
    if source not in ServiceRecord.Source.values:
        raise ValueError(f"unknown source: {source}")
    if source in _SOURCES_NEEDING_REF and not source_ref:
        raise ValueError(f"source {source} needs a source_ref")
    if source_ref:
        existing = ServiceRecord.objects.filter(source=source, source_ref=source_ref, member=member).first()
        if existing is not None:
            return existing
    hours, service_date = check_service_times(start=start, end=end, hours=hours, service_date=date)
    if not place.strip():
        raise ValidationError({"place": _("请填写服务地点。")})
    if not content.strip():
        raise ValidationError({"content": _("请填写服务内容。")})
    if evaluation is not None and not 1 <= evaluation <= 5:
        raise ValidationError({"evaluation": _("服务评价应为1到5分。")})
    if role not in ServiceRecord.Role.values:
        raise ValidationError({"role": _("无效的服务角色。")})
    record = ServiceRecord(
        member=member,
        date=service_date,
        started_at=start,
        ended_at=end,
        place=place.strip(),
        content=content.strip(),
        beneficiary_summary=beneficiary_summary.strip(),
        hours=hours,
        evaluation=evaluation,
        organizer=organizer,
        recorder=recorder,
        recording_organization=recording_organization,
        source=source,
        source_ref=source_ref,
        role=role,
    )
    _audit(record, recorder, _("记录服务"))
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        if not source_ref:
            raise
        return ServiceRecord.objects.get(source=source, source_ref=source_ref, member=member)
    return record


@transaction.atomic
def service_record_verify(*, record: ServiceRecord, verifier) -> ServiceRecord:
    """Confirm the hours of a pending record (确认时长).

    Lock: the record row, then the member's ServiceYear row (kept equal to the records in this transaction).
    Invariants: pending → verified, once; nobody confirms their own hours. Sends `events.record_counted_changed`
    in the transaction: the record's points follow in it (incentives), whatever produced the record.
    """
    record = _lock(ServiceRecord, record.pk)
    if record.status != ServiceRecord.Status.PENDING:
        raise ValidationError(
            _("只有待确认的记录可以确认（该记录%(status)s）。") % {"status": record.get_status_display()}
        )
    if record.member.user_id == verifier.pk:
        raise ValidationError(_("不能确认本人的服务时长。"))
    record.status = ServiceRecord.Status.VERIFIED
    record.verified_by = verifier
    record.verified_at = timezone.now()
    _audit(record, verifier, _("确认时长"))
    record.save()
    _service_year_refresh(member_id=record.member_id, years=[record.date.year])
    events.record_counted_changed.send(events.RecordCountedChanged(record=record, actor=verifier, change="verified"))
    return record


@transaction.atomic
def service_record_void(*, record: ServiceRecord, actor, reason: str) -> ServiceRecord:
    """Void a record recorded in error; its hours stop counting. Pending corrections of it are refused.

    Lock: the record row, then its corrections (the order every service uses), then the member's ServiceYear row.
    Invariant: void is final. A counted record's points are reversed in the same transaction
    (`events.record_counted_changed`).
    """
    if not reason or not reason.strip():
        raise ValidationError({"reason": _("请填写作废原因。")})
    record = _lock(ServiceRecord, record.pk)
    if record.status == ServiceRecord.Status.VOID:
        raise ValidationError(_("该记录已作废。"))
    now = timezone.now()
    was_counted = record.is_counted
    record.status = ServiceRecord.Status.VOID
    record.voided_by = actor
    record.voided_at = now
    record.void_reason = reason.strip()[:200]
    _audit(record, actor, _("作废：%(reason)s") % {"reason": record.void_reason})
    record.save()
    _service_year_refresh(member_id=record.member_id, years=[record.date.year])
    record.corrections.select_for_update().filter(status=ServiceRecordCorrection.Status.PENDING).update(
        status=ServiceRecordCorrection.Status.REFUSED,
        reviewed_by=actor,
        reviewed_at=now,
        review_note=_("记录已作废"),
    )
    if was_counted:
        events.record_counted_changed.send(events.RecordCountedChanged(record=record, actor=actor, change="voided"))
    return record


@transaction.atomic
def service_record_correction_request(
    *,
    record: ServiceRecord,
    requested_by,
    reason: str,
    hours=None,
    start: datetime | None = None,
    end: datetime | None = None,
    place: str = "",
    content: str = "",
) -> ServiceRecordCorrection:
    """Ask the recording organization to correct a confirmed record (hours, times, place, content).

    Lock: the record row. Invariants: one pending correction per record (partial UNIQUE); the corrected record
    would still be valid (hours > 0, ≤ span).
    """
    if not reason or not reason.strip():
        raise ValidationError({"reason": _("请填写更正理由。")})
    record = _lock(ServiceRecord, record.pk)
    new_hours = check_correction(record=record, hours=hours, start=start, end=end, place=place, content=content)
    if record.corrections.filter(status=ServiceRecordCorrection.Status.PENDING).exists():
        raise ValidationError(_("该记录已有待审核的更正申请。"))
    return ServiceRecordCorrection.objects.create(
        record=record,
        requested_by=requested_by,
        reason=reason.strip(),
        new_hours=new_hours,
        new_started_at=start,
        new_ended_at=end,
        new_place=place.strip(),
        new_content=content.strip(),
    )


@transaction.atomic
def service_record_correction_review(
    *, correction: ServiceRecordCorrection, reviewer, approve: bool, note: str = ""
) -> ServiceRecordCorrection:
    """Approve (the change applies, the record becomes 已更正) or refuse (a note says why) a pending correction.

    Locks: the record row, then the correction row, then the member's ServiceYear rows (old and new year).
    Invariants: only a pending correction is reviewed, once; an approved change leaves a valid record; the record's
    history keeps the values before and after; the record's points follow the new hours in the same transaction
    (`events.record_counted_changed`). The member who asked is told the outcome (in-app message).
    """
    record = _lock(ServiceRecord, correction.record_id)
    correction = _lock(ServiceRecordCorrection, correction.pk)
    if correction.status != ServiceRecordCorrection.Status.PENDING:
        raise ValidationError(_("该更正申请已经审核过。"))
    now = timezone.now()
    if approve:
        year_before = record.date.year
        check_correction(
            record=record,
            hours=correction.new_hours,
            start=correction.new_started_at,
            end=correction.new_ended_at,
            place=correction.new_place,
            content=correction.new_content,
        )
        if correction.new_started_at is not None:
            record.started_at = correction.new_started_at
            record.ended_at = correction.new_ended_at
            record.date = timezone.localtime(record.started_at).date()
        if correction.new_hours is not None:
            record.hours = correction.new_hours
        if correction.new_place:
            record.place = correction.new_place
        if correction.new_content:
            record.content = correction.new_content
        record.status = ServiceRecord.Status.CORRECTED
        _audit(record, reviewer, _("批准更正申请 #%(pk)s") % {"pk": correction.pk})
        record.save()
        # A new start may move the record to another day, month or year: both years are recomputed.
        _service_year_refresh(member_id=record.member_id, years=[year_before, record.date.year])
        correction.status = ServiceRecordCorrection.Status.APPROVED
        events.record_counted_changed.send(
            events.RecordCountedChanged(record=record, actor=reviewer, change="corrected")
        )
    else:
        if not note or not note.strip():
            raise ValidationError({"review_note": _("拒绝更正申请时请说明理由。")})
        correction.status = ServiceRecordCorrection.Status.REFUSED
    correction.reviewed_by = reviewer
    correction.reviewed_at = now
    correction.review_note = note.strip()[:200]
    correction.save()
    _tell_correction_outcome(correction, record)
    return correction


def _tell_correction_outcome(correction: ServiceRecordCorrection, record: ServiceRecord) -> None:
    """An in-app message to whoever asked for the correction — the member, or a secretary asking for them — and to
    the member when someone else asked."""
    users = {correction.requested_by_id, record.member.user_id} - {None, correction.reviewed_by_id}
    if not users:
        return
    approved = correction.status == ServiceRecordCorrection.Status.APPROVED
    context = {
        "name": record.member.name,
        "record_date": record.date.isoformat(),
        "content": record.content[:60],
        "approved": approved,
        "hours": str(record.hours),
        "note": correction.review_note,
    }
    for user in get_user_model().objects.filter(pk__in=users, is_active=True).order_by("pk"):
        notify(
            template="members_correction_reviewed",
            channel="inapp",
            user=user,
            dedupe_key=f"members:correction:{correction.pk}:reviewed:{user.pk}",
            context=context,
        )


# --- The yearly service summary (ServiceYear) -------------------------------------------------------------------


def _service_year_refresh(*, member_id: int, years: Iterable[int]) -> None:
    """Recompute `member_id`'s ServiceYear rows of `years` from their counted records; called inside the
    transaction that changed one of those records. Lock: the (member, year) row (created first when missing), so
    a concurrent change of the same member's records waits, and the recomputation, a later statement, then sees
    the other change committed: the row always equals its records."""
    for year in sorted(set(years)):
        ServiceYear.objects.bulk_create([ServiceYear(member_id=member_id, year=year)], ignore_conflicts=True)
        row = ServiceYear.objects.select_for_update().get(member_id=member_id, year=year)
        figures = ServiceRecord.objects.filter(
            member_id=member_id, status__in=ServiceRecord.COUNTED_STATUSES, date__year=year
        ).aggregate(**selectors.service_year_aggregates())
        for name, value in figures.items():
            setattr(row, name, value)
        row.save()


@transaction.atomic
def service_years_refresh(*, member_id: int, years: Iterable[int]) -> None:
    """Recompute one member's ServiceYear rows of `years` from their records (`manage.py reconcile --fix`).
    Lock: each (member, year) row."""
    _service_year_refresh(member_id=member_id, years=years)


@transaction.atomic
def service_year_rebuild(*, year: int) -> int:
    """Rebuild every ServiceYear row of `year` from the counted records in one INSERT … SELECT and mark the year
    built (the dashboard then reads it). Idempotent; repairs anything written around the services. Returns the
    number of rows.

    Lock: the whole summary table (SHARE ROW EXCLUSIVE on PostgreSQL) for the few seconds of the rebuild: a service
    recomputing a row waits, then sees the rebuilt table; a rebuild waits for services already writing rows, and its
    statements (later snapshots) see their records."""
    table = connection.ops.quote_name(ServiceYear._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        ServiceYear.objects.filter(year=year).delete()
        aggregates = selectors.service_year_aggregates()
        select = (
            ServiceRecord.objects.filter(status__in=ServiceRecord.COUNTED_STATUSES, date__year=year)
            .values("member")
            .annotate(**aggregates)
            .values_list("member", *aggregates)
            .order_by()
        )
        sql, params = select.query.sql_with_params()
        columns = ", ".join(connection.ops.quote_name(c) for c in ["year", "member_id", *aggregates])
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT %s, s.* FROM ({sql}) s", (year, *params))
        rows = cursor.rowcount
    ServiceYearBuilt.objects.update_or_create(year=year, defaults={"rebuilt_at": timezone.now()})
    return rows


def service_years_rebuild_due(*, today: date_type | None = None) -> list[int]:
    """The periodic rebuild (members.tasks.rebuild_service_years, nightly): this year and the last are rebuilt,
    and every earlier year with records that was never built. Each year in its own transaction
    (`service_year_rebuild`). Returns the years rebuilt."""
    today = today or timezone.localdate()
    first = ServiceRecord.objects.filter(status__in=ServiceRecord.COUNTED_STATUSES).order_by("date").first()
    built = set(ServiceYearBuilt.objects.values_list("year", flat=True))
    years = [y for y in range(first.date.year, today.year - 1) if y not in built] if first else []
    years += [today.year - 1, today.year]
    for year in years:
        service_year_rebuild(year=year)
    return years


# --- Member self-service: invitation, own profile ----------------------------------------------------------------

INVITATION_VALID_DAYS = invitation_token_generator.timeout // 86400


def invitation_path(user, token: str) -> str:
    return reverse(
        "members:invite_accept", kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": token}
    )


@transaction.atomic
def member_invite(*, member: Member, actor, site_url: str = "") -> str:
    """Invite a member to the portal: return the path of a new invitation link and text it to the member's phone.

    The link (`members.tokens`) lets the member set a password and complete their profile; it works for
    INVITATION_VALID_DAYS days and once (setting the password ends it). The SMS goes through the outbox (`notify`)
    in this transaction, so a rollback sends nothing; `site_url` ("https://example.org/") makes its link absolute.
    Lock: the member row. Invariant: `check_invitable`. Inviting again sends a new link; earlier ones stay valid
    until one is used.
    """
    member = Member.objects.select_for_update(of=("self",)).select_related("user", "organization").get(pk=member.pk)
    check_invitable(member)
    token = invitation_token_generator.make_token(member.user)
    path = invitation_path(member.user, token)
    notify(
        template="members_invitation",
        channel="sms",
        user=member.user,
        phone=member.phone,
        dedupe_key=f"members_invitation:{member.pk}:{token}",
        context={
            "name": member.name,
            "organization": member.organization.name,
            "link": urljoin(site_url, path) if site_url else path,
            "days": INVITATION_VALID_DAYS,
            "invited_by": getattr(actor, "pk", None),  # who sent it, kept with the outbox row
        },
    )
    return path


def _apply_own_profile(
    *,
    member: Member,
    name: str,
    gender: str,
    birth_year: int | None,
    skills: Iterable[Tag],
    interests: Iterable[Tag],
    availability: int,
    show_full_name_publicly: bool,
    phone: str,
) -> Member:
    changes = {
        "name": name,
        "gender": gender,
        "birth_year": birth_year,
        "skills": skills,
        "interests": interests,
        "availability": availability,
    }
    if phone is not UNSET:
        changes["phone"] = phone
    member = member_update_profile(member=member, actor=member.user, **changes)
    if member.show_full_name_publicly != show_full_name_publicly:
        member = member_set_name_consent(member=member, consent=show_full_name_publicly)
    return member


@transaction.atomic
def member_invitation_accept(
    *,
    member: Member,
    token: str,
    password: str,
    name: str,
    gender: str = "",
    birth_year: int | None = None,
    skills: Iterable[Tag] = (),
    interests: Iterable[Tag] = (),
    availability: int = 0,
    show_full_name_publicly: bool = False,
) -> Member:
    """The invited member sets their password and completes their profile, all or nothing.

    Lock: the account row, then the member row. The token is checked under the account lock and setting the password
    invalidates it, so of two submissions of one link exactly one succeeds; the other gets the "link no longer
    valid" message. Invariants: `check_invitable`; the password passes AUTH_PASSWORD_VALIDATORS; the profile rules
    of `member_update_profile`; the name consent is recorded with its time (`member_set_name_consent`).
    """
    user = User.objects.select_for_update().get(pk=member.user_id)
    member = Member.objects.select_related("organization").get(pk=member.pk)
    member.user = user
    if not invitation_token_generator.check_token(user, token):
        raise ValidationError(
            _("邀请链接已失效（已经使用过或已过期），请联系所在支部的书记重新发送。"), code="invalid_invitation"
        )
    check_invitable(member)
    password_validation.validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    member = _apply_own_profile(
        member=member,
        name=name,
        gender=gender,
        birth_year=birth_year,
        skills=skills,
        interests=interests,
        availability=availability,
        show_full_name_publicly=show_full_name_publicly,
        phone=UNSET,
    )
    member.user = user  # the caller signs this account in: it must carry the new password hash
    return member


@transaction.atomic
def member_update_own_profile(
    *,
    member: Member,
    name: str,
    phone: str,
    gender: str = "",
    birth_year: int | None = None,
    skills: Iterable[Tag] = (),
    interests: Iterable[Tag] = (),
    availability: int = 0,
    show_full_name_publicly: bool = False,
) -> Member:
    """A member edits their own profile (/me/profile/): `member_update_profile` plus the separate name consent,
    in one transaction, attributed to the member. Locks and invariants: those of the two services."""
    return _apply_own_profile(
        member=member,
        name=name,
        gender=gender,
        birth_year=birth_year,
        skills=skills,
        interests=interests,
        availability=availability,
        show_full_name_publicly=show_full_name_publicly,
        phone=phone,
    )


# --- Scheduled messages (members/tasks.py; schedules in volunteer_platform/schedules.py) ------------------------


def _previous_quarter(today: date_type) -> tuple[int, int]:
    quarter = (today.month - 1) // 3 + 1
    return (today.year, quarter - 1) if quarter > 1 else (today.year - 1, 4)


def _hours_text(value: Decimal) -> str:
    return f"{value.normalize():f}"


def service_cards_plan(*, today: date_type | None = None) -> int:
    """Fan out the 双报到 service cards of the quarter before `today` to the home branches of members registered
    in a residence community, 50 branches a chunk; returns the chunks."""
    year, quarter = _previous_quarter(today or timezone.localdate())
    return fanout.plan(
        "members.tasks.send_service_cards",
        selectors.branches_with_registrations(*selectors.quarter_bounds(year, quarter)),
        chunk=50,
        kwargs={"year": year, "quarter": quarter},
    )


def service_cards_send(*, organization_ids: list[int], year: int, quarter: int) -> int:
    """Send each branch's managers one message with the service card of each of its in-service members for the
    quarter (`selectors.service_cards`), once (dedupe key: quarter, branch, user); a branch without cards or
    without managers gets nothing. Returns the rows written. Kind `digest`."""
    first, after = selectors.quarter_bounds(year, quarter)
    managers = selectors.organization_managers(organization_ids)
    messages = []
    for branch in Organization.objects.filter(pk__in=list(managers)).order_by("pk"):
        cards = selectors.service_cards(branch, first, after)
        if not cards:
            continue
        context = {
            "organization": branch.name,
            "year": year,
            "quarter": quarter,
            "cards": [
                {
                    "name": card.member.name,
                    "volunteer_number": card.member.volunteer_number,
                    "community": card.community.name,
                    "registered_on": card.registered_on.isoformat(),
                    "services": card.services,
                    "hours": _hours_text(card.hours),
                }
                for card in cards
            ],
        }
        for user in managers[branch.pk]:
            messages += user_messages(
                user_id=user.pk,
                kind="digest",
                template="members_service_card",
                dedupe_key=f"members:service-card:{year}Q{quarter}:{branch.pk}:{user.pk}",
                context=context,
                has_email=bool(user.email),
            )
    return notify_many(messages)


# --- Personal information: deletion on request (PIPL art. 47) -------------------------------------------------


@transaction.atomic
def deletion_request_create(*, member: Member, reason: str = "") -> DeletionRequest:
    """The member asks for their personal information to be deleted. Lock: the member row, so two presses make
    one request (the partial UNIQUE backs it). Invariant: one pending request per member; an active secretary must
    hand over the post first, as anonymising them would leave a branch without a named secretary."""
    member = _lock(Member, member.pk)
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise ValidationError({"reason": _("申请理由不能超过500字。")})
    if member.deletion_requests.filter(status=DeletionRequest.Status.PENDING).exists():
        raise ValidationError(_("您已提交过删除申请，正在等待审批。"))
    if member.organizations_as_secretary.exists():
        raise ValidationError(_("您目前担任党组织书记，请先由上级党组织更换书记，再申请删除个人信息。"))
    return DeletionRequest.objects.create(member=member, reason=reason)


def _lock_pending_request(request: DeletionRequest) -> DeletionRequest:
    request = DeletionRequest.objects.select_for_update().select_related("member").get(pk=request.pk)
    if request.status != DeletionRequest.Status.PENDING:
        raise ValidationError(_("该申请已经审批过了。"))
    return request


@transaction.atomic
def deletion_request_approve(*, request: DeletionRequest, actor, note: str = "") -> DeletionRequest:
    """Approve the request and anonymise the member at once (`member_anonymise`). Lock: the request row, then the
    member's. Invariant: a request is decided once."""
    request = _lock_pending_request(request)
    member_anonymise(member=request.member, actor=actor)
    request.status = DeletionRequest.Status.APPROVED
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.decision_note = (note or "").strip()[:200]
    request.reason = ""  # the member's own words may name them
    request.save()
    return request


@transaction.atomic
def deletion_request_reject(*, request: DeletionRequest, actor, note: str) -> DeletionRequest:
    """Refuse the request, saying why (e.g. the information must be kept by law for now). Lock: the request row."""
    note = (note or "").strip()
    if not note:
        raise ValidationError({"decision_note": _("请说明不予删除的理由。")})
    request = _lock_pending_request(request)
    request.status = DeletionRequest.Status.REJECTED
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.decision_note = note[:200]
    request.save()
    return request


@transaction.atomic
def member_anonymise(*, member: Member, actor) -> Member:
    """Delete what identifies the member and keep what the organization must count.

    Cleared: name (becomes 已注销党员), phone and ID number with their lookup hashes, gender, birth year, skills,
    interests, availability and the public-name consent — also in every earlier row of the member's change
    history, which would otherwise keep a copy; 双报到 registrations end. The account is closed: a random
    username, no e-mail or name, no usable password, inactive, every session ended, every message and preference
    deleted. Kept: the volunteer number, the branch and the service records with their hours (the statistics and
    plans of the organization), now pointing at nobody. Lock: the member row. Invariant: a branch's secretary is
    replaced first.
    """
    member = _lock(Member, member.pk)
    if member.organizations_as_secretary.exists():
        raise ValidationError(_("该党员目前担任党组织书记，请先更换书记。"))
    anonymous_name = _("已注销党员")
    member.name = anonymous_name
    member.set_phone("")
    member.set_id_number("")
    member.gender = ""
    member.birth_year = None
    member.availability = 0
    member.show_full_name_publicly = False
    member.full_name_consent_at = None
    if member.status == Member.Status.ACTIVE:
        member.status = Member.Status.INACTIVE
    _audit(member, actor, _("删除个人信息"))
    member.save()
    member.skills.clear()
    member.interests.clear()
    member.history.model.objects.filter(id=member.pk).update(
        name=anonymous_name, phone="", gender="", birth_year=None, availability=0
    )
    ResidenceRegistration.objects.filter(
        member=member, status__in=[ResidenceRegistration.Status.PENDING, ResidenceRegistration.Status.CONFIRMED]
    ).update(status=ResidenceRegistration.Status.ENDED, ended_at=timezone.now())
    member_cache.users_changed([member.user_id])  # update() sends no signals

    user = get_user_model().objects.select_for_update().get(pk=member.user_id)
    user.username = f"deleted-{member.pk}-{secrets.token_hex(4)}"
    user.email = ""
    user.first_name = ""
    user.last_name = ""
    user.is_active = False
    user.set_unusable_password()
    user.save()
    user_sessions_end(user=user, actor=actor, reason=str(_("删除个人信息")))
    notifications_forget_user(user=user)
    return member

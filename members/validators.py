"""The members app's rules, one function each: forms call them in `clean()` so a broken rule is a message on the
form, and services call them again inside their transaction, so each rule is written once. A broken rule raises
`django.core.exceptions.ValidationError` with a Chinese message (a dict keyed by field when the field is known).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date as date_type
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from core.crypto import blind_index

from .availability import FULL_MASK
from .identifiers import normalize_id_number, normalize_mobile, normalize_national_volunteer_number
from .models import Member, Organization, ServiceRecord, Tag

# --- Organisation tree ---------------------------------------------------------------------------------------------


def check_organization_placement(*, type: str, parent: Organization | None, organization: Organization | None = None):
    """A child is not above its parent in the hierarchy, a 党小组 has no children, and nothing is its own ancestor."""
    if type not in Organization.Type.values:
        raise ValidationError({"type": _("请选择组织类型。")})
    if parent is not None:
        if organization is not None and organization.path and parent.path.startswith(organization.path):
            raise ValidationError({"parent": _("不能把组织移到它自己或它的下级组织之下。")})
        if parent.type == Organization.Type.GROUP:
            raise ValidationError({"parent": _("党小组下不能再设下级组织。")})
        if Organization.Type.values.index(type) < parent.rank:
            raise ValidationError(
                {"type": _("下级组织的层级不能高于上级组织（%(parent)s）。") % {"parent": parent.get_type_display()}}
            )
    if organization is not None and organization.pk:
        children = Organization.objects.filter(parent=organization)
        if type == Organization.Type.GROUP and children.exists():
            raise ValidationError({"type": _("该组织有下级组织，不能改为党小组。")})
        higher = [c for c in children if c.rank < Organization.Type.values.index(type)]
        if higher:
            raise ValidationError({"type": _("下级组织“%(name)s”的层级会高于本组织。") % {"name": higher[0].name}})


def check_organization_name(*, name: str, parent: Organization | None, organization: Organization | None = None):
    if not name.strip():
        raise ValidationError({"name": _("请填写组织名称。")})
    siblings = Organization.objects.filter(parent=parent, name=name.strip())
    if organization is not None and organization.pk:
        siblings = siblings.exclude(pk=organization.pk)
    if siblings.exists():
        raise ValidationError({"name": _("同一上级组织下已有同名组织。")})


def check_secretary(*, organization: Organization, secretary: Member | None) -> None:
    """The secretary is an active member of the organization or of one below it."""
    if secretary is None:
        return
    if secretary.status != Member.Status.ACTIVE:
        raise ValidationError({"secretary": _("书记必须是在册党员。")})
    if not organization.path or not secretary.organization.path.startswith(organization.path):
        raise ValidationError({"secretary": _("书记必须是本组织或其下级组织的党员。")})


def check_secretaries_stay_inside(*, members_path: str, new_path: str | None) -> None:
    """Refuse a write that would leave an organization with a secretary outside its subtree (or not active).

    `members_path`: the path of the branch(es) whose members are affected (a member's branch, or a moved subtree);
    `new_path`: where they end up (None: they stop being active). An organization keeps its secretary only if the
    new place is still inside it.
    """
    affected = Organization.objects.filter(secretary__organization__path__startswith=members_path)
    broken = [o.name for o in affected if new_path is None or not new_path.startswith(o.path)]
    if broken:
        raise ValidationError(
            _("此操作后%(orgs)s的书记将不再是本组织在册党员，请先更换书记。") % {"orgs": "、".join(broken)}
        )


# --- Members -------------------------------------------------------------------------------------------------------


def check_member_phone(phone: str, *, member: Member | None = None) -> str:
    """The normalised mobile number, not used by another member (a dict error keyed "phone")."""
    if not phone:
        raise ValidationError({"phone": _("请填写手机号。")})
    try:
        phone = normalize_mobile(phone)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from None
    probe = Member(phone="")
    probe.set_phone(phone)
    others = Member.objects.filter(phone_hash=probe.phone_hash)
    if member is not None and member.pk:
        others = others.exclude(pk=member.pk)
    if others.exists():
        raise ValidationError({"phone": _("该手机号已被其他党员使用。")})
    return phone


def check_member_id_number(id_number: str, *, member: Member | None = None) -> str:
    """The normalised ID number ('' when none), not used by another member (a dict error keyed "id_number")."""
    if not id_number:
        return ""
    try:
        id_number = normalize_id_number(id_number)
    except ValidationError as exc:
        raise ValidationError({"id_number": exc.messages}) from None
    probe = Member(id_number="")
    probe.set_id_number(id_number)
    others = Member.objects.filter(id_number_hash=probe.id_number_hash)
    if member is not None and member.pk:
        others = others.exclude(pk=member.pk)
    if others.exists():
        raise ValidationError({"id_number": _("该身份证号已被其他党员使用。")})
    return id_number


def check_member_national_number(number: str, *, member: Member | None = None) -> str:
    """The normalised national 志愿者统一编号 ('' when none), not used by another member (a dict error keyed
    "national_volunteer_number")."""
    try:
        number = normalize_national_volunteer_number(number)
    except ValidationError as exc:
        raise ValidationError({"national_volunteer_number": exc.messages}) from None
    if not number:
        return ""
    others = Member.objects.filter(national_volunteer_number=number)
    if member is not None and member.pk:
        others = others.exclude(pk=member.pk)
    if others.exists():
        raise ValidationError({"national_volunteer_number": _("该全国志愿者统一编号已被其他党员使用。")})
    return number


def check_home_organization(organization: Organization) -> None:
    if organization.type != Organization.Type.BRANCH:
        raise ValidationError({"organization": _("所在支部必须是党支部。")})


def check_tags(tags: Iterable[Tag], kind: str, field: str) -> list[Tag]:
    tags = list(tags)
    if any(tag.kind != kind for tag in tags):
        raise ValidationError({field: _("请选择%(kind)s标签。") % {"kind": Tag.Kind(kind).label}})
    return tags


def check_profile_values(*, name: str, birth_year: int | None, availability: int) -> None:
    if not name or not name.strip():
        raise ValidationError({"name": _("请填写姓名。")})
    if birth_year is not None and not 1900 <= birth_year <= timezone.localdate().year:
        raise ValidationError({"birth_year": _("请填写正确的出生年份。")})
    if not 0 <= availability <= FULL_MASK:
        raise ValidationError({"availability": _("可服务时段无效。")})


# --- Bulk registration ---------------------------------------------------------------------------------------------


IMPORTABLE_STATUSES = (Member.Status.ACTIVE, Member.Status.EXEMPT)
_PHONE_LOOKUP_CHUNK = 2000  # blind indexes per "already registered?" query


@dataclass(frozen=True)
class NewMember:
    """One member for `members_import`: what `member_create` takes, with tags by name (missing tags are created) and a
    status — 在册, or 免除 (e.g. over 70). `organization` is None when the caller could not resolve the branch."""

    name: str
    phone: str
    organization: Organization | None
    gender: str = ""
    birth_year: int | None = None
    skills: tuple[str, ...] = ()
    interests: tuple[str, ...] = ()
    availability: int = 0
    status: str = Member.Status.ACTIVE


def _problem(problems: dict[str, list[str]], exc: ValidationError, field: str) -> None:
    for key, messages in (exc.message_dict if hasattr(exc, "error_dict") else {field: exc.messages}).items():
        problems.setdefault(key, []).extend(messages)


def check_new_members(
    rows: Sequence[NewMember], *, row_numbers: Sequence[int] | None = None
) -> list[dict[str, list[str]]]:
    """The problems of each row, in row order ({} for a good row), keyed by NewMember field: the rules of
    `member_create` (name, birth year, availability, a branch as home organization, a normalised mobile number no
    member uses), a gender and status an import may set, tag names that fit, and no phone twice among `rows`.

    `row_numbers` are the rows' numbers in the caller's file, for "same phone as row 3" (default 1, 2, …).
    Queries: one per 2,000 phones (their blind indexes), none per row.
    """
    numbers = list(row_numbers) if row_numbers is not None else list(range(1, len(rows) + 1))
    problems: list[dict[str, list[str]]] = [{} for _row in rows]
    first_with_hash: dict[str, int] = {}
    hashes: list[str | None] = [None] * len(rows)
    tag_max = Tag._meta.get_field("name").max_length or 0
    for i, row in enumerate(rows):
        errors = problems[i]
        try:
            check_profile_values(name=row.name, birth_year=row.birth_year, availability=row.availability)
        except ValidationError as exc:
            _problem(errors, exc, "name")
        if row.gender not in ("", *Member.Gender.values):
            errors.setdefault("gender", []).append(_("性别应为“男”或“女”。"))
        if row.status not in IMPORTABLE_STATUSES:
            errors.setdefault("status", []).append(
                _("状态只能是“%(active)s”或“%(exempt)s”。")
                % {"active": Member.Status.ACTIVE.label, "exempt": Member.Status.EXEMPT.label}
            )
        for field, kind in (("skills", Tag.Kind.SKILL), ("interests", Tag.Kind.INTEREST)):
            for name in getattr(row, field):
                if not name.strip() or len(name.strip()) > tag_max:
                    errors.setdefault(field, []).append(
                        _("%(kind)s“%(name)s”不能为空，也不能超过%(max)d个字。")
                        % {"kind": Tag.Kind(kind).label, "name": name, "max": tag_max}
                    )
        if row.organization is None:
            errors.setdefault("organization", []).append(_("请填写所在支部。"))
        else:
            try:
                check_home_organization(row.organization)
            except ValidationError as exc:
                _problem(errors, exc, "organization")
        if not row.phone:
            errors.setdefault("phone", []).append(_("请填写手机号。"))
            continue
        try:
            phone = normalize_mobile(row.phone)
        except ValidationError:
            errors.setdefault("phone", []).append(
                _("手机号“%(phone)s”格式不正确，应为11位中国大陆手机号码。") % {"phone": row.phone}
            )
            continue
        digest = blind_index(phone)
        hashes[i] = digest
        first = first_with_hash.setdefault(digest, i)
        if first != i:
            errors.setdefault("phone", []).append(_("手机号与第%(row)s行重复。") % {"row": numbers[first]})
    distinct = list(first_with_hash)
    taken: set[str] = set()
    for start in range(0, len(distinct), _PHONE_LOOKUP_CHUNK):
        chunk = distinct[start : start + _PHONE_LOOKUP_CHUNK]
        # exclude(""): the condition of the partial UNIQUE index, so PostgreSQL can use it for a long IN list.
        found = Member.objects.filter(phone_hash__in=chunk).exclude(phone_hash="")
        taken.update(found.values_list("phone_hash", flat=True))
    for i, phone_hash in enumerate(hashes):
        if phone_hash in taken and first_with_hash[phone_hash] == i:
            problems[i].setdefault("phone", []).append(_("该手机号已被其他党员使用。"))
    return problems


# --- Teams ---------------------------------------------------------------------------------------------------------


def check_team_members(*, organization: Organization, leader: Member | None, members: Iterable[Member]) -> list[Member]:
    """Everyone in the team (leader included) is an active member of the organization's subtree."""
    people = list(members)
    if leader is not None and leader not in people:
        people.append(leader)
    outside = [m.name for m in people if not m.organization.path.startswith(organization.path)]
    if outside:
        raise ValidationError(
            {
                "members": _("以下党员不属于%(org)s及其下级组织：%(names)s")
                % {"org": organization, "names": "、".join(outside)}
            }
        )
    inactive = [m.name for m in people if m.status != Member.Status.ACTIVE]
    if inactive:
        raise ValidationError({"members": _("以下党员不是在册状态：%(names)s") % {"names": "、".join(inactive)}})
    return people


# --- Service records -----------------------------------------------------------------------------------------------


def check_service_times(
    *, start: datetime, end: datetime, hours, service_date: date_type | None = None
) -> tuple[Decimal, date_type]:
    """(hours, date) for a service from `start` to `end`: hours rounded down to 0.01, > 0 and ≤ the span; the date
    is the local date of the start and, when given, must be it."""
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise ValueError("service times must be timezone-aware")
    if end <= start:
        raise ValidationError({"ended_at": _("结束时间必须晚于开始时间。")})
    try:
        hours = Decimal(str(hours)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    except (InvalidOperation, ValueError):
        raise ValidationError({"hours": _("请填写服务时长（小时）。")}) from None
    if hours <= 0:
        raise ValidationError({"hours": _("服务时长必须大于0。")})
    span_seconds = int((end - start).total_seconds())
    if hours * 3600 > span_seconds:
        raise ValidationError(
            {
                "hours": _("服务时长（%(hours)s小时）不能超过开始到结束的时间（%(span)s小时）。")
                % {"hours": hours, "span": (Decimal(span_seconds) / 3600).quantize(Decimal("0.01"), ROUND_DOWN)}
            }
        )
    local_date = timezone.localtime(start).date()
    if service_date is not None and service_date != local_date:
        raise ValidationError({"date": _("服务日期应与开始时间为同一天。")})
    return hours, local_date


def check_correction(
    *,
    record: ServiceRecord,
    hours=None,
    start: datetime | None = None,
    end: datetime | None = None,
    place: str = "",
    content: str = "",
) -> Decimal | None:
    """A correction of a confirmed record that changes something and leaves a valid record; returns the new hours
    rounded as stored (None when unchanged)."""
    if record.status not in ServiceRecord.COUNTED_STATUSES:
        raise ValidationError(_("只有已确认的记录可以申请更正。"))
    if record.source == ServiceRecord.Source.EXTERNAL:
        raise ValidationError(_("其他平台的记录请在原记录平台申请更正。"))
    if (start is None) != (end is None):
        raise ValidationError({"new_ended_at": _("请同时填写更正后的开始时间和结束时间。")})
    new_start = start or record.started_at
    new_end = end or record.ended_at
    new_hours, _date = check_service_times(start=new_start, end=new_end, hours=record.hours if hours is None else hours)
    changed = (
        new_hours != record.hours
        or new_start != record.started_at
        or new_end != record.ended_at
        or (place and place.strip() != record.place)
        or (content and content.strip() != record.content)
    )
    if not changed:
        raise ValidationError(_("更正申请没有改变任何内容。"))
    return None if hours is None else new_hours


# --- Invitations ---------------------------------------------------------------------------------------------------


INVITABLE_STATUSES = (Member.Status.ACTIVE, Member.Status.EXEMPT)


def check_invitable(member: Member) -> None:
    """An invitation is for an active (or exempt) member whose account is active and has no password yet: a link
    never replaces a password the member chose, so it cannot be used to take over an account."""
    if member.status not in INVITABLE_STATUSES:
        raise ValidationError(
            _("%(name)s 处于“%(status)s”状态，不能邀请。")
            % {"name": member.name, "status": member.get_status_display()}
        )
    if not member.user.is_active:
        raise ValidationError(_("%(name)s 的账号已停用，不能邀请。") % {"name": member.name})
    if member.user.has_usable_password():
        raise ValidationError(_("%(name)s 已经设置了密码，可以直接登录，无需邀请。") % {"name": member.name})
    if not member.phone:
        raise ValidationError(_("%(name)s 没有登记手机号，无法发送邀请短信。") % {"name": member.name})

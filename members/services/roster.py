"""Bulk registration: the roster import and the demo data, many members in a few statements."""

import secrets
from collections.abc import Sequence

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.types import Actor, User

from ..models import Member, Tag
from ..validators import NewMember, check_new_members
from .membership import volunteer_numbers_allocate

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
    *, rows: Sequence[NewMember], actor: Actor, reason: str = "", row_numbers: Sequence[int] | None = None
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

"""Member self-service: the invitation link, accepting it, and the member's own profile."""

from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from core.types import Actor, User
from notifications.services import notify

from ..models import Member, Tag
from ..tokens import invitation_token_generator
from ..validators import check_invitable
from ._common import UNSET
from .membership import member_set_name_consent, member_update_profile

INVITATION_VALID_DAYS = invitation_token_generator.timeout // 86400


def invitation_path(user: User, token: str) -> str:
    return reverse(
        "members:invite_accept", kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": token}
    )


@transaction.atomic
def member_invite(*, member: Member, actor: Actor, site_url: str = "") -> str:
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
    changes: dict[str, Any] = {
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

"""Personal information: deletion on request (PIPL art. 47) and anonymisation."""

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import user_sessions_end
from core import member_cache
from core.types import Actor, User
from notifications.services import notifications_forget_user

from ..models import DeletionRequest, Member, ResidenceRegistration, WeChatBinding
from ._common import _audit, _lock


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
def deletion_request_approve(*, request: DeletionRequest, actor: Actor, note: str = "") -> DeletionRequest:
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
def deletion_request_reject(*, request: DeletionRequest, actor: Actor, note: str) -> DeletionRequest:
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
def member_anonymise(*, member: Member, actor: Actor) -> Member:
    """Delete what identifies the member and keep what the organization must count.

    Cleared: name (becomes 已注销党员), phone and ID number with their lookup hashes, gender, birth year, skills,
    interests, availability and the public-name consent — also in every earlier row of the member's change
    history, which would otherwise keep a copy; 双报到 registrations end. The account is closed: a random
    username, no e-mail or name, no usable password, inactive, every session ended, every message and preference
    and every WeChat binding deleted. Kept: the volunteer number, the branch and the service records with their
    hours (the statistics and plans of the organization), now pointing at nobody. Lock: the member row.
    Invariant: a branch's secretary is replaced first.
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

    user = User.objects.select_for_update().get(pk=member.user_id)
    user.username = f"deleted-{member.pk}-{secrets.token_hex(4)}"
    user.email = ""
    user.first_name = ""
    user.last_name = ""
    user.is_active = False
    user.set_unusable_password()
    user.save()
    user_sessions_end(user=user, actor=actor, reason=str(_("删除个人信息")))
    notifications_forget_user(user=user)
    WeChatBinding.objects.filter(user=user).delete()  # the openid identifies the person
    return member

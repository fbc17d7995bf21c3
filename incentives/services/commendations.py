"""Commendations (表彰): nominated by a secretary, approved by the organization above, shown with the
member's consent."""

from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.types import Actor, User
from members.models import Member, Organization
from members.selectors import visible_organizations
from notifications.models import Notification
from notifications.services import notify

from .. import selectors
from ..models import Commendation
from ._common import _check_member_in_scope, _is_platform_admin, _required_text
from .earning import points_source_sync


def can_approve_commendation(user: User, commendation: Commendation) -> bool:
    """An admin of the organization above the nominating one (or higher), or a platform admin."""
    if _is_platform_admin(user):
        return True
    parent_id = commendation.organization.parent_id
    return parent_id is not None and visible_organizations(user).filter(pk=parent_id).exists()


@transaction.atomic
def commendation_nominate(
    *,
    member: Member,
    title: str,
    citation: str,
    actor: Actor,
    organization: Organization | None = None,
    awarded_on: date | None = None,
) -> Commendation:
    """A secretary nominates a member of their scope (推荐), for the organization above to approve.

    `organization` (default: the member's branch) is the nominating organization: in the actor's scope and
    containing the member's branch.
    """
    title = _required_text(title, "title", _("请填写表彰名称。"), 100)
    citation = _required_text(citation, "citation", _("请填写先进事迹。"), 2000)
    member = Member.objects.select_related("organization").get(pk=member.pk)
    organization = organization or member.organization
    check_nomination(member=member, organization=organization, actor=actor)
    return Commendation.objects.create(
        member=member,
        organization=organization,
        title=title,
        citation=citation,
        awarded_on=awarded_on or timezone.localdate(),
        nominated_by=actor,
    )


def check_nomination(*, member: Member, organization: Organization, actor: Actor) -> None:
    """The member and the nominating organization are in the actor's scope, and the member belongs to it."""
    _check_member_in_scope(actor, member)  # refuses a None actor too
    if actor is None or (
        not _is_platform_admin(actor) and not visible_organizations(actor).filter(pk=organization.pk).exists()
    ):
        raise PermissionDenied(_("推荐组织不在您的管理范围内。"))
    if not member.organization.is_in_subtree_of(organization):
        raise ValidationError({"organization": _("该党员不属于推荐组织。")})


def _lock_commendation(commendation: Commendation) -> Commendation:
    return (
        Commendation.objects.select_for_update().select_related("organization", "member__user").get(pk=commendation.pk)
    )


@transaction.atomic
def commendation_approve(*, commendation: Commendation, actor: User) -> Commendation:
    """The organization above approves: the commendation is published (shown once the member consents), the member
    gets the commendation points (once: idempotency key per commendation) and an in-app message.
    Lock: the commendation row."""
    commendation = _lock_commendation(commendation)
    if commendation.status != Commendation.Status.NOMINATED:
        raise ValidationError(_("该推荐已经审批过。"))
    if not can_approve_commendation(actor, commendation):
        raise PermissionDenied(_("表彰须由推荐组织的上级组织审批。"))
    if commendation.nominated_by_id == actor.pk:
        raise PermissionDenied(_("不能审批本人提出的推荐。"))
    commendation.status = Commendation.Status.APPROVED
    commendation.approved_by = actor
    commendation.decided_at = timezone.now()
    commendation.published = True
    commendation.save(update_fields=["status", "approved_by", "decided_at", "published"])
    points_source_sync(source=selectors.commendation_points_source(commendation), actor=actor)
    notify(
        template="incentives_commendation_approved",
        channel=Notification.Channel.INAPP,
        user=commendation.member.user,
        dedupe_key=f"incentives:commendation:{commendation.pk}:approved",
        context={"name": commendation.member.name, "title": commendation.title},
    )
    return commendation


@transaction.atomic
def commendation_decline(*, commendation: Commendation, actor: User, reason: str) -> Commendation:
    """The organization above declines a nomination, with a reason. Lock: the commendation row."""
    reason = _required_text(reason, "reason", _("请填写不予批准的原因。"), 200)
    commendation = _lock_commendation(commendation)
    if commendation.status != Commendation.Status.NOMINATED:
        raise ValidationError(_("该推荐已经审批过。"))
    if not can_approve_commendation(actor, commendation):
        raise PermissionDenied(_("表彰须由推荐组织的上级组织审批。"))
    commendation.status = Commendation.Status.DECLINED
    commendation.approved_by = actor
    commendation.decided_at = timezone.now()
    commendation.decision_note = reason
    commendation.save(update_fields=["status", "approved_by", "decided_at", "decision_note"])
    return commendation


@transaction.atomic
def commendation_set_published(*, commendation: Commendation, actor: User, published: bool) -> Commendation:
    """Show an approved commendation on /exemplars/ (still only with the member's consent) — the approving side's
    decision — or take it down, which the nominating side may do too."""
    commendation = _lock_commendation(commendation)
    if published and commendation.status != Commendation.Status.APPROVED:
        raise ValidationError(_("只有已批准的表彰可以发布。"))
    if published and not can_approve_commendation(actor, commendation):
        raise PermissionDenied(_("表彰须由推荐组织的上级组织发布。"))
    commendation.published = published
    commendation.save(update_fields=["published"])
    return commendation


@transaction.atomic
def commendation_consent(*, commendation: Commendation, member: Member, consent: bool) -> Commendation:
    """The member's own, separate consent to appear on the public exemplars page (条例 §20–21), or its withdrawal."""
    commendation = _lock_commendation(commendation)
    if commendation.member_id != member.pk:
        raise PermissionDenied(_("只能对本人的表彰作出选择。"))
    commendation.member_consented_at = timezone.now() if consent else None
    commendation.save(update_fields=["member_consented_at"])
    return commendation

"""Claims: a member or a team takes a published wish, and gives it back."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.types import Actor
from members.models import Member, Team

from .. import selectors
from ..models import EventActor, MicroWish, WishEvent
from ..validators import _text
from ._common import (
    RELEASE_GRACE_DAYS,
    State,
    _event,
    _lock,
    _require_state,
    _tell_resident,
    _tell_users,
    _wish_link,
)


@transaction.atomic
def wish_claim(*, wish: MicroWish, member: Member, team: Team | None = None, site_url: str = "") -> MicroWish:
    """A member (or a team, through its leader) claims a published wish; the resident is texted.

    Lock: the wish, then the member (so the open-claims limit holds). Under the wish's lock the state is read
    fresh: of concurrent claims exactly one finds it published; the others get "already claimed". A wish waiting
    for an offering member's answer can be claimed by that member only (accepting the order).
    Transition: published → claimed.
    """
    wish = _lock(wish)
    if wish.state in (State.CLAIMED, State.FULFILLED, State.CONFIRMED, State.CLOSED):
        raise ValidationError(_("该心愿已被其他党员认领。"), code="taken")
    _require_state(wish, [State.PUBLISHED], _("该心愿%(state)s，不能认领。"))
    # offer_pending first: a wish not waiting for an answer never loads its offer.
    if wish.offer_pending and (wish.offer is None or wish.offer.member_id != member.pk):
        raise ValidationError(_("该心愿是居民向指定党员点单的，正在等待其答复，暂不能认领。"))
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.status != Member.Status.ACTIVE:
        raise ValidationError(_("只有在册党员可以认领心愿。"))
    if team is not None and team.leader_id != member.pk:
        raise ValidationError({"team": _("只有服务队队长可以代表服务队认领。")})
    limit = settings.WISH_MAX_OPEN_CLAIMS
    if selectors.open_claims_count(member) >= limit:
        raise ValidationError(_("您已有%(n)d个认领尚未完成，请先完成后再认领新的心愿。") % {"n": limit})
    accepted_offer = wish.offer_pending
    wish.state = State.CLAIMED
    wish.claimed_by = member
    wish.claimed_team = team
    wish.claimed_at = timezone.now()
    wish.offer_pending = False
    wish.save()
    who = team.name if team is not None else member.public_name
    event = _event(
        wish,
        action="offer_accepted" if accepted_offer else "claimed",
        from_state=State.PUBLISHED,
        actor_kind=EventActor.MEMBER,
        actor=member.user,
        reason=_("认领人：%(who)s") % {"who": who},
    )
    _tell_resident(wish, template="demands_claimed", event=event, context={"who": who})
    return wish


@transaction.atomic
def wish_offer_decline(*, wish: MicroWish, member: Member, reason: str = "") -> MicroWish:
    """The offering member declines a resident's order: the wish goes to the wall for everyone.
    Lock: the wish. No state change (published, no longer waiting)."""
    reason = _text(reason, field="reason", label=_("原因"), max_length=200, required=False)
    wish = _lock(wish)
    if not (
        wish.state == State.PUBLISHED
        and wish.offer_pending
        and wish.offer is not None
        and wish.offer.member_id == member.pk
    ):
        raise ValidationError(_("该心愿没有在等待您的答复。"))
    wish.offer_pending = False
    wish.save()
    _event(
        wish,
        action="offer_declined",
        from_state=State.PUBLISHED,
        actor_kind=EventActor.MEMBER,
        actor=member.user,
        reason=_("点单的服务暂时无法提供，心愿已发布到心愿墙。"),
    )
    return wish


@transaction.atomic
def wish_release(*, wish: MicroWish, member: Member, reason: str = "") -> MicroWish:
    """The claimer gives the wish back (放弃认领): it returns to the wall. A passed deadline is extended by
    RELEASE_GRACE_DAYS so it does not expire at once. Lock: the wish. Transition: claimed → published."""
    reason = _text(reason, field="reason", label=_("原因"), max_length=200, required=False)
    wish = _lock(wish)
    _require_state(wish, [State.CLAIMED], _("只有已认领、尚未实现的心愿可以放弃认领（该心愿%(state)s）。"))
    if wish.claimed_by_id != member.pk:
        raise ValidationError(_("只有认领人本人可以放弃认领。"))
    today = timezone.localdate()
    wish.state = State.PUBLISHED
    wish.claimed_by = None
    wish.claimed_team = None
    wish.claimed_at = None
    if wish.claim_deadline is None or wish.claim_deadline < today:
        wish.claim_deadline = today + timedelta(days=RELEASE_GRACE_DAYS)
    wish.save()
    _event(
        wish,
        action="released",
        from_state=State.CLAIMED,
        actor_kind=EventActor.MEMBER,
        actor=member.user,
        reason=_("认领人放弃认领，心愿重新发布到心愿墙。"),
    )
    if reason:
        _event(
            wish,
            action="release_reason",
            from_state=State.PUBLISHED,
            actor_kind=EventActor.MEMBER,
            actor=member.user,
            reason=reason,
            public=False,
        )
    return wish


@transaction.atomic
def wish_invite(*, wish: MicroWish, member: Member, actor: Actor, site_url: str = "") -> bool:
    """The secretary invites a matched member to claim (a notification with a link; nobody is assigned against
    their will, 条例 §25). Once per member and wish: returns False when already invited. Lock: the wish."""
    wish = _lock(wish)
    if wish.state != State.PUBLISHED or wish.offer_pending:
        raise ValidationError(_("只能邀请党员认领心愿墙上等待认领的心愿。"))
    if member.status != Member.Status.ACTIVE:
        raise ValidationError(_("只能邀请在册党员。"))
    if WishEvent.objects.filter(wish=wish, action="invited", reason=member.volunteer_number).exists():
        return False
    event = _event(
        wish,
        action="invited",
        from_state=wish.state,
        actor_kind=EventActor.SECRETARY,
        actor=actor,
        reason=member.volunteer_number,
        public=False,
    )
    _tell_users(
        [member.user],
        template="demands_invite",
        event=event,
        context={"community": wish.community.name, "link": _wish_link(wish, site_url)},
        kind="wish_update",
    )
    return True

"""Verification and publication by the community's secretary, and rejection."""

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.types import Actor
from members.models import Grid, Member

from .. import selectors
from ..models import EventActor, MicroWish, TargetGroup, WishCategory
from ..validators import _text, check_category, check_claim_deadline, check_place
from ._common import (
    State,
    _event,
    _lock,
    _require_state,
    _review_link,
    _tell_resident,
    _tell_users,
    _track_link,
    _wish_link,
)


def _apply_public_fields(
    wish: MicroWish,
    *,
    public_title: str,
    public_description: str,
    category: WishCategory | None,
    grid: Grid | None,
    target_group: str,
) -> None:
    wish.public_title = _text(public_title, field="public_title", label=_("公开标题"), max_length=60)
    wish.public_description = _text(
        public_description, field="public_description", label=_("公开内容"), max_length=1000
    )
    category = check_category(category)
    check_place(community=wish.community, grid=grid)
    if target_group not in TargetGroup.values:
        raise ValidationError({"target_group": _("请选择服务对象。")})
    wish.category = category
    wish.grid = grid
    wish.target_group = target_group


@transaction.atomic
def wish_verify(
    *,
    wish: MicroWish,
    actor: Actor,
    public_title: str,
    public_description: str,
    category: WishCategory,
    grid: Grid | None = None,
    target_group: str = TargetGroup.GENERAL,
    note: str = "",
) -> MicroWish:
    """核实: the secretary has checked the need and writes the public text (no personal data on the wall).

    Lock: the wish. Transition: submitted → verified. The note is internal (not shown to the resident).
    """
    wish = _lock(wish)
    _require_state(wish, [State.SUBMITTED], _("只有待核实的心愿可以核实（该心愿%(state)s）。"))
    _apply_public_fields(
        wish,
        public_title=public_title,
        public_description=public_description,
        category=category,
        grid=grid,
        target_group=target_group,
    )
    wish.verification_note = (note or "").strip()
    wish.verified_at = timezone.now()
    wish.verified_by = actor
    wish.state = State.VERIFIED
    wish.save()
    _event(wish, action="verified", from_state=State.SUBMITTED, actor_kind=EventActor.SECRETARY, actor=actor)
    return wish


EDITABLE_STATES = (State.SUBMITTED, State.VERIFIED, State.PUBLISHED, State.EXPIRED)


@transaction.atomic
def wish_update(
    *,
    wish: MicroWish,
    actor: Actor,
    public_title: str,
    public_description: str,
    category: WishCategory,
    grid: Grid | None,
    target_group: str,
    note: str | None = None,
    claim_deadline: date | None = None,
) -> MicroWish:
    """Edit the public text, category, grid, target group (and the deadline of a published wish) before a claim.

    Lock: the wish. No state change; an internal event records the edit.
    """
    wish = _lock(wish)
    _require_state(wish, EDITABLE_STATES, _("心愿被认领后不能再修改（该心愿%(state)s）。"))
    from_state = wish.state
    _apply_public_fields(
        wish,
        public_title=public_title,
        public_description=public_description,
        category=category,
        grid=grid,
        target_group=target_group,
    )
    if note is not None:
        wish.verification_note = note.strip()
    if claim_deadline is not None and wish.state == State.PUBLISHED:
        wish.claim_deadline = check_claim_deadline(claim_deadline)
    wish.save()
    _event(wish, action="edited", from_state=from_state, actor_kind=EventActor.SECRETARY, actor=actor, public=False)
    return wish


@transaction.atomic
def wish_publish(*, wish: MicroWish, actor: Actor, claim_deadline: date | None = None, site_url: str = "") -> MicroWish:
    """Publish a verified wish on the wall (or publish an expired one again with a new deadline).

    A wish addressed to a service offer (居民点单) goes to the offering member first: it stays off the wall until
    they accept (= claim) or decline. Lock: the wish. Transition: verified | expired → published.
    """
    wish = _lock(wish)
    _require_state(wish, [State.VERIFIED, State.EXPIRED], _("只有已核实的心愿可以发布（该心愿%(state)s）。"))
    from_state = wish.state
    wish.claim_deadline = check_claim_deadline(claim_deadline)
    wish.published_at = timezone.now()
    wish.state = State.PUBLISHED
    offer = wish.offer
    routed = (
        from_state == State.VERIFIED
        and offer is not None
        and offer.active
        and offer.member.status == Member.Status.ACTIVE
    )
    wish.offer_pending = routed
    wish.save()
    event = _event(wish, action="published", from_state=from_state, actor_kind=EventActor.SECRETARY, actor=actor)
    if routed and offer is not None:  # routed implies an offer; the test narrows it for the checker
        _tell_users(
            [offer.member.user],
            template="demands_offer_request",
            event=event,
            context={"offer": offer.title, "link": _wish_link(wish, site_url)},
            kind="wish_update",
        )
    else:
        _tell_resident(wish, template="demands_published", event=event, context={"link": _track_link(site_url)})
    return wish


REVIEW_ACTIONS = ("save", "verify", "verify_publish", "publish")


@transaction.atomic
def wish_review_save(
    *,
    wish: MicroWish,
    actor: Actor,
    action: str,
    note: str,
    claim_deadline: date | None,
    site_url: str = "",
    **public_fields: Any,
) -> tuple[MicroWish, str]:
    """The secretary's review form (the page's and the API's): "verify", "verify_publish", "publish" or "save"
    (edit). A submitted wish is verified (or only edited); "…publish" then publishes it. One transaction: a refused
    publication leaves the verification undone too. Returns the wish and what was done, in words for the secretary.
    Locks and transitions: those of wish_verify / wish_update / wish_publish."""
    if action not in REVIEW_ACTIONS:
        action = "save"
    if wish.state == State.SUBMITTED and action in ("verify", "verify_publish"):
        wish = wish_verify(wish=wish, actor=actor, note=note, **public_fields)
        done = _("已核实。")
    else:
        wish = wish_update(wish=wish, actor=actor, note=note, claim_deadline=claim_deadline, **public_fields)
        done = _("已保存。")
    if action in ("verify_publish", "publish"):
        wish = wish_publish(wish=wish, actor=actor, claim_deadline=claim_deadline, site_url=site_url)
        done = _("已核实并发布到心愿墙。") if action == "verify_publish" else _("已发布到心愿墙。")
    return wish, done


REJECTABLE_STATES = (State.SUBMITTED, State.VERIFIED, State.PUBLISHED, State.EXPIRED)


@transaction.atomic
def wish_reject(*, wish: MicroWish, actor: Actor, reason: str, site_url: str = "") -> MicroWish:
    """不予受理, with a reason the resident reads on the tracking page and in an SMS.

    Lock: the wish. Transition: submitted | verified | published (unclaimed) | expired → rejected.
    """
    reason = _text(reason, field="reason", label=_("不予受理的原因"), max_length=200)
    wish = _lock(wish)
    _require_state(wish, REJECTABLE_STATES, _("该心愿%(state)s，不能再不予受理。"))
    from_state = wish.state
    wish.state = State.REJECTED
    wish.reject_reason = reason
    wish.offer_pending = False
    wish.save()
    event = _event(
        wish, action="rejected", from_state=from_state, actor_kind=EventActor.SECRETARY, actor=actor, reason=reason
    )
    _tell_resident(
        wish, template="demands_rejected", event=event, context={"reason": reason, "link": _track_link(site_url)}
    )
    return wish


@transaction.atomic
def wish_withdraw(*, wish: MicroWish, reason: str = "") -> MicroWish:
    """The resident withdraws a wish nobody has claimed yet. Lock: the wish.
    Transition: submitted | verified | published | expired → withdrawn."""
    reason = _text(reason, field="reason", label=_("撤回原因"), max_length=200, required=False)
    wish = _lock(wish)
    _require_state(
        wish, MicroWish.WITHDRAWABLE_STATES, _("心愿已被认领或已结束，不能撤回（该心愿%(state)s）。请联系社区。")
    )
    from_state = wish.state
    wish.state = State.WITHDRAWN
    wish.offer_pending = False
    wish.save()
    _event(wish, action="withdrawn", from_state=from_state, actor_kind=EventActor.RESIDENT, reason=reason)
    return wish


@transaction.atomic
def wish_expire(*, wish: MicroWish, today: date | None = None, site_url: str = "") -> MicroWish:
    """A published wish nobody claimed by its deadline expires; the grid leader and the secretaries are told, so
    they can find a member or publish it again. Lock: the wish. Transition: published → expired."""
    today = today or timezone.localdate()
    wish = _lock(wish)
    _require_state(wish, [State.PUBLISHED], _("只有已发布的心愿会过期（该心愿%(state)s）。"))
    assert wish.claim_deadline is not None  # a published wish has one (demands_wish_published_has_deadline)
    if wish.claim_deadline >= today:
        raise ValidationError(_("该心愿的认领截止日期还没有到。"))
    wish.state = State.EXPIRED
    wish.offer_pending = False
    wish.save()
    event = _event(
        wish,
        action="expired",
        from_state=State.PUBLISHED,
        actor_kind=EventActor.SYSTEM,
        reason=_("认领截止日期已过，暂无党员认领，已转社区跟进。"),
    )
    recipients = {u.pk: u for u in selectors.secretary_users(wish.community)}
    # The ids first: a wish without a grid or a grid without a leader costs no query.
    if wish.grid_id and (grid := wish.grid) is not None and grid.leader_id:
        leader = grid.leader
        if leader is not None and leader.status == Member.Status.ACTIVE:
            recipients.setdefault(leader.user_id, leader.user)
    _tell_users(
        recipients.values(),
        template="demands_expired",
        event=event,
        context={"link": _review_link(wish, site_url)},
        kind="work",
    )
    return wish


def wishes_expire_overdue(*, today: date | None = None) -> int:
    """Expire every published wish past its deadline (each in its own transaction); return how many."""
    today = today or timezone.localdate()
    ids = list(MicroWish.objects.filter(state=State.PUBLISHED, claim_deadline__lt=today).values_list("pk", flat=True))
    done = 0
    for pk in ids:
        try:
            wish_expire(wish=MicroWish(pk=pk), today=today)
            done += 1
        except ValidationError:  # claimed or changed since the list was read
            continue
    return done

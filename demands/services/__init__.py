"""Every write of the demands app: the micro-wish state machine, offers, households and pairings.

The wish's life (DESIGN.md, demands):

    submitted → verified → published → claimed → fulfilled → confirmed → closed
    side exits: rejected (with a reason), withdrawn (by the resident), expired (unclaimed past the deadline);
    a claimer may release (back to published); "not yet fulfilled" sends a fulfilled wish back to claimed;
    a fulfilled wish without the resident's answer for FEEDBACK_DAYS closes unconfirmed.

Every transition is a function here. Each takes the wish's row lock first (SELECT … FOR UPDATE), checks the state
under it, changes the row and writes one `WishEvent`, all in one transaction; a forbidden transition raises
`ValidationError` with a Chinese message and changes nothing. Because the claim checks "published" under the lock,
of many members pressing "claim" at once exactly one wins and the others are told the wish is taken. Lock order:
the wish, then the member, then (through members/incentives) the service record and the points balance.

Services do not decide who may call them — views and the admin check scope through `demands.selectors` first —
but rules that belong to the wish itself (only the claimer fulfils or releases their claim) are checked here.
Messages go through `notifications.services.notify` in the same transaction, with event ids in their dedupe keys.
"""

import hashlib
import ipaddress
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urljoin

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core import public_cache
from core.crypto import blind_index, mask_phone
from incentives.models import LedgerEntry
from incentives.selectors import record_source_ref
from incentives.services import points_source_sync
from members.identifiers import normalize_mobile
from members.models import Community, Grid, Member, ServiceRecord, Team
from members.selectors import organization_managers
from members.services import service_record_create, service_record_verify
from members.validators import check_service_times
from notifications.models import Notification
from notifications.services import notify, notify_many, user_messages

from .. import selectors
from ..models import (
    CODE_ALPHABET,
    CONSENT_VERSION,
    MAX_PHOTOS,
    TRACKING_CODE_LENGTH,
    BlockedNetwork,
    BlockedPhone,
    ContactAccessLog,
    EventActor,
    Household,
    MicroWish,
    Pairing,
    PairingVisit,
    PriorityGroup,
    ServiceOffer,
    TargetGroup,
    WishCategory,
    WishEvent,
    WishPhoto,
)
from ..photos import process_photo

State = MicroWish.State

RELEASE_GRACE_DAYS = 7  # a released wish whose deadline has passed gets this many more days on the wall


def _absolute(path: str, site_url: str = "") -> str:
    base = site_url or settings.SITE_URL
    return urljoin(base, path) if base else path


def _lock(wish: MicroWish) -> MicroWish:
    return MicroWish.objects.select_for_update().get(pk=wish.pk)


def _require_state(wish: MicroWish, allowed, message: str) -> None:
    if wish.state not in allowed:
        raise ValidationError(message % {"state": wish.get_state_display()}, code="state")


def _event(
    wish: MicroWish,
    *,
    action: str,
    from_state: str,
    actor_kind: str,
    actor=None,
    reason: str = "",
    public: bool = True,
) -> WishEvent:
    # Every transition writes its event here: the wall and the public pages of wishes change with it.
    public_cache.changed("wishes")
    return WishEvent.objects.create(
        wish=wish,
        action=action,
        from_state=from_state,
        to_state=wish.state,
        actor_kind=actor_kind,
        actor=actor if getattr(actor, "pk", None) else None,
        reason=reason,
        public=public,
    )


def _text(value: str, *, field: str, label: str, max_length: int, required: bool = True, min_length: int = 1) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: _("请填写%(label)s。") % {"label": label}})
    if value and len(value) < min_length:
        raise ValidationError({field: _("%(label)s至少%(n)d个字。") % {"label": label, "n": min_length}})
    if len(value) > max_length:
        raise ValidationError({field: _("%(label)s最多%(n)d个字。") % {"label": label, "n": max_length}})
    return value


def _tell_resident(wish: MicroWish, *, template: str, event: WishEvent, context: dict) -> None:
    """An SMS to the resident (quiet hours apply: residents have no account), unless their contact was purged."""
    if not wish.contact_phone:
        return
    notify(
        template=template,
        channel="sms",
        phone=wish.contact_phone,
        dedupe_key=f"{template}:{event.pk}",
        context={"code": wish.tracking_code, "title": wish.public_title, **context},
    )


def _tell_users(users, *, template: str, event: WishEvent, context: dict, kind: str) -> None:
    """In-app messages to members or secretaries, one per user; `kind` (notifications.kinds) files them under the
    recipients' preferences: "work" for secretaries and grid leaders, "wish_update" for a claiming member."""
    for user in users:
        notify(
            template=template,
            channel="inapp",
            user=user,
            kind=kind,
            dedupe_key=f"{template}:{event.pk}:{user.pk}",
            context={"title": wish_title(event.wish), "wish_id": event.wish_id, **context},
        )


def wish_title(wish: MicroWish) -> str:
    return wish.public_title or wish.title


def _track_link(site_url: str) -> str:
    return _absolute(reverse("demands:track"), site_url)


def _review_link(wish: MicroWish, site_url: str) -> str:
    return _absolute(reverse("demands:review_detail", args=[wish.pk]), site_url)


def _wish_link(wish: MicroWish, site_url: str) -> str:
    return _absolute(reverse("demands:detail", args=[wish.pk]), site_url)


# --- Submission -------------------------------------------------------------------------------------------------


def check_phone_format(phone: str) -> str:
    """The normalised mainland mobile number; ValidationError for anything else."""
    return normalize_mobile(phone)


def check_phone(phone: str) -> tuple[str, str]:
    """(normalised mobile, its blind index); a dict error keyed "phone" for a bad or blocked number."""
    try:
        phone = normalize_mobile(phone)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from None
    phone_hash = blind_index(phone)
    if BlockedPhone.objects.filter(phone_hash=phone_hash).exists():
        raise ValidationError({"phone": _("该手机号暂时不能在线提交心愿，如有需要请直接联系社区。")})
    return phone, phone_hash


def check_place(*, community: Community | None, grid: Grid | None) -> None:
    if community is None:
        raise ValidationError({"community": _("请选择社区（村）。")})
    if grid is not None and grid.community_id != community.pk:
        raise ValidationError({"grid": _("所选网格不属于该社区（村）。")})


def check_category(category: WishCategory | None) -> None:
    if category is None or not category.active:
        raise ValidationError({"category": _("请选择心愿类别。")})


def _new_tracking_code() -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _i in range(TRACKING_CODE_LENGTH))
        if not MicroWish.objects.filter(tracking_code=code).exists():
            return code


@transaction.atomic
def wish_submit(
    *,
    category: WishCategory,
    title: str,
    description: str,
    community: Community,
    contact_name: str,
    phone: str,
    consent_processing: bool,
    grid: Grid | None = None,
    preferred_time: str = "",
    consent_display: bool = False,
    offer: ServiceOffer | None = None,
    site_url: str = "",
) -> MicroWish:
    """A resident submits a wish (no account). It waits for the community's verification (条例 §13).

    Invariants: consent to processing is required and stored with its time and the text version; the separate
    consent to display the name likewise; name and phone are encrypted, the phone's blind index kept for limits
    and blocking; the tracking code is random, unique and at least 10 characters. The resident is texted the code
    (after commit; quiet hours apply) and the community's secretaries get an in-app notice. No lock: a new row.
    """
    check_category(category)
    check_place(community=community, grid=grid)
    title = _text(title, field="title", label=_("心愿标题"), max_length=60, min_length=2)
    description = _text(description, field="description", label=_("心愿内容"), max_length=1000, min_length=5)
    contact_name = _text(contact_name, field="contact_name", label=_("联系人"), max_length=30)
    preferred_time = _text(
        preferred_time, field="preferred_time", label=_("希望的时间"), max_length=100, required=False
    )
    if not phone:
        raise ValidationError({"phone": _("请填写手机号。")})
    phone, phone_hash = check_phone(phone)
    if not consent_processing:
        raise ValidationError({"consent_processing": _("需要您同意我们为办理心愿处理您的联系方式，才能提交。")})
    if offer is not None:
        offer = ServiceOffer.objects.select_related("member").get(pk=offer.pk)  # fresh: it may just have paused
    if offer is not None and not (offer.active and offer.member.status == Member.Status.ACTIVE):
        raise ValidationError({"offer": _("该服务暂不接受点单，请直接提交心愿。")})
    now = timezone.now()
    wish = MicroWish(
        tracking_code=_new_tracking_code(),
        category=category,
        title=title,
        description=description,
        public_title=title,
        public_description=description,
        community=community,
        grid=grid,
        preferred_time=preferred_time,
        contact_name=contact_name,
        contact_phone=phone,
        phone_hash=phone_hash,
        consent_processing_at=now,
        consent_version=CONSENT_VERSION,
        consent_display=bool(consent_display),
        consent_display_at=now if consent_display else None,
        offer=offer,
    )
    wish.save()
    event = _event(wish, action="submitted", from_state="", actor_kind=EventActor.RESIDENT)
    _tell_resident(wish, template="demands_submitted", event=event, context={"link": _track_link(site_url)})
    _tell_users(
        selectors.secretary_users(community),
        template="demands_new_wish",
        event=event,
        context={"community": community.name, "link": _review_link(wish, site_url)},
        kind="work",
    )
    return wish


# --- Verification and publication (the community's secretary) ---------------------------------------------------


def _apply_public_fields(wish: MicroWish, *, public_title, public_description, category, grid, target_group) -> None:
    wish.public_title = _text(public_title, field="public_title", label=_("公开标题"), max_length=60)
    wish.public_description = _text(
        public_description, field="public_description", label=_("公开内容"), max_length=1000
    )
    check_category(category)
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
    actor,
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
    actor,
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


def check_claim_deadline(deadline: date | None) -> date:
    today = timezone.localdate()
    if deadline is None:
        return today + timedelta(days=settings.WISH_CLAIM_DAYS)
    if deadline < today:
        raise ValidationError({"claim_deadline": _("认领截止日期不能早于今天。")})
    if deadline > today + timedelta(days=365):
        raise ValidationError({"claim_deadline": _("认领截止日期不能超过一年。")})
    return deadline


@transaction.atomic
def wish_publish(*, wish: MicroWish, actor, claim_deadline: date | None = None, site_url: str = "") -> MicroWish:
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
    if routed:
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


REJECTABLE_STATES = (State.SUBMITTED, State.VERIFIED, State.PUBLISHED, State.EXPIRED)


@transaction.atomic
def wish_reject(*, wish: MicroWish, actor, reason: str, site_url: str = "") -> MicroWish:
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
    if wish.grid_id and wish.grid.leader_id and wish.grid.leader.status == Member.Status.ACTIVE:
        recipients.setdefault(wish.grid.leader.user_id, wish.grid.leader.user)
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


# --- Claims (members) -------------------------------------------------------------------------------------------


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
    if wish.offer_pending and wish.offer.member_id != member.pk:
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
    if not (wish.state == State.PUBLISHED and wish.offer_pending and wish.offer.member_id == member.pk):
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
def wish_invite(*, wish: MicroWish, member: Member, actor, site_url: str = "") -> bool:
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


# --- Fulfilment and feedback ------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_fulfilment(*, note: str, start: datetime, end: datetime, hours, photos=()) -> tuple[str, Decimal]:
    note = _text(note, field="note", label=_("实现情况"), max_length=1000)
    if start is None or end is None:
        raise ValidationError({"start": _("请填写服务开始和结束时间。")})
    hours, _date = check_service_times(start=start, end=end, hours=hours)
    if end > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"end": _("服务结束时间不能晚于现在。")})
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photos": _("最多上传%(n)d张照片。") % {"n": MAX_PHOTOS}})
    return note, hours


@transaction.atomic
def wish_fulfil(
    *,
    wish: MicroWish,
    member: Member,
    note: str,
    start: datetime,
    end: datetime,
    hours,
    photos=(),
    site_url: str = "",
) -> MicroWish:
    """The claimer reports the wish fulfilled, with a note, the service time and up to 3 photos; the resident is
    texted a one-click rating link (valid until they answer or the wish closes).

    Photos are checked and re-encoded before anything is written (a bad photo changes nothing). Lock: the wish.
    Transition: claimed → fulfilled. Invariants: hours > 0 and within the service time; ≤ MAX_PHOTOS per wish.
    """
    note, hours = check_fulfilment(note=note, start=start, end=end, hours=hours, photos=photos)
    processed = []
    for upload in photos:
        try:
            processed.append(process_photo(upload))
        except ValidationError as exc:
            raise ValidationError({"photos": exc.messages}) from None
    wish = _lock(wish)
    _require_state(wish, [State.CLAIMED], _("只有已认领的心愿可以登记实现（该心愿%(state)s）。"))
    if wish.claimed_by_id != member.pk:
        raise ValidationError(_("只能为自己认领的心愿登记实现情况。"))
    if wish.photos.count() + len(processed) > MAX_PHOTOS:
        raise ValidationError({"photos": _("每个心愿最多%(n)d张照片。") % {"n": MAX_PHOTOS}})
    token = secrets.token_urlsafe(24)
    wish.state = State.FULFILLED
    wish.fulfilled_at = timezone.now()
    wish.fulfilment_note = note
    wish.service_started_at = start
    wish.service_ended_at = end
    wish.service_hours = hours
    wish.feedback_token_hash = _token_hash(token)
    wish.save()
    event = _event(
        wish, action="fulfilled", from_state=State.CLAIMED, actor_kind=EventActor.MEMBER, actor=member.user, reason=note
    )
    link = _absolute(reverse("demands:feedback", args=[token]), site_url)
    _tell_resident(
        wish,
        template="demands_fulfilled",
        event=event,
        context={"link": link, "days": settings.WISH_FEEDBACK_DAYS},
    )
    # Files last: after them only the commit can fail, which would leave (unreferenced) files but no broken row.
    for content, width, height in processed:
        photo = WishPhoto(wish=wish, width=width, height=height)
        photo.image.save(content.name, content, save=False)
        photo.save()
    return wish


@transaction.atomic
def wish_feedback_remind(*, wish: MicroWish, site_url: str = "") -> bool:
    """Remind the resident once to rate a fulfilled wish. The link's token is stored only as a hash, so the
    reminder carries a new link and the first one stops working (the SMS says so). Returns False when the wish
    is no longer waiting or was already reminded. Lock: the wish."""
    wish = _lock(wish)
    if wish.state != State.FULFILLED or not wish.contact_phone:
        return False
    if wish.events.filter(action="feedback_reminded", created_at__gte=wish.fulfilled_at).exists():
        return False
    token = secrets.token_urlsafe(24)
    wish.feedback_token_hash = _token_hash(token)
    wish.save(update_fields=["feedback_token_hash", "updated_at"])
    event = _event(
        wish, action="feedback_reminded", from_state=State.FULFILLED, actor_kind=EventActor.SYSTEM, public=False
    )
    days_left = settings.WISH_FEEDBACK_DAYS - (timezone.now() - wish.fulfilled_at).days
    _tell_resident(
        wish,
        template="demands_feedback_reminder",
        event=event,
        context={"link": _absolute(reverse("demands:feedback", args=[token]), site_url), "days": max(days_left, 1)},
    )
    return True


def wishes_remind_feedback(*, now: datetime | None = None) -> int:
    """Remind every resident whose wish was fulfilled WISH_FEEDBACK_REMINDER_DAYS ago (default 3) and who has not
    answered; each once. Returns how many were reminded."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.WISH_FEEDBACK_REMINDER_DAYS)
    ids = list(MicroWish.objects.filter(state=State.FULFILLED, fulfilled_at__lte=cutoff).values_list("pk", flat=True))
    return sum(1 for pk in ids if wish_feedback_remind(wish=MicroWish(pk=pk)))


def _lock_by_token(token: str) -> MicroWish:
    wish = (
        MicroWish.objects.select_for_update().filter(feedback_token_hash=_token_hash(token or "")).first()
        if token
        else None
    )
    if wish is None or wish.state != State.FULFILLED:
        raise ValidationError(_("评价链接无效或已经使用过。如需帮助请联系社区。"), code="invalid_token")
    return wish


@transaction.atomic
def wish_rate(*, token: str, rating: int, comment: str = "", site_url: str = "") -> MicroWish:
    """The resident confirms the fulfilment and rates it (1–5 stars) through the link from their SMS; the
    secretaries are asked to confirm the service. The link then stops working.
    Lock: the wish (found by the token's hash). Transition: fulfilled → confirmed."""
    comment = _text(comment, field="comment", label=_("评价意见"), max_length=500, required=False)
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        rating = 0
    if not 1 <= rating <= 5:
        raise ValidationError({"rating": _("请选择1到5星。")})
    wish = _lock_by_token(token)
    wish.state = State.CONFIRMED
    wish.rating = rating
    wish.rating_comment = comment
    wish.confirmed_at = timezone.now()
    wish.feedback_token_hash = ""
    wish.save()
    event = _event(
        wish,
        action="confirmed",
        from_state=State.FULFILLED,
        actor_kind=EventActor.RESIDENT,
        reason=_("居民确认心愿已实现，评价%(n)d星。") % {"n": rating},
    )
    _tell_users(
        selectors.secretary_users(wish.community),
        template="demands_rated",
        event=event,
        context={"rating": rating, "link": _review_link(wish, site_url)},
        kind="work",
    )
    return wish


@transaction.atomic
def wish_report_unfulfilled(*, token: str, comment: str = "", site_url: str = "") -> MicroWish:
    """The resident says the wish is not fulfilled yet: it goes back to the claimer, who and the secretaries are
    told. A new fulfilment sends a new link. Lock: the wish. Transition: fulfilled → claimed."""
    comment = _text(comment, field="comment", label=_("说明"), max_length=500, required=False)
    wish = _lock_by_token(token)
    wish.state = State.CLAIMED
    wish.fulfilled_at = None
    wish.feedback_token_hash = ""
    wish.save()
    event = _event(
        wish,
        action="not_fulfilled",
        from_state=State.FULFILLED,
        actor_kind=EventActor.RESIDENT,
        reason=comment or _("居民反馈心愿尚未实现。"),
    )
    context = {"comment": comment, "link": _wish_link(wish, site_url)}
    secretaries = [u for u in selectors.secretary_users(wish.community) if u.pk != wish.claimed_by.user_id]
    _tell_users(secretaries, template="demands_not_fulfilled", event=event, context=context, kind="work")
    _tell_users(
        [wish.claimed_by.user], template="demands_not_fulfilled", event=event, context=context, kind="wish_update"
    )
    return wish


@transaction.atomic
def wish_auto_close(*, wish: MicroWish, now: datetime | None = None, site_url: str = "") -> MicroWish:
    """No answer from the resident within FEEDBACK_DAYS: the wish closes as fulfilled-unconfirmed, and the
    secretaries are asked to confirm the service. Lock: the wish. Transition: fulfilled → closed."""
    now = now or timezone.now()
    days = settings.WISH_FEEDBACK_DAYS
    wish = _lock(wish)
    _require_state(wish, [State.FULFILLED], _("只有已实现、等待居民评价的心愿会自动办结（该心愿%(state)s）。"))
    if wish.fulfilled_at > now - timedelta(days=days):
        raise ValidationError(_("居民评价期限还没有到。"))
    wish.state = State.CLOSED
    wish.closed_at = now
    wish.feedback_token_hash = ""
    wish.save()
    event = _event(
        wish,
        action="auto_closed",
        from_state=State.FULFILLED,
        actor_kind=EventActor.SYSTEM,
        reason=_("%(days)d天内未收到居民评价，心愿按已实现办结。") % {"days": days},
    )
    _tell_users(
        selectors.secretary_users(wish.community),
        template="demands_auto_closed",
        event=event,
        context={"link": _review_link(wish, site_url)},
        kind="work",
    )
    return wish


def wishes_auto_close_unconfirmed(*, now: datetime | None = None) -> int:
    """Close every fulfilled wish whose rating link has gone unanswered for FEEDBACK_DAYS; return how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.WISH_FEEDBACK_DAYS)
    ids = list(MicroWish.objects.filter(state=State.FULFILLED, fulfilled_at__lte=cutoff).values_list("pk", flat=True))
    done = 0
    for pk in ids:
        try:
            wish_auto_close(wish=MicroWish(pk=pk), now=now)
            done += 1
        except ValidationError:
            continue
    return done


def _organizer_name(user) -> str:
    member = getattr(user, "member", None)
    if member is not None:
        return member.name
    return (user.get_full_name() or user.get_username())[:50]


@transaction.atomic
def wish_confirm_service(*, wish: MicroWish, actor) -> MicroWish:
    """The community confirms the service (谁组织谁记录、谁记录谁证明): the claimer's ServiceRecord is created and
    verified by the community's organization, and the points follow — "wish_fulfilled", plus "resident_rating"
    per star when the resident rated (the rule decides from how many stars).

    Allowed on a confirmed wish (→ closed) and on a wish closed unconfirmed whose service is not yet confirmed
    (stays closed). Idempotent pieces: the record by (source "wish", "wish:<id>", member), the points by their
    idempotency keys. Locks: the wish, then the record, then the points balance. Nobody confirms their own claim.
    """
    wish = _lock(wish)
    allowed = wish.state == State.CONFIRMED or (wish.state == State.CLOSED and wish.service_confirmed_at is None)
    if not allowed:
        if wish.state == State.CLOSED:
            raise ValidationError(_("该心愿的服务已经确认过。"))
        raise ValidationError(
            _("只有居民已确认或已自动办结的心愿可以确认服务（该心愿%(state)s）。") % {"state": wish.get_state_display()}
        )
    claimer = Member.objects.select_related("user").get(pk=wish.claimed_by_id)
    if claimer.user_id == actor.pk:
        raise ValidationError(_("不能确认本人认领的心愿，请由社区其他负责人确认。"))
    ref = f"wish:{wish.pk}"
    place = wish.community.name + (f" {wish.grid.name}" if wish.grid_id else "")
    record = service_record_create(
        member=claimer,
        start=wish.service_started_at,
        end=wish.service_ended_at,
        hours=wish.service_hours,
        place=place,
        content=_("实现微心愿：%(title)s") % {"title": wish.public_title},
        beneficiary_summary=_("%(community)s居民（%(category)s）")
        % {"community": wish.community.name, "category": wish.category.name},
        evaluation=wish.rating,
        source=ServiceRecord.Source.WISH,
        source_ref=ref,
        recording_organization=wish.community.organization,
        organizer=_organizer_name(actor),
        recorder=actor,
    )
    if record.status == ServiceRecord.Status.PENDING:
        record = service_record_verify(record=record, verifier=actor)
    from_state = wish.state
    now = timezone.now()
    wish.service_record = record
    wish.service_confirmed_at = now
    wish.service_confirmed_by = actor
    if wish.state == State.CONFIRMED:
        wish.state = State.CLOSED
        wish.closed_at = now
    wish.save()
    # The record's hours earned their points when it was verified; the wish and the rating earn theirs here.
    entries = [
        e for source in selectors.wish_points_sources(wish) for e in points_source_sync(source=source, actor=actor)
    ]
    event = _event(
        wish,
        action="closed" if from_state == State.CONFIRMED else "service_confirmed",
        from_state=from_state,
        actor_kind=EventActor.SECRETARY,
        actor=actor,
        reason=_("社区确认服务，心愿办结。"),
        public=from_state == State.CONFIRMED,
    )
    points = sum(e.points for e in entries) + sum(
        e.points for e in LedgerEntry.objects.filter(member=claimer, source_ref=record_source_ref(record.pk))
    )
    _tell_users(
        [claimer.user],
        template="demands_closed",
        event=event,
        context={"hours": str(record.hours), "points": points},
        kind="wish_update",
    )
    return wish


# --- Contact data -----------------------------------------------------------------------------------------------


@transaction.atomic
def contact_access_log(*, wish: MicroWish, user, role: str) -> ContactAccessLog:
    """Record that `user` is shown the resident's full contact (the caller has checked `can_see_contact`)."""
    if role not in ContactAccessLog.Role.values:
        raise ValueError(f"unknown role: {role}")
    return ContactAccessLog.objects.create(wish=wish, user=user, role=role)


@transaction.atomic
def phone_block(*, wish: MicroWish, actor, reason: str) -> BlockedPhone:
    """Stop accepting wishes from the phone of `wish` (abuse). Idempotent: the hash is unique."""
    reason = _text(reason, field="reason", label=_("原因"), max_length=200)
    if not wish.phone_hash:
        raise ValidationError(_("该心愿的联系方式已清除。"))
    try:
        with transaction.atomic():
            return BlockedPhone.objects.create(
                phone_hash=wish.phone_hash, phone_masked=mask_phone(wish.contact_phone), reason=reason, created_by=actor
            )
    except IntegrityError:
        return BlockedPhone.objects.get(phone_hash=wish.phone_hash)


@transaction.atomic
def phone_number_block(*, phone: str, actor, reason: str) -> BlockedPhone:
    """A platform admin stops accepting wishes from a number typed in (no wish needed). Only the number's blind
    index and its masked form are stored. Idempotent: the hash is UNIQUE, an existing block is returned as it is."""
    reason = _text(reason, field="reason", label=_("原因"), max_length=200)
    try:
        phone = check_phone_format(phone)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from None
    phone_hash = blind_index(phone)
    try:
        with transaction.atomic():
            return BlockedPhone.objects.create(
                phone_hash=phone_hash, phone_masked=mask_phone(phone), reason=reason, created_by=actor
            )
    except IntegrityError:
        return BlockedPhone.objects.get(phone_hash=phone_hash)


# The widest range a block may cover: a wider one would shut out a whole mobile carrier's residents.
WIDEST_BLOCKED_PREFIX = {4: 16, 6: 32}


def check_network(network: str) -> str:
    """The canonical form of an address range ("203.0.113.7/24" → "203.0.113.0/24"; a bare address is a /32 or
    /128); a dict error keyed "network" for anything else or a range too wide to be a sensible block."""
    try:
        parsed = ipaddress.ip_network((network or "").strip(), strict=False)
    except ValueError:
        raise ValidationError({"network": _("请输入 IP 地址或地址段，如 203.0.113.7 或 203.0.113.0/24。")}) from None
    if parsed.prefixlen < WIDEST_BLOCKED_PREFIX[parsed.version]:
        raise ValidationError({"network": _("地址段太大（IPv4 最大 /16，IPv6 最大 /32）。")})
    return str(parsed)


@transaction.atomic
def network_block(*, network: str, actor, reason: str) -> BlockedNetwork:
    """Refuse submissions of the public forms (wish, tracking, feedback) from an IP range. Stored canonical, so the
    same range typed twice is one row (UNIQUE); an existing block is returned as it is."""
    reason = _text(reason, field="reason", label=_("原因"), max_length=200)
    network = check_network(network)
    try:
        with transaction.atomic():
            return BlockedNetwork.objects.create(network=network, reason=reason, created_by=actor)
    except IntegrityError:
        return BlockedNetwork.objects.get(network=network)


PURGEABLE_STATES = (State.CLOSED, State.REJECTED, State.WITHDRAWN, State.EXPIRED)


def wishes_purge_contacts(*, older_than_days: int | None = None, now: datetime | None = None) -> int:
    """Erase residents' personal data from wishes finished more than `older_than_days` ago (setting
    WISH_CONTACT_RETENTION_DAYS, default 180): name, phone and its hash, the resident's own wording, free-text
    comments and photos. What stays is anonymous: category, community, grid, dates, states, rating, the reviewed
    public text. Each wish in its own transaction under its lock; returns how many were purged."""
    if older_than_days is None:
        older_than_days = settings.WISH_CONTACT_RETENTION_DAYS
    days = older_than_days
    now = now or timezone.now()
    ids = list(
        MicroWish.objects.filter(
            state__in=PURGEABLE_STATES, updated_at__lt=now - timedelta(days=days), contact_purged_at__isnull=True
        ).values_list("pk", flat=True)
    )
    for pk in ids:
        _purge_one(pk, now)
    return len(ids)


@transaction.atomic
def _purge_one(pk: int, now: datetime) -> None:
    wish = MicroWish.objects.select_for_update().get(pk=pk)
    published = wish.published_at is not None
    wish.contact_name = ""
    wish.contact_phone = ""
    wish.phone_hash = ""
    wish.feedback_token_hash = ""
    wish.preferred_time = ""
    wish.rating_comment = ""
    wish.fulfilment_note = ""
    wish.title = wish.public_title if published else ""
    wish.description = ""
    if not published:  # never reviewed for the wall: it may still hold what the resident wrote
        wish.public_title = ""
        wish.public_description = ""
    wish.contact_purged_at = now
    wish.save()
    wish.events.filter(actor_kind__in=[EventActor.RESIDENT, EventActor.MEMBER]).update(reason="")
    for photo in wish.photos.all():
        name = photo.image.name
        photo.delete()
        transaction.on_commit(lambda name=name: default_storage.delete(name))


# --- Service offers (供给清单) ------------------------------------------------------------------------------------


def _check_offer(*, member: Member, team: Team | None, title: str, description: str, available_time: str) -> dict:
    if member.status != Member.Status.ACTIVE:
        raise ValidationError(_("只有在册党员可以发布服务清单。"))
    if team is not None and team.leader_id != member.pk:
        raise ValidationError({"team": _("只有服务队队长可以以服务队名义发布。")})
    return {
        "title": _text(title, field="title", label=_("服务内容"), max_length=60, min_length=2),
        "description": _text(description, field="description", label=_("说明"), max_length=500, required=False),
        "available_time": _text(
            available_time, field="available_time", label=_("服务时间"), max_length=100, required=False
        ),
    }


@transaction.atomic
def offer_create(
    *,
    member: Member,
    title: str,
    category: WishCategory,
    description: str = "",
    community: Community | None = None,
    available_time: str = "",
    team: Team | None = None,
    active: bool = True,
) -> ServiceOffer:
    """A member (or a team leader for the team) lists what they offer residents (供给清单). No lock: a new row."""
    check_category(category)
    texts = _check_offer(member=member, team=team, title=title, description=description, available_time=available_time)
    return ServiceOffer.objects.create(
        member=member, team=team, category=category, community=community, active=active, **texts
    )


@transaction.atomic
def offer_update(
    *,
    offer: ServiceOffer,
    member: Member,
    title: str,
    category: WishCategory,
    description: str = "",
    community: Community | None = None,
    available_time: str = "",
    team: Team | None = None,
    active: bool = True,
) -> ServiceOffer:
    """The offering member edits or pauses an offer. Lock: the offer. Wishes already addressed to it keep it."""
    offer = ServiceOffer.objects.select_for_update().get(pk=offer.pk)
    if offer.member_id != member.pk:
        raise ValidationError(_("只能修改自己的服务清单。"))
    if active:
        check_category(category)
    texts = _check_offer(member=member, team=team, title=title, description=description, available_time=available_time)
    for field, value in {**texts, "category": category, "community": community, "team": team, "active": active}.items():
        setattr(offer, field, value)
    offer.save()
    return offer


@transaction.atomic
def offer_pause(*, offer: ServiceOffer, actor) -> ServiceOffer:
    """A secretary stops an offer from taking new orders. Lock: the offer. Idempotent."""
    offer = ServiceOffer.objects.select_for_update().get(pk=offer.pk)
    if offer.active:
        offer.active = False
        offer.save(update_fields=["active", "updated_at"])
    return offer


# --- Households, pairings and visits (结对帮扶) -------------------------------------------------------------------


def check_priority_groups(groups, *, consent_sensitive: bool) -> str:
    """The tags as stored (comma-separated codes); sensitive tags need the household's separate consent."""
    groups = [g for g in (groups or []) if g]
    unknown = [g for g in groups if g not in PriorityGroup.values]
    if unknown:
        raise ValidationError({"priority_groups": _("无效的重点人群：%(codes)s") % {"codes": "、".join(unknown)}})
    if groups and not consent_sensitive:
        raise ValidationError({"consent_sensitive": _("登记重点人群（敏感个人信息）需要服务对象单独同意。")})
    return ",".join(sorted(set(groups), key=PriorityGroup.values.index))


@transaction.atomic
def household_save(
    *,
    actor,
    community: Community,
    contact_name: str,
    address: str,
    consent_processing: bool,
    household: Household | None = None,
    grid: Grid | None = None,
    phone: str = "",
    priority_groups=(),
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
    *, member: Member, household: Household, actor, team: Team | None = None, note: str = "", started_on=None
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
def pairing_end(*, pairing: Pairing, actor, ended_on=None) -> Pairing:
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
    *, pairing: Pairing, member: Member, start: datetime, end: datetime, hours, summary: str
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
    )
    visit.service_record = record
    visit.save(update_fields=["service_record"])
    return visit


# --- Scheduled work (demands/tasks.py; schedules in volunteer_platform/schedules.py) -----------------------------

UNVERIFIED_ESCALATION_HOURS = 48  # a submitted wish not verified by then → the community's secretaries
CLAIM_REMINDER_DAYS = 7  # a claim not fulfilled by then → a reminder to the claimer
CLAIM_ESCALATION_DAYS = 14  # … and by then → the community's secretaries


def wishes_escalate(*, now: datetime | None = None, site_url: str = "") -> int:
    """督办, hourly: returns the wishes expired plus the messages written.

    - submitted (not verified) for UNVERIFIED_ESCALATION_HOURS → the community's managers (kind "work");
    - published past the claim deadline → `wishes_expire_overdue` (expired; grid leader and managers are told);
    - claimed and not fulfilled for CLAIM_REMINDER_DAYS → the claimer (kind "wish_update", SMS as they chose);
    - … for CLAIM_ESCALATION_DAYS → the community's managers (kind "work").

    Dedupe keys carry the wish, the stage, the recipient (and for a claim its time, so a new claim after a release
    is followed again): a rerun writes nothing new. Each stage is one `notify_many` batch, outside any lock.
    """
    now = now or timezone.now()
    expired = wishes_expire_overdue(today=timezone.localdate(now))
    messages = []
    unverified = list(
        selectors.wishes_unverified_before(now - timedelta(hours=UNVERIFIED_ESCALATION_HOURS))
        .select_related("community")
        .order_by("pk")
    )
    reminded = list(
        selectors.wishes_claimed_before(now - timedelta(days=CLAIM_REMINDER_DAYS))
        .select_related("community", "claimed_by__user", "claimed_team")
        .order_by("pk")
    )
    escalated = [w for w in reminded if w.claimed_at <= now - timedelta(days=CLAIM_ESCALATION_DAYS)]
    managers = organization_managers({w.community.organization_id for w in unverified + escalated})
    for wish in unverified:
        for user in managers.get(wish.community.organization_id, []):
            messages += user_messages(
                user_id=user.pk,
                kind="work",
                template="demands_escalate_unverified",
                dedupe_key=f"demands:escalate-unverified:{wish.pk}:{user.pk}",
                context={
                    "title": wish_title(wish),
                    "wish_id": wish.pk,
                    "community": wish.community.name,
                    "hours": UNVERIFIED_ESCALATION_HOURS,
                    "link": _review_link(wish, site_url),
                },
                has_email=bool(user.email),
            )
    for wish in reminded:
        member = wish.claimed_by
        messages += user_messages(
            user_id=member.user_id,
            kind="wish_update",
            template="demands_claim_reminder",
            dedupe_key=f"demands:claim-reminder:{wish.pk}:{wish.claimed_at:%Y%m%d%H%M%S}:{member.user_id}",
            context={
                "title": wish_title(wish),
                "wish_id": wish.pk,
                "days": CLAIM_REMINDER_DAYS,
                "link": _wish_link(wish, site_url),
            },
            has_email=bool(member.user.email),
            phone=member.phone,
        )
    for wish in escalated:
        who = wish.claimed_team.name if wish.claimed_team_id else wish.claimed_by.public_name
        for user in managers.get(wish.community.organization_id, []):
            messages += user_messages(
                user_id=user.pk,
                kind="work",
                template="demands_claim_overdue",
                dedupe_key=f"demands:claim-overdue:{wish.pk}:{wish.claimed_at:%Y%m%d%H%M%S}:{user.pk}",
                context={
                    "title": wish_title(wish),
                    "wish_id": wish.pk,
                    "community": wish.community.name,
                    "who": who,
                    "days": CLAIM_ESCALATION_DAYS,
                    "link": _review_link(wish, site_url),
                },
                has_email=bool(user.email),
            )
    return expired + notify_many(messages)


def wishes_process_feedback(*, now: datetime | None = None) -> int:
    """Hourly: first close the fulfilled wishes unanswered for WISH_FEEDBACK_DAYS (`wishes_auto_close_unconfirmed`),
    then send the one reminder to residents who have not answered for WISH_FEEDBACK_REMINDER_DAYS
    (`wishes_remind_feedback`: once per fulfilment, recorded as an event). Closing first means a wish past both
    deadlines (the task was down) is closed, not reminded. Returns closed + reminded; a rerun does nothing new."""
    now = now or timezone.now()
    return wishes_auto_close_unconfirmed(now=now) + wishes_remind_feedback(now=now)


# SMS templates that `_tell_resident` uses: their dedupe keys are "<template>:<event id>" (see _tell_resident).
RESIDENT_SMS_TEMPLATES = (
    "demands_submitted",
    "demands_published",
    "demands_rejected",
    "demands_claimed",
    "demands_fulfilled",
    "demands_feedback_reminder",
)
# What stays in recipient_phone of an erased SMS row: the column is encrypted and the check constraint
# `notification_sms_has_phone` forbids "", so an obvious non-number takes its place (an admin retry of such a row
# fails at the provider, as it should: there is nobody to text any more).
PURGED_PHONE = "purged"
OUTBOX_ERASE_CATCHUP_DAYS = 7  # wishes purged this recently are looked at again (an SMS then still pending)
_OUTBOX_KEYS_PER_QUERY = 1000


def wishes_purge_outbox(*, wish_ids: list[int] | None = None, now: datetime | None = None) -> int:
    """Erase the resident's phone and the message context (tracking code, links, names) from the outbox rows of
    the SMS sent about these wishes (default: those purged in the last OUTBOX_ERASE_CATCHUP_DAYS); returns the rows
    erased. Rows still pending are left to be sent and erased by a later run; rows keep channel, template, kind,
    status and times (anonymous figures). Found by their dedupe keys, through the unique index; idempotent
    (an erased row has an empty context and is not counted again)."""
    now = now or timezone.now()
    if wish_ids is None:
        wish_ids = list(
            MicroWish.objects.filter(
                contact_purged_at__gte=now - timedelta(days=OUTBOX_ERASE_CATCHUP_DAYS)
            ).values_list("pk", flat=True)
        )
    event_ids = list(WishEvent.objects.filter(wish_id__in=wish_ids).values_list("pk", flat=True))
    keys = [f"{template}:{event_id}" for event_id in event_ids for template in RESIDENT_SMS_TEMPLATES]
    erased = 0
    for start in range(0, len(keys), _OUTBOX_KEYS_PER_QUERY):
        erased += (
            Notification.objects.filter(
                dedupe_key__in=keys[start : start + _OUTBOX_KEYS_PER_QUERY], channel=Notification.Channel.SMS
            )
            .exclude(status=Notification.Status.PENDING)
            .exclude(context={})
            .update(recipient_phone=PURGED_PHONE, context={})
        )
    return erased


def wishes_purge_resident_data(*, now: datetime | None = None) -> int:
    """Daily: `wishes_purge_contacts` (the wishes themselves), then `wishes_purge_outbox` (the SMS rows about the
    wishes purged now or in the last few days). Returns the wishes purged by this run."""
    now = now or timezone.now()
    purged = wishes_purge_contacts(now=now)
    wishes_purge_outbox(now=now)
    return purged

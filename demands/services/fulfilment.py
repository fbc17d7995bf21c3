"""Fulfilment and feedback: the service done, its record, the resident's confirmation and rating."""

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.types import User
from incentives.models import LedgerEntry
from incentives.selectors import record_source_ref
from incentives.services import points_source_sync
from members.models import Member, ServiceRecord
from members.services import service_record_create, service_record_verify

from .. import selectors
from ..models import MAX_PHOTOS, EventActor, MicroWish, WishPhoto
from ..photos import process_photo
from ..validators import _text, check_fulfilment
from ._common import (
    State,
    _absolute,
    _event,
    _lock,
    _require_state,
    _review_link,
    _tell_resident,
    _tell_users,
    _wish_link,
)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def wish_fulfil(
    *,
    wish: MicroWish,
    member: Member,
    note: str,
    start: datetime,
    end: datetime,
    hours: Decimal | str,
    photos: Sequence[UploadedFile] = (),
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
    assert wish.fulfilled_at is not None  # a fulfilled wish has it (demands_wish_fulfilled_has_time)
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
    claimer = wish.claimed_by
    assert claimer is not None  # a claimed wish has its claimer (demands_wish_claimer_iff_held)
    secretaries = [u for u in selectors.secretary_users(wish.community) if u.pk != claimer.user_id]
    _tell_users(secretaries, template="demands_not_fulfilled", event=event, context=context, kind="work")
    _tell_users([claimer.user], template="demands_not_fulfilled", event=event, context=context, kind="wish_update")
    return wish


@transaction.atomic
def wish_auto_close(*, wish: MicroWish, now: datetime | None = None, site_url: str = "") -> MicroWish:
    """No answer from the resident within FEEDBACK_DAYS: the wish closes as fulfilled-unconfirmed, and the
    secretaries are asked to confirm the service. Lock: the wish. Transition: fulfilled → closed."""
    now = now or timezone.now()
    days = settings.WISH_FEEDBACK_DAYS
    wish = _lock(wish)
    _require_state(wish, [State.FULFILLED], _("只有已实现、等待居民评价的心愿会自动办结（该心愿%(state)s）。"))
    assert wish.fulfilled_at is not None  # a fulfilled wish has it (demands_wish_fulfilled_has_time)
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


def _organizer_name(user: User) -> str:
    member: Member | None = getattr(user, "member", None)
    if member is not None:
        return member.name
    return (user.get_full_name() or user.get_username())[:50]


@transaction.atomic
def wish_confirm_service(*, wish: MicroWish, actor: User) -> MicroWish:
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
    # Confirmed and closed wishes were claimed and fulfilled, so these are set (constraints and wish_fulfil).
    assert wish.claimed_by_id is not None
    assert wish.service_started_at is not None and wish.service_ended_at is not None and wish.service_hours is not None
    claimer = Member.objects.select_related("user").get(pk=wish.claimed_by_id)
    if claimer.user_id == actor.pk:
        raise ValidationError(_("不能确认本人认领的心愿，请由社区其他负责人确认。"))
    ref = f"wish:{wish.pk}"
    place = wish.community.name + (f" {wish.grid.name}" if wish.grid_id and wish.grid is not None else "")
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

"""Contact data: who may see a resident's phone, the access log, blocks and purges."""

from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.crypto import blind_index, mask_phone
from core.types import Actor, User

from ..models import BlockedNetwork, BlockedPhone, ContactAccessLog, EventActor, MicroWish
from ..validators import _text, check_network, check_phone_format
from ._common import State


@transaction.atomic
def contact_access_log(*, wish: MicroWish, user: User, role: str) -> ContactAccessLog:
    """Record that `user` is shown the resident's full contact (the caller has checked `can_see_contact`)."""
    if role not in ContactAccessLog.Role.values:
        raise ValueError(f"unknown role: {role}")
    return ContactAccessLog.objects.create(wish=wish, user=user, role=role)


@transaction.atomic
def phone_block(*, wish: MicroWish, actor: Actor, reason: str) -> BlockedPhone:
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
def phone_number_block(*, phone: str, actor: Actor, reason: str) -> BlockedPhone:
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


@transaction.atomic
def network_block(*, network: str, actor: Actor, reason: str) -> BlockedNetwork:
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
        transaction.on_commit(partial(default_storage.delete, name))

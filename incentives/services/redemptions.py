"""The catalogue (兑换目录) and redemptions: stock, the points held, pickup codes, cancellation."""

import secrets
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.types import Actor
from members.models import Member
from notifications.models import Notification
from notifications.services import notify

from .. import selectors
from ..models import CatalogueItem, Redemption
from ..validators import check_catalogue_item
from ._common import _lock_balance, _reverse
from .ledger import spend

# Pickup codes are read aloud and typed from a phone screen: no 0/O, 1/I/L.
PICKUP_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


PICKUP_CODE_LENGTH = 8


_ITEM_FIELDS = (
    "kind",
    "name",
    "name_en",
    "description",
    "description_en",
    "pickup_place",
    "points_cost",
    "per_member_limit",
    "opens_at",
    "closes_at",
    "min_star_level",
    "organization",
    "active",
)


@transaction.atomic
def catalogue_item_create(*, stock: int, **fields: Any) -> CatalogueItem:
    """Add an item with its initial stock."""
    unknown = set(fields) - set(_ITEM_FIELDS)
    if unknown:
        raise TypeError(f"unknown catalogue item fields: {sorted(unknown)}")
    check_catalogue_item(
        kind=fields.get("kind", CatalogueItem.Kind.SERVICE),
        min_star_level=fields.get("min_star_level", 0),
        opens_at=fields.get("opens_at"),
        closes_at=fields.get("closes_at"),
    )
    if stock < 0:
        raise ValidationError({"stock": _("库存不能为负数。")})
    item = CatalogueItem(stock=stock, **fields)
    item.full_clean()
    item.save()
    return item


@transaction.atomic
def catalogue_item_update(*, item: CatalogueItem, **fields: Any) -> CatalogueItem:
    """Change an item's description, price, window, limits — never its stock (`catalogue_item_restock`), so an
    admin form read a minute ago cannot overwrite what concurrent redemptions took. Lock: the item row."""
    unknown = set(fields) - set(_ITEM_FIELDS)
    if unknown:
        raise TypeError(f"unknown catalogue item fields: {sorted(unknown)}")
    item = CatalogueItem.objects.select_for_update().get(pk=item.pk)
    for name, value in fields.items():
        setattr(item, name, value)
    check_catalogue_item(
        kind=item.kind, min_star_level=item.min_star_level, opens_at=item.opens_at, closes_at=item.closes_at
    )
    item.full_clean()
    item.save(update_fields=[*fields, "updated_at"])
    return item


@transaction.atomic
def catalogue_item_restock(*, item: CatalogueItem, quantity: int) -> CatalogueItem:
    """Add (or, with a negative quantity, remove) stock with one conditional UPDATE; never below zero."""
    if not isinstance(quantity, int) or quantity == 0:
        raise ValidationError({"quantity": _("数量不能为 0。")})
    changed = CatalogueItem.objects.filter(pk=item.pk, stock__gte=-quantity).update(
        stock=F("stock") + quantity, updated_at=timezone.now()
    )
    if not changed:
        raise ValidationError({"quantity": _("库存不足，不能减少这么多。")})
    item.refresh_from_db(fields=["stock", "updated_at"])
    return item


def _take_stock(item: CatalogueItem) -> bool:
    """One unit of stock, or False when none is left: UPDATE … SET stock = stock − 1 WHERE stock > 0."""
    return bool(CatalogueItem.objects.filter(pk=item.pk, stock__gt=0).update(stock=F("stock") - 1))


@transaction.atomic
def redemption_request(*, member: Member, item: CatalogueItem, idempotency_key: str | None = None) -> Redemption:
    """A member redeems one unit of an item: one unit of stock is taken and the points are held (a spend entry).

    Locks, in order: the member's balance row (which also serialises the per-member limit check), then the item's
    stock by a conditional UPDATE, so stock never goes below zero and the points are never spent twice — if the
    balance does not cover the price, the stock taken is rolled back with everything else. The same
    `idempotency_key` (a form token) again returns the first redemption.
    """
    key = f"redeem:{member.pk}:{idempotency_key}" if idempotency_key else f"redeem:{member.pk}:{uuid.uuid4().hex}"
    balance = _lock_balance(member)
    existing = Redemption.objects.filter(spend_entry__idempotency_key=key).first()
    if existing is not None:
        return existing
    item = CatalogueItem.objects.select_related("organization").get(pk=item.pk)
    member = Member.objects.select_related("organization").get(pk=member.pk)
    if member.status != Member.Status.ACTIVE:
        raise ValidationError(_("只有在册党员可以兑换。"))
    if not item.is_open():
        raise ValidationError(_("“%(item)s”当前不在兑换时间内。") % {"item": item.display_name})
    if item.organization is not None and not member.organization.is_in_subtree_of(item.organization):
        raise ValidationError(_("“%(item)s”不面向您所在的组织。") % {"item": item.display_name})
    if item.min_star_level:
        stars = selectors.current_stars(member)
        if stars < item.min_star_level:
            raise ValidationError(
                _("“%(item)s”需要 %(need)d 星及以上，您当前是 %(stars)d 星。")
                % {"item": item.display_name, "need": item.min_star_level, "stars": stars}
            )
    if item.per_member_limit is not None:
        taken = Redemption.objects.filter(member=member, item=item).exclude(status=Redemption.Status.CANCELLED).count()
        if taken >= item.per_member_limit:
            raise ValidationError(
                _("“%(item)s”每人限兑 %(limit)d 次，您已兑换 %(taken)d 次。")
                % {"item": item.display_name, "limit": item.per_member_limit, "taken": taken}
            )
    if balance.balance < item.points_cost:
        raise ValidationError(
            _("积分不足：当前余额 %(balance)d 分，需要 %(points)d 分。")
            % {"balance": balance.balance, "points": item.points_cost}
        )
    if not _take_stock(item):
        raise ValidationError(_("“%(item)s”已兑完。") % {"item": item.display_name})
    entry = spend(
        member=member,
        points=item.points_cost,
        idempotency_key=key,
        source_ref=f"item:{item.pk}",
        actor=member.user,
        note=item.name[:200],
    )
    return Redemption.objects.create(member=member, item=item, points=item.points_cost, spend_entry=entry)


def _new_pickup_code() -> str:
    return "".join(secrets.choice(PICKUP_ALPHABET) for _ in range(PICKUP_CODE_LENGTH))


@transaction.atomic
def redemption_approve(*, redemption: Redemption, actor: Actor) -> Redemption:
    """Approve a requested redemption: it gets a random pickup code (unique among all codes) and the member an
    in-app message with it. Lock: the redemption row."""
    redemption = Redemption.objects.select_for_update().select_related("item", "member__user").get(pk=redemption.pk)
    if redemption.status != Redemption.Status.REQUESTED:
        raise ValidationError(
            _("只有待审核的兑换可以批准（当前：%(status)s）。") % {"status": redemption.get_status_display()}
        )
    redemption.status = Redemption.Status.APPROVED
    redemption.approved_at = timezone.now()
    redemption.approved_by = actor
    for _attempt in range(5):
        redemption.pickup_code = _new_pickup_code()
        try:
            with transaction.atomic():
                redemption.save(update_fields=["status", "approved_at", "approved_by", "pickup_code"])
            break
        except IntegrityError:
            continue  # a code collision (31^8 codes): draw again
    else:
        raise RuntimeError("could not draw a unique pickup code")
    notify(
        template="incentives_redemption_approved",
        channel=Notification.Channel.INAPP,
        user=redemption.member.user,
        dedupe_key=f"incentives:redemption:{redemption.pk}:approved",
        context={
            "name": redemption.member.name,
            "item": redemption.item.name,
            "code": redemption.pickup_code,
            "place": redemption.item.pickup_place,
            "points": redemption.points,
        },
    )
    return redemption


@transaction.atomic
def redemption_fulfil(*, redemption: Redemption, actor: Actor) -> Redemption:
    """The member collected the item or service with the pickup code. Lock: the redemption row."""
    redemption = Redemption.objects.select_for_update().get(pk=redemption.pk)
    if redemption.status != Redemption.Status.APPROVED:
        raise ValidationError(
            _("只有待领取的兑换可以标记为已领取（当前：%(status)s）。") % {"status": redemption.get_status_display()}
        )
    redemption.status = Redemption.Status.FULFILLED
    redemption.fulfilled_at = timezone.now()
    redemption.fulfilled_by = actor
    redemption.save(update_fields=["status", "fulfilled_at", "fulfilled_by"])
    return redemption


@transaction.atomic
def redemption_cancel(*, redemption: Redemption, actor: Actor, reason: str = "", by_member: bool = False) -> Redemption:
    """Cancel a requested or approved redemption: the points come back (a reversal of the hold) and so does the
    unit of stock. A member may cancel their own only while it waits for approval.

    Locks, in order: the member's balance row, the redemption row, the item's stock (conditional UPDATE).
    """
    _lock_balance(redemption.member)
    redemption = (
        Redemption.objects.select_for_update()
        .select_related("item", "member__user", "spend_entry")
        .get(pk=redemption.pk)
    )
    allowed = (Redemption.Status.REQUESTED,) if by_member else Redemption.OPEN_STATUSES
    if redemption.status not in allowed:
        raise ValidationError(_("这条兑换不能取消（当前：%(status)s）。") % {"status": redemption.get_status_display()})
    reason = (reason or "").strip()[:200]
    if not by_member and not reason:
        raise ValidationError({"reason": _("请填写取消原因。")})
    redemption.status = Redemption.Status.CANCELLED
    redemption.cancelled_at = timezone.now()
    redemption.cancelled_by = actor
    redemption.cancel_reason = reason or _("本人取消")
    redemption.save(update_fields=["status", "cancelled_at", "cancelled_by", "cancel_reason"])
    _reverse(
        entry=redemption.spend_entry,
        actor=actor,
        reason=_("取消兑换“%(item)s”，退还积分") % {"item": redemption.item.name},
    )
    CatalogueItem.objects.filter(pk=redemption.item_id).update(stock=F("stock") + 1)
    if not by_member:
        notify(
            template="incentives_redemption_cancelled",
            channel=Notification.Channel.INAPP,
            user=redemption.member.user,
            dedupe_key=f"incentives:redemption:{redemption.pk}:cancelled",
            context={
                "name": redemption.member.name,
                "item": redemption.item.name,
                "points": redemption.points,
                "reason": redemption.cancel_reason,
            },
        )
    return redemption

"""Wishes in every state, reached through the services (tracking codes, events and notifications included)."""

import io
import itertools
from datetime import timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from demands import services
from demands.models import MicroWish, WishCategory
from members.services import team_create
from notifications.models import Notification

_phones = itertools.count(13900000001)


def next_resident_phone() -> str:
    return str(next(_phones))


def wish_category(name: str = "助老") -> WishCategory:
    return WishCategory.objects.get_or_create(name=name)[0]


def submit_wish(community, *, category=None, phone=None, **fields) -> MicroWish:
    data = {
        "category": category or wish_category(),
        "title": "帮忙修理漏水的水龙头",
        "description": "厨房水龙头一直滴水，老人自己修不了。",
        "community": community,
        "contact_name": "张桂英",
        "phone": phone or next_resident_phone(),
        "consent_processing": True,
        "preferred_time": "周六上午",
    }
    data.update(fields)
    return services.wish_submit(**data)


def verify(wish: MicroWish, actor, **fields) -> MicroWish:
    data = {
        "public_title": "修理水龙头",
        "public_description": "厨房水龙头漏水，需要会修理的志愿者上门。",
        "category": wish.category,
        "grid": wish.grid,
        "target_group": MicroWish.TargetGroup.EMPTY_NEST,
        "note": "电话核实属实",
    }
    data.update(fields)
    return services.wish_verify(wish=wish, actor=actor, **data)


def publish(wish: MicroWish, actor, **fields) -> MicroWish:
    return services.wish_publish(wish=verify(wish, actor), actor=actor, **fields)


def service_times(hours: int = 2):
    end = timezone.now() - timedelta(hours=1)
    return end - timedelta(hours=hours), end


def fulfil(wish: MicroWish, member, **fields) -> MicroWish:
    start, end = service_times()
    data = {"note": "已上门更换了水龙头的阀芯。", "start": start, "end": end, "hours": Decimal("1.5")}
    data.update(fields)
    return services.wish_fulfil(wish=wish, member=member, **data)


def feedback_token(wish: MicroWish) -> str:
    """The token of the newest rating link texted to the resident of `wish`."""
    sms = (
        Notification.objects.filter(template="demands_fulfilled", context__code=wish.tracking_code)
        .order_by("-pk")
        .first()
    )
    return sms.context["link"].rstrip("/").rsplit("/", 1)[1]


def wish_in_state(state: str, community, secretary, member=None, **fields) -> MicroWish:
    """A wish of `community` brought to `state` through the services (`member` claims when needed)."""
    wish = submit_wish(community, **fields)
    if state == "submitted":
        return wish
    if state in ("rejected", "withdrawn"):
        if state == "rejected":
            return services.wish_reject(wish=wish, actor=secretary, reason="不属于本社区的服务范围")
        return services.wish_withdraw(wish=wish)
    wish = verify(wish, secretary)
    if state == "verified":
        return wish
    wish = services.wish_publish(wish=wish, actor=secretary)
    if state == "published":
        return wish
    if state == "expired":
        MicroWish.objects.filter(pk=wish.pk).update(claim_deadline=timezone.localdate() - timedelta(days=1))
        return services.wish_expire(wish=wish)
    wish = services.wish_claim(wish=wish, member=member)
    if state == "claimed":
        return wish
    wish = fulfil(wish, member)
    if state == "fulfilled":
        return wish
    wish = services.wish_rate(token=feedback_token(wish), rating=5, comment="非常感谢")
    if state == "confirmed":
        return wish
    if state == "closed":
        return services.wish_confirm_service(wish=wish, actor=secretary)
    raise ValueError(state)


def jpeg_upload(name: str = "photo.jpg", size=(800, 600), fmt: str = "JPEG", exif: bool = False) -> SimpleUploadedFile:
    image = Image.new("RGB", size, (200, 120, 40))
    out = io.BytesIO()
    kwargs = {}
    if exif:
        info = Image.Exif()
        info[0x010F] = "SecretCamera"  # Make
        info[0x0131] = "GPS-and-secrets"  # Software
        kwargs["exif"] = info.tobytes()
    image.save(out, format=fmt, **kwargs)
    content_type = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}[fmt]
    return SimpleUploadedFile(name, out.getvalue(), content_type=content_type)


def make_team(organization, *, leader, members, name: str = "邻里互助队"):
    return team_create(organization=organization, name=name, actor=None, leader=leader, members=members)

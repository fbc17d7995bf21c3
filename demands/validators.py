"""The demands app's rules, one function each: forms call them in `clean()` so a broken rule is a message on the
form, and services call them again inside their transaction, so each rule is written once. A broken rule raises
`django.core.exceptions.ValidationError` with a Chinese message (a dict keyed by field when the field is known).

Checks of what residents type on the public pages come first: the messages a form shows before a service is called.
"""

import ipaddress
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.crypto import blind_index
from members.identifiers import normalize_mobile
from members.models import Community, Grid, Member, Team
from members.validators import check_service_times

from .models import MAX_PHOTOS, BlockedPhone, PriorityGroup, WishCategory

# Markup: "<b", "</", "<!", "<?" — text that a careless page would turn into HTML. "<" followed by a space or a
# digit (“<5岁”) is ordinary text.
_MARKUP_RE = re.compile(r"<\s*[/!?a-zA-Z]")
# Pictographs, dingbats, flags, variation selector and zero-width joiner: SMS gateways garble them, names and titles
# never need them.
_EMOJI_RE = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f1e6-\U0001f1ff\ufe0f\u200d\U0000e000-\U0000f8ff]"
)


def check_plain_text(value: str) -> None:
    """Ordinary text only: no HTML-like markup, no emoji (control characters: core.text, on every form field)."""
    if _MARKUP_RE.search(value or ""):
        raise ValidationError(gettext_lazy("请不要输入网页代码（如 <b>、<script>），直接写文字即可。"), code="markup")
    if _EMOJI_RE.search(value or ""):
        raise ValidationError(gettext_lazy("请不要使用表情符号，直接写文字即可。"), code="emoji")


def _text(value: str, *, field: str, label: str, max_length: int, required: bool = True, min_length: int = 1) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: _("请填写%(label)s。") % {"label": label}})
    if value and len(value) < min_length:
        raise ValidationError({field: _("%(label)s至少%(n)d个字。") % {"label": label, "n": min_length}})
    if len(value) > max_length:
        raise ValidationError({field: _("%(label)s最多%(n)d个字。") % {"label": label, "n": max_length}})
    return value


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


def check_category(category: WishCategory | None) -> WishCategory:
    """The category itself, once it is known to be chosen and active."""
    if category is None or not category.active:
        raise ValidationError({"category": _("请选择心愿类别。")})
    return category


def check_offer(*, member: Member, team: Team | None, title: str, description: str, available_time: str) -> dict:
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


def check_claim_deadline(deadline: date | None) -> date:
    today = timezone.localdate()
    if deadline is None:
        return today + timedelta(days=settings.WISH_CLAIM_DAYS)
    if deadline < today:
        raise ValidationError({"claim_deadline": _("认领截止日期不能早于今天。")})
    if deadline > today + timedelta(days=365):
        raise ValidationError({"claim_deadline": _("认领截止日期不能超过一年。")})
    return deadline


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


def check_priority_groups(groups: Iterable[str] | None, *, consent_sensitive: bool) -> str:
    """The tags as stored (comma-separated codes); sensitive tags need the household's separate consent."""
    groups = [g for g in (groups or []) if g]
    unknown = [g for g in groups if g not in PriorityGroup.values]
    if unknown:
        raise ValidationError({"priority_groups": _("无效的重点人群：%(codes)s") % {"codes": "、".join(unknown)}})
    if groups and not consent_sensitive:
        raise ValidationError({"consent_sensitive": _("登记重点人群（敏感个人信息）需要服务对象单独同意。")})
    return ",".join(sorted(set(groups), key=PriorityGroup.values.index))


def check_fulfilment(
    *, note: str, start: datetime, end: datetime, hours: Decimal | str, photos: Sequence[UploadedFile] = ()
) -> tuple[str, Decimal]:
    note = _text(note, field="note", label=_("实现情况"), max_length=1000)
    if start is None or end is None:
        raise ValidationError({"start": _("请填写服务开始和结束时间。")})
    hours, _date = check_service_times(start=start, end=end, hours=hours)
    if end > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"end": _("服务结束时间不能晚于现在。")})
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photos": _("最多上传%(n)d张照片。") % {"n": MAX_PHOTOS}})
    return note, hours

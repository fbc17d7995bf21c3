"""Submission of a wish (微心愿) by a resident or on their behalf."""

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Community, Grid, Member

from .. import selectors
from ..models import (
    CODE_ALPHABET,
    CONSENT_VERSION,
    TRACKING_CODE_LENGTH,
    EventActor,
    MicroWish,
    ServiceOffer,
    WishCategory,
)
from ..validators import _text, check_category, check_phone, check_place
from ._common import _event, _review_link, _tell_resident, _tell_users, _track_link


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

"""Pages of the demands app: the residents' public pages (form, tracking, feedback, privacy notice), the wish
wall and the members' claims, and the secretaries' review queue.

Views are thin: they find objects through `demands.selectors` (out of scope: 404), validate with `demands.forms`
and write through `demands.services`. Public POSTs are rate-limited (`core.ratelimit`) and answer 429 with the
time to wait.
"""

import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.models import AuditEvent
from audit.services import audit_record
from core import page_params, public_cache, ratelimit
from core.forms import add_service_errors
from core.params import parse_id
from members.models import Member
from members.selectors import is_organization_admin, member_for

from . import selectors, services
from .forms import (
    WRONG_TRACKING_ANSWER,
    ClaimForm,
    FeedbackForm,
    FulfilForm,
    OfferForm,
    ReasonForm,
    ReviewForm,
    TrackForm,
    VisitForm,
    WallFilterForm,
    WishForm,
)
from .models import CONSENT_VERSION, MicroWish, TargetGroup

WALL_PAGE_SIZE = 20
REVIEW_PAGE_SIZE = 50
SUBMITTED_SESSION_KEY = "demands_submitted_code"
TRACKED_SESSION_KEY = "demands_tracked_wish"
WALL_PARAMS = {  # WallFilterForm's fields (the page's and the API's wall)
    "community": page_params.an_id,
    "grid": page_params.an_id,
    "category": page_params.an_id,
    "target_group": page_params.choice(TargetGroup.values),
}


def _site_url(request) -> str:
    return request.build_absolute_uri("/")


def _too_many(request, retry_after: int):
    response = render(
        request,
        "demands/too_many.html",
        {"minutes": max(1, math.ceil(retry_after / 60))},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


def _blocked(request):
    """A platform admin blocked the network this request comes from (BlockedNetwork): say no, not why."""
    return render(request, "demands/blocked.html", status=403)


def _is_secretary(user) -> bool:
    return user.is_authenticated and (user.is_superuser or is_organization_admin(user))


def _require_member(request) -> Member:
    member = member_for(request.user)
    if member is None:
        raise PermissionDenied(_("只有党员可以认领心愿。"))
    return member


# --- Residents --------------------------------------------------------------------------------------------------


@require_GET
def privacy(request):
    return render(
        request,
        "demands/privacy.html",
        {
            "version": CONSENT_VERSION,
            "retention_days": settings.WISH_CONTACT_RETENTION_DAYS,
            "feedback_days": settings.WISH_FEEDBACK_DAYS,
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
def wish_new(request):
    offer = None
    offer_id = request.GET.get("offer") or request.POST.get("offer")
    if parse_id(offer_id):
        offer = selectors.public_offers().filter(pk=parse_id(offer_id)).first()
    if request.method == "POST":
        ip = ratelimit.client_ip(request)
        if selectors.address_blocked(ip):
            return _blocked(request)
        verdict = ratelimit.hit("WISH_SUBMIT_IP_LIMIT", ip)
        if not verdict.allowed:
            return _too_many(request, verdict.retry_after)
        form = WishForm(request.POST)
        if form.is_valid():
            phone_hash = form.cleaned_data["phone_hash"]
            verdict = ratelimit.peek("WISH_SUBMIT_PHONE_LIMIT", phone_hash)
            if not verdict.allowed:
                return _too_many(request, verdict.retry_after)
            try:
                wish = services.wish_submit(**form.submission(), site_url=_site_url(request))
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                ratelimit.hit("WISH_SUBMIT_PHONE_LIMIT", phone_hash)
                request.session[SUBMITTED_SESSION_KEY] = wish.tracking_code
                request.session[TRACKED_SESSION_KEY] = wish.pk
                return redirect("demands:submitted")
    else:
        initial = {"offer": offer.pk, "category": offer.category_id} if offer else {}
        if offer and offer.community_id:
            initial["community"] = offer.community_id
        form = WishForm(initial=initial)
    return render(request, "demands/wish_form.html", {"form": form, "offer": offer})


@never_cache
@require_GET
def wish_submitted(request):
    code = request.session.get(SUBMITTED_SESSION_KEY)
    if not code:
        return redirect("demands:new")
    return render(request, "demands/wish_submitted.html", {"code": code})


@never_cache
@require_http_methods(["GET", "POST"])
def track(request):
    form = TrackForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        ip = ratelimit.client_ip(request)
        if selectors.address_blocked(ip):
            return _blocked(request)
        verdict = ratelimit.hit("WISH_TRACK_IP_LIMIT", ip)
        if not verdict.allowed:
            return _too_many(request, verdict.retry_after)
        if form.is_valid():
            code = selectors.normalize_code(form.cleaned_data["code"])
            verdict = ratelimit.peek("WISH_TRACK_CODE_LIMIT", code)
            if not verdict.allowed:
                return _too_many(request, verdict.retry_after)
            wish = selectors.wish_for_tracking(code, form.cleaned_data["last4"])
            if wish is not None:
                request.session[TRACKED_SESSION_KEY] = wish.pk
                return redirect("demands:track_status")
            ratelimit.hit("WISH_TRACK_CODE_LIMIT", code)
            form.add_error(None, WRONG_TRACKING_ANSWER)
    return render(request, "demands/track.html", {"form": form})


def _tracked_wish(request) -> MicroWish | None:
    pk = request.session.get(TRACKED_SESSION_KEY)
    if not pk:
        return None
    return (
        MicroWish.objects.filter(pk=pk, contact_purged_at__isnull=True)
        .select_related("category", "community", "grid", "claimed_by", "claimed_team")
        .prefetch_related("photos")
        .first()
    )


@never_cache
@require_GET
def track_status(request):
    wish = _tracked_wish(request)
    if wish is None:
        return redirect("demands:track")
    context = {
        "wish": wish,
        "events": list(selectors.public_timeline(wish)),
        "can_withdraw": wish.state in MicroWish.WITHDRAWABLE_STATES,
        "withdraw_form": ReasonForm(label=_("撤回原因（可选）")),
    }
    return render(request, "demands/track_status.html", context)


@require_POST
def track_withdraw(request):
    wish = _tracked_wish(request)
    if wish is None:
        return redirect("demands:track")
    form = ReasonForm(request.POST)
    if form.is_valid():
        try:
            services.wish_withdraw(wish=wish, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            messages.error(request, "；".join(exc.messages))
        else:
            messages.success(request, _("心愿已撤回。"))
    else:
        messages.error(request, "；".join(e for errors in form.errors.values() for e in errors))
    return redirect("demands:track_status")


@never_cache
@require_http_methods(["GET", "POST"])
def feedback(request, token: str):
    ip = ratelimit.client_ip(request)
    if request.method == "POST" and selectors.address_blocked(ip):
        return _blocked(request)
    verdict = ratelimit.peek("WISH_FEEDBACK_IP_LIMIT", ip)
    if not verdict.allowed:
        return _too_many(request, verdict.retry_after)
    wish = selectors.wish_for_feedback(token)
    if wish is None or request.method == "POST":
        # Guessing links and posting ratings both count; a resident opening their own link does not.
        ratelimit.hit("WISH_FEEDBACK_IP_LIMIT", ip)
    if wish is None:
        return render(request, "demands/feedback_invalid.html", status=404)
    form = FeedbackForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        action = request.POST.get("action")
        try:
            if action == "not_yet":
                services.wish_report_unfulfilled(
                    token=token, comment=form.cleaned_data["comment"], site_url=_site_url(request)
                )
                done = _("谢谢告诉我们。心愿已退回认领的党员，社区也会跟进。")
            else:
                if not form.cleaned_data.get("rating"):
                    raise ValidationError({"rating": _("请选择1到5星。")})
                services.wish_rate(
                    token=token,
                    rating=form.cleaned_data["rating"],
                    comment=form.cleaned_data["comment"],
                    site_url=_site_url(request),
                )
                done = _("感谢您的评价！")
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return render(request, "demands/feedback_done.html", {"message": done, "wish": wish})
    return render(request, "demands/feedback.html", {"wish": wish, "form": form})


# --- Wish wall and claims ---------------------------------------------------------------------------------------


@require_GET
@public_cache.public_page(
    "wishes",
    params={**WALL_PARAMS, "page": page_params.page_number},
    # The wall of one community, or the whole wall (demands/receivers.py: a wish drops the walls it is on)
    objects=lambda query, kwargs: [("wall", query.get("community") or "all")],
)
def wall(request):
    filter_form = WallFilterForm(request.GET or None)
    wishes = selectors.wall(**filter_form.filters())
    page = Paginator(wishes, WALL_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "demands/wall.html", {"filter_form": filter_form, "page": page})


def _audit_contact_view(request, wish: MicroWish, role: str) -> None:
    """The resident's full contact was shown: besides ContactAccessLog (per wish), a FULL_DATA_VIEW in the trail."""
    audit_record(
        action=AuditEvent.Action.FULL_DATA_VIEW,
        request=request,
        object_type=MicroWish._meta.label_lower,
        object_id=wish.pk,
        detail={"fields": ["contact_name", "contact_phone"], "role": role},
    )


@require_GET
def wish_detail(request, pk: int):
    wish = selectors.public_wish(pk)
    if wish is None:
        raise Http404(_("找不到该心愿。"))
    user = request.user
    member = member_for(user)
    role = selectors.can_see_contact(user, wish)
    if role is not None:
        services.contact_access_log(wish=wish, user=user, role=role)
        _audit_contact_view(request, wish, role)
    is_claimer = member is not None and wish.claimed_by_id == member.pk
    context = {
        "wish": wish,
        "member": member,
        "contact_role": role,
        "is_claimer": is_claimer,
        "claimer_name": selectors.claimer_name_for(user, wish, contact_role=role),
        "offered_to_me": member is not None
        and wish.offer_pending
        and wish.offer is not None
        and wish.offer.member_id == member.pk,
        "claim_form": ClaimForm(member=member) if member is not None else None,
        "show_photos": is_claimer or role == "secretary",
        "release_form": ReasonForm(label=_("放弃认领的原因（可选）")),
    }
    return render(request, "demands/wish_detail.html", context)


def _public_wish_or_404(pk: int) -> MicroWish:
    wish = selectors.public_wish(pk)
    if wish is None:
        raise Http404(_("找不到该心愿。"))
    return wish


def _done(request, action, success: str, pk: int, **kwargs):
    try:
        action(**kwargs)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, success)
    return redirect("demands:detail", pk=pk)


@login_required
@require_POST
def wish_claim(request, pk: int):
    wish = _public_wish_or_404(pk)
    member = _require_member(request)
    form = ClaimForm(request.POST, member=member)
    team = form.cleaned_data.get("team") if form.is_valid() else None
    return _done(
        request,
        services.wish_claim,
        _("认领成功！请尽快与居民联系，实现后登记实现情况。"),
        pk,
        wish=wish,
        member=member,
        team=team,
        site_url=_site_url(request),
    )


@login_required
@require_POST
def wish_decline(request, pk: int):
    wish = _public_wish_or_404(pk)
    member = _require_member(request)
    return _done(request, services.wish_offer_decline, _("已婉拒，心愿已发布到心愿墙。"), pk, wish=wish, member=member)


@login_required
@require_POST
def wish_release(request, pk: int):
    wish = _public_wish_or_404(pk)
    member = _require_member(request)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _done(
        request,
        services.wish_release,
        _("已放弃认领，心愿重新回到心愿墙。"),
        pk,
        wish=wish,
        member=member,
        reason=reason,
    )


@login_required
@require_http_methods(["GET", "POST"])
def wish_fulfil(request, pk: int):
    wish = _public_wish_or_404(pk)
    member = _require_member(request)
    if wish.claimed_by_id != member.pk or wish.state != MicroWish.State.CLAIMED:
        raise Http404(_("找不到该心愿。"))
    if request.method == "POST":
        form = FulfilForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                services.wish_fulfil(wish=wish, member=member, **form.fulfilment(), site_url=_site_url(request))
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("已登记实现情况，已请居民确认和评价。"))
                return redirect("demands:detail", pk=pk)
    else:
        form = FulfilForm()
    return render(request, "demands/fulfil.html", {"wish": wish, "form": form})


@login_required
@require_GET
def wish_photo(request, pk: int, photo_id: int):
    wish = MicroWish.objects.select_related("claimed_by").filter(pk=pk).first()
    if wish is None:
        raise Http404(_("找不到该照片。"))
    photo = selectors.photo_for(request.user, wish, photo_id)
    if photo is None:
        raise Http404(_("找不到该照片。"))
    try:
        handle = photo.image.open("rb")
    except FileNotFoundError:
        raise Http404(_("找不到该照片。")) from None
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
def track_photo(request, photo_id: int):
    """A photo of the wish the resident opened by tracking (no account)."""
    wish = _tracked_wish(request)
    if wish is None:
        raise Http404(_("找不到该照片。"))
    photo = next((p for p in wish.photos.all() if p.pk == photo_id), None)
    if photo is None:
        raise Http404(_("找不到该照片。"))
    try:
        handle = photo.image.open("rb")
    except FileNotFoundError:
        raise Http404(_("找不到该照片。")) from None
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def my_wishes(request):
    member = _require_member(request)
    claims = list(selectors.claims_of(member)[:100])
    context = {
        "member": member,
        "open_claims": [w for w in claims if w.state in (MicroWish.State.CLAIMED, MicroWish.State.FULFILLED)],
        "done_claims": [w for w in claims if w.state not in (MicroWish.State.CLAIMED, MicroWish.State.FULFILLED)],
        "offers_waiting": list(selectors.offers_waiting_for(member)),
    }
    return render(request, "demands/my_wishes.html", context)


# --- Secretaries: review queue ----------------------------------------------------------------------------------


def _require_secretary(request) -> None:
    if not _is_secretary(request.user):
        raise PermissionDenied(_("只有社区书记和组织管理员可以审核心愿。"))


@login_required
@require_GET
def review(request):
    _require_secretary(request)
    tab = request.GET.get("tab", "submitted")
    if tab not in selectors.REVIEW_TABS:
        tab = "submitted"
    page = Paginator(selectors.review_queue(request.user, tab=tab), REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "demands/review.html",
        {"tab": tab, "page": page, "counts": selectors.review_counts(request.user)},
    )


def _review_wish_or_404(request, pk: int) -> MicroWish:
    wish = selectors.review_wish(request.user, pk)
    if wish is None:
        raise Http404(_("找不到该心愿。"))
    return wish


def _review_context(request, wish: MicroWish, **forms) -> dict:
    can_match = wish.state in (MicroWish.State.VERIFIED, MicroWish.State.PUBLISHED) and not wish.offer_pending
    return {
        "wish": wish,
        "events": list(wish.events.all()),
        "review_form": forms.get("review_form") or ReviewForm(wish=wish),
        "reject_form": forms.get("reject_form") or ReasonForm(required=True, label=_("不予受理的原因")),
        # Its own ids: the reject form's reason field is on the same page (a label must name one field).
        "block_form": ReasonForm(required=True, label=_("停止受理的原因"), auto_id="id_block_%s"),
        "matches": selectors.match_members(wish) if can_match else [],
        "can_invite": wish.state == MicroWish.State.PUBLISHED and not wish.offer_pending,
        "can_edit": wish.state in services.EDITABLE_STATES,
        "can_reject": wish.state in services.REJECTABLE_STATES,
        "can_confirm": wish.state == MicroWish.State.CONFIRMED
        or (wish.state == MicroWish.State.CLOSED and wish.service_confirmed_at is None),
    }


@login_required
@require_GET
def review_detail(request, pk: int):
    wish = _review_wish_or_404(request, pk)
    if wish.contact_phone:
        services.contact_access_log(wish=wish, user=request.user, role="secretary")
        _audit_contact_view(request, wish, "secretary")
    return render(request, "demands/review_detail.html", _review_context(request, wish))


def _back(pk: int):
    return redirect("demands:review_detail", pk=pk)


@login_required
@require_POST
def review_save(request, pk: int):
    """The review form: "verify", "verify and publish", "publish" or "save" (edit), depending on the button."""
    wish = _review_wish_or_404(request, pk)
    form = ReviewForm(request.POST, wish=wish)
    action = request.POST.get("action", "save")
    if form.is_valid():
        data = form.cleaned_data
        try:
            _wish, done = services.wish_review_save(
                wish=wish,
                actor=request.user,
                action=action,
                note=data["note"],
                claim_deadline=data["claim_deadline"],
                site_url=_site_url(request),
                **form.public_fields(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, done)
            return _back(pk)
    wish = _review_wish_or_404(request, pk)
    return render(request, "demands/review_detail.html", _review_context(request, wish, review_form=form), status=400)


@login_required
@require_POST
def review_reject(request, pk: int):
    wish = _review_wish_or_404(request, pk)
    form = ReasonForm(request.POST, required=True, label=_("不予受理的原因"))
    if form.is_valid():
        try:
            services.wish_reject(
                wish=wish, actor=request.user, reason=form.cleaned_data["reason"], site_url=_site_url(request)
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("已不予受理，居民会收到短信。"))
            return _back(pk)
    return render(request, "demands/review_detail.html", _review_context(request, wish, reject_form=form), status=400)


@login_required
@require_POST
def review_invite(request, pk: int):
    wish = _review_wish_or_404(request, pk)
    member_id = request.POST.get("member", "")
    candidate_id = parse_id(member_id)
    member = selectors.match_candidates(wish).filter(pk=candidate_id).first() if candidate_id else None
    if member is None:
        raise Http404(_("找不到该党员。"))
    try:
        sent = services.wish_invite(wish=wish, member=member, actor=request.user, site_url=_site_url(request))
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        if sent:
            messages.success(request, _("已邀请%(name)s认领。") % {"name": member.name})
        else:
            messages.info(request, _("已经邀请过%(name)s。") % {"name": member.name})
    return _back(pk)


@login_required
@require_POST
def review_confirm(request, pk: int):
    wish = _review_wish_or_404(request, pk)
    try:
        services.wish_confirm_service(wish=wish, actor=request.user)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, _("已确认服务，服务记录和积分已生效。"))
    return _back(pk)


@login_required
@require_POST
def review_block(request, pk: int):
    wish = _review_wish_or_404(request, pk)
    form = ReasonForm(request.POST, required=True)
    if not form.is_valid():
        messages.error(request, _("请填写停止受理的原因。"))
        return _back(pk)
    try:
        services.phone_block(wish=wish, actor=request.user, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, _("该手机号今后不能再在线提交心愿。"))
    return _back(pk)


# --- Service offers (供给清单) ------------------------------------------------------------------------------------


@require_GET
def offers(request):
    filter_form = WallFilterForm(request.GET or None)
    filters = filter_form.filters()
    rows = selectors.public_offers(category=filters.get("category"), community=filters.get("community"))
    page = Paginator(rows, WALL_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "demands/offers.html", {"filter_form": filter_form, "page": page})


def _offer_data(form) -> dict:
    data = form.cleaned_data
    keys = ("title", "category", "description", "community", "available_time", "team", "active")
    return {k: data[k] for k in keys}


@login_required
@require_http_methods(["GET", "POST"])
def my_offers(request):
    member = _require_member(request)
    form = OfferForm(request.POST if request.method == "POST" else None, member=member)
    if request.method == "POST" and form.is_valid():
        try:
            services.offer_create(member=member, **_offer_data(form))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("服务清单已发布，居民可以向您点单。"))
            return redirect("demands:my_offers")
    context = {"form": form, "offers": list(selectors.offers_of(member))}
    return render(request, "demands/my_offers.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def offer_edit(request, pk: int):
    member = _require_member(request)
    offer = selectors.offers_of(member).filter(pk=pk).first()
    if offer is None:
        raise Http404(_("找不到该服务。"))
    form = OfferForm(request.POST if request.method == "POST" else None, member=member, offer=offer)
    if request.method == "POST" and form.is_valid():
        try:
            services.offer_update(offer=offer, member=member, **_offer_data(form))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("已保存。"))
            return redirect("demands:my_offers")
    return render(request, "demands/offer_form.html", {"form": form, "offer": offer})


# --- Pairings (结对帮扶) ------------------------------------------------------------------------------------------


@login_required
@require_GET
def my_pairings(request):
    member = _require_member(request)
    pairings = list(selectors.pairings_of(member))
    if pairings:  # the page shows each household's address and phone in full: one audit event for all of them
        audit_record(
            action=AuditEvent.Action.FULL_DATA_VIEW,
            request=request,
            object_type="demands.household",
            object_repr=str(_("结对户联系方式")),
            detail={"households": sorted({p.household_id for p in pairings})},
        )
    context = {"pairings": pairings, "visits": list(selectors.recent_visits(member))}
    return render(request, "demands/my_pairings.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def visit_new(request, pk: int):
    member = _require_member(request)
    pairing = selectors.pairings_of(member).filter(pk=pk).first()
    if pairing is None:
        raise Http404(_("找不到该结对。"))
    form = VisitForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.pairing_visit_log(
                pairing=pairing,
                member=member,
                start=data["start"],
                end=data["end"],
                hours=data["hours"],
                summary=data["summary"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("走访已登记，服务记录等待社区确认。"))
            return redirect("demands:my_pairings")
    return render(request, "demands/visit_form.html", {"form": form, "pairing": pairing})

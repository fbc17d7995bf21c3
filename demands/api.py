"""The demands app in the JSON API (/api/v1/): the residents' form, tracking and rating, the wish wall and the
members' claims, the public list of service offers, and the secretaries' review queue.

Beside views.py and as thin: the same forms validate, the same selectors scope (404 outside), the same services
write, the same rate limits count; the serializers only shape the answer and show no more than the page does.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes, permission_classes
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from core import page_params, public_cache, ratelimit
from core.api import (
    CursorPage,
    ErrorSerializer,
    conditional,
    cursor_page,
    error_body,
    etagged,
    form_data,
    form_invalid,
    form_schema,
    service_invalid,
    too_many,
)
from members.selectors import member_for

from . import selectors, services
from .forms import (
    WRONG_TRACKING_ANSWER,
    ClaimForm,
    FeedbackForm,
    FulfilForm,
    ReasonForm,
    ReviewForm,
    TrackForm,
    WallFilterForm,
    WishForm,
)
from .models import MicroWish, ServiceOffer
from .views import (
    WALL_PAGE_SIZE,
    WALL_PARAMS,
    _audit_contact_view,
    _is_secretary,
    _require_member,
    _site_url,
)

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}
LIMITED = {**ERRORS, 429: ErrorSerializer}


def _blocked() -> Response:
    return Response(error_body(_("暂时无法受理来自该网络的提交。"), "permission_denied"), status=403)


# --- Output -------------------------------------------------------------------------------------------------------


class WishCardSerializer(serializers.ModelSerializer):
    """A wish as the wall shows it: the public text the secretary checked, never the resident's contact."""

    title = serializers.CharField(source="public_title")
    description = serializers.CharField(source="public_description")
    category = serializers.CharField(source="category.name")
    community = serializers.CharField(source="community.name")
    grid = serializers.CharField(source="grid.name", allow_null=True, default=None)
    state_display = serializers.CharField(source="get_state_display")
    target_group_display = serializers.CharField(source="get_target_group_display")

    class Meta:
        model = MicroWish
        fields = [
            "id",
            "title",
            "description",
            "category",
            "community",
            "grid",
            "target_group",
            "target_group_display",
            "preferred_time",
            "state",
            "state_display",
            "published_at",
            "claim_deadline",
        ]


class ContactSerializer(serializers.Serializer):
    name = serializers.CharField()
    phone = serializers.CharField()


class WishDetailSerializer(WishCardSerializer):
    claimer_name = serializers.SerializerMethodField()
    is_claimer = serializers.SerializerMethodField()
    contact = serializers.SerializerMethodField()

    class Meta(WishCardSerializer.Meta):
        fields = [
            *WishCardSerializer.Meta.fields,
            "claimed_at",
            "fulfilled_at",
            "claimer_name",
            "is_claimer",
            "contact",
        ]

    def get_claimer_name(self, wish) -> str:
        return self.context["claimer_name"]

    def get_is_claimer(self, wish) -> bool:
        member = self.context["member"]
        return member is not None and wish.claimed_by_id == member.pk

    @extend_schema_field(ContactSerializer(allow_null=True))
    def get_contact(self, wish) -> dict | None:
        """The resident's contact, to the claimer and the secretaries in scope only (each look is logged)."""
        if self.context["contact_role"] is None or not wish.contact_phone:
            return None
        return {"name": wish.contact_name, "phone": wish.contact_phone}


class EventSerializer(serializers.Serializer):
    to_state = serializers.CharField()
    to_state_display = serializers.CharField(source="get_to_state_display")
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class TrackedWishSerializer(serializers.ModelSerializer):
    """The resident's own wish, as the tracking page shows it."""

    category = serializers.CharField(source="category.name")
    community = serializers.CharField(source="community.name")
    state_display = serializers.CharField(source="get_state_display")
    events = serializers.SerializerMethodField()
    can_withdraw = serializers.SerializerMethodField()

    class Meta:
        model = MicroWish
        fields = [
            "tracking_code",
            "title",
            "description",
            "category",
            "community",
            "state",
            "state_display",
            "reject_reason",
            "created_at",
            "published_at",
            "claimed_at",
            "fulfilled_at",
            "fulfilment_note",
            "events",
            "can_withdraw",
        ]

    def get_events(self, wish) -> list[dict]:
        return EventSerializer(selectors.public_timeline(wish), many=True).data

    def get_can_withdraw(self, wish) -> bool:
        return wish.state in MicroWish.WITHDRAWABLE_STATES


class ReviewWishSerializer(WishCardSerializer):
    """A wish in the secretary's queue (their scope only)."""

    claimer = serializers.CharField(source="claimed_by.name", allow_null=True, default=None)

    class Meta(WishCardSerializer.Meta):
        fields = [*WishCardSerializer.Meta.fields, "created_at", "claimed_at", "claimer"]


# --- Residents ----------------------------------------------------------------------------------------------------

WishInput = form_schema(WishForm, "WishInput", exclude=("website", "offer"))
TrackInput = form_schema(TrackForm, "TrackInput", exclude=("website",))
FeedbackInput = inline_serializer(
    "FeedbackInput",
    {
        "action": serializers.ChoiceField(choices=["rate", "not_yet"], required=False),
        "rating": serializers.IntegerField(min_value=1, max_value=5, required=False),
        "comment": serializers.CharField(max_length=500, required=False, allow_blank=True),
    },
)
Submitted = inline_serializer("WishSubmitted", {"tracking_code": serializers.CharField()})


@extend_schema(
    operation_id="wish_submit",
    summary="提交微心愿（居民，无需登录）",
    request=WishInput,
    responses={201: Submitted, 403: ErrorSerializer, **LIMITED},
    auth=[],
)
@api_view(["POST"])
def wish_submit(request):
    """The public form's submission: the same form, the same per-address and per-phone limits, the same service."""
    ip = ratelimit.client_ip(request)
    if selectors.address_blocked(ip):
        return _blocked()
    verdict = ratelimit.hit("WISH_SUBMIT_IP_LIMIT", ip)
    if not verdict.allowed:
        return too_many(verdict.retry_after)
    form = WishForm(form_data(request))
    if not form.is_valid():
        return form_invalid(form)
    phone_hash = form.cleaned_data["phone_hash"]
    verdict = ratelimit.peek("WISH_SUBMIT_PHONE_LIMIT", phone_hash)
    if not verdict.allowed:
        return too_many(verdict.retry_after)
    wish = services.wish_submit(**form.submission(), site_url=_site_url(request))
    ratelimit.hit("WISH_SUBMIT_PHONE_LIMIT", phone_hash)
    return Response({"tracking_code": wish.tracking_code}, status=status.HTTP_201_CREATED)


@extend_schema(
    operation_id="wish_track",
    summary="查询心愿进度（查询码 + 手机号后四位）",
    request=TrackInput,
    responses={200: TrackedWishSerializer, **LIMITED},
    auth=[],
)
@api_view(["POST"])
def wish_track(request):
    """POST, not GET: the phone's last digits stay out of addresses and logs. A wrong code and wrong digits answer
    alike, and both count against the code's limit."""
    ip = ratelimit.client_ip(request)
    if selectors.address_blocked(ip):
        return _blocked()
    verdict = ratelimit.hit("WISH_TRACK_IP_LIMIT", ip)
    if not verdict.allowed:
        return too_many(verdict.retry_after)
    form = TrackForm(form_data(request))
    if not form.is_valid():
        return form_invalid(form)
    code = selectors.normalize_code(form.cleaned_data["code"])
    verdict = ratelimit.peek("WISH_TRACK_CODE_LIMIT", code)
    if not verdict.allowed:
        return too_many(verdict.retry_after)
    wish = selectors.wish_for_tracking(code, form.cleaned_data["last4"])
    if wish is None:
        ratelimit.hit("WISH_TRACK_CODE_LIMIT", code)
        return Response(error_body(WRONG_TRACKING_ANSWER, "not_found"), status=status.HTTP_404_NOT_FOUND)
    return Response(TrackedWishSerializer(wish).data)


@extend_schema(
    methods=["GET"],
    operation_id="wish_feedback_show",
    summary="评价链接对应的心愿",
    responses={200: WishCardSerializer, **LIMITED},
    auth=[],
)
@extend_schema(
    methods=["POST"],
    operation_id="wish_feedback",
    summary="居民确认和评价（短信中的评价链接令牌）",
    request=FeedbackInput,
    responses={200: WishCardSerializer, **LIMITED},
    auth=[],
)
@api_view(["GET", "POST"])
def wish_feedback(request, token: str):
    """GET: the wish the link is for; POST: rate it (action "rate", 1-5) or say it is not yet done ("not_yet")."""
    ip = ratelimit.client_ip(request)
    if request.method == "POST" and selectors.address_blocked(ip):
        return _blocked()
    verdict = ratelimit.peek("WISH_FEEDBACK_IP_LIMIT", ip)
    if not verdict.allowed:
        return too_many(verdict.retry_after)
    wish = selectors.wish_for_feedback(token)
    if wish is None or request.method == "POST":
        ratelimit.hit("WISH_FEEDBACK_IP_LIMIT", ip)
    if wish is None:
        raise Http404
    if request.method == "GET":
        return Response(WishCardSerializer(wish).data)
    data = form_data(request)
    form = FeedbackForm(data)
    if not form.is_valid():
        return form_invalid(form)
    if data.get("action") == "not_yet":
        wish = services.wish_report_unfulfilled(
            token=token, comment=form.cleaned_data["comment"], site_url=_site_url(request)
        )
    else:
        if not form.cleaned_data.get("rating"):
            return service_invalid(ValidationError({"rating": _("请选择1到5星。")}))
        wish = services.wish_rate(
            token=token,
            rating=form.cleaned_data["rating"],
            comment=form.cleaned_data["comment"],
            site_url=_site_url(request),
        )
    return Response(WishCardSerializer(wish).data)


# --- The wall and claims ------------------------------------------------------------------------------------------

WallFilters = [
    OpenApiParameter(name, int, required=False, description=label)
    for name, label in (("community", "社区（村）"), ("grid", "网格"), ("category", "类别"))
] + [OpenApiParameter("target_group", str, required=False, description="服务对象")]


@extend_schema(
    operation_id="wish_wall",
    summary="心愿墙（公开）",
    parameters=WallFilters,
    responses={200: cursor_page(WishCardSerializer), 304: None, 400: ErrorSerializer, 401: ErrorSerializer},
)
@etagged
@public_cache.public_page(
    "wishes",
    params={**WALL_PARAMS, "cursor": page_params.cursor},
    # the same versions as the wall's page: a wish drops the walls it is or was on (demands/receivers.py)
    objects=lambda query, kwargs: [("wall", query.get("community") or "all")],
)
@api_view(["GET"])
def wall(request):
    """The published wishes, newest first, in cursor pages; kept like the wall's page (the same content for every
    caller: no contact, nothing of the reader); ETag / If-None-Match."""
    form = WallFilterForm(request.query_params or None)
    paginator = CursorPage(ordering=("-published_at", "-pk"), page_size=WALL_PAGE_SIZE)
    page = paginator.paginate_queryset(selectors.wall(**form.filters()), request)
    return paginator.get_paginated_response(WishCardSerializer(page, many=True).data)


class OfferSerializer(serializers.ModelSerializer):
    """A service offer as the public list shows it: the provider's public name (张** unless they consented)."""

    provider = serializers.CharField(source="provider_public_name")
    category = serializers.CharField(source="category.display_name")
    community = serializers.CharField(source="community.name", allow_null=True, default=None)

    class Meta:
        model = ServiceOffer
        fields = ["id", "title", "description", "category", "community", "available_time", "provider", "created_at"]


@extend_schema(
    operation_id="offer_list",
    summary="服务清单（公开，居民可点单）",
    parameters=[p for p in WallFilters if p.name in ("community", "category")],
    responses={200: cursor_page(OfferSerializer), 304: None, 400: ErrorSerializer, 401: ErrorSerializer},
)
@api_view(["GET"])
def offer_list(request):
    """The active offers, newest first, with the page's filters (category, community); ETag / If-None-Match."""
    filters = WallFilterForm(request.query_params or None).filters()
    rows = selectors.public_offers(category=filters.get("category"), community=filters.get("community"))
    paginator = CursorPage(ordering=("-created_at", "-pk"), page_size=WALL_PAGE_SIZE)
    page = paginator.paginate_queryset(rows, request)
    return conditional(request, paginator.get_paginated_response(OfferSerializer(page, many=True).data))


def _public_wish(pk: int) -> MicroWish:
    wish = selectors.public_wish(pk)
    if wish is None:
        raise Http404
    return wish


@extend_schema(operation_id="wish_detail", summary="心愿详情", responses={200: WishDetailSerializer, **ERRORS})
@api_view(["GET"])
def wish_detail(request, pk: int):
    return _detail(request, pk)


def _detail(request, pk: int) -> Response:
    """The wish as `request.user` may see it; a look at the resident's contact is logged as on the page."""
    wish = _public_wish(pk)
    user = request.user
    member = member_for(user)
    role = selectors.can_see_contact(user, wish)
    if role is not None:
        services.contact_access_log(wish=wish, user=user, role=role)
        _audit_contact_view(request, wish, role)
    context = {
        "member": member,
        "contact_role": role,
        "claimer_name": selectors.claimer_name_for(user, wish, contact_role=role),
    }
    return Response(WishDetailSerializer(wish, context=context).data)


ClaimInput = form_schema(ClaimForm, "ClaimInput")
ReasonInput = form_schema(ReasonForm, "ReasonInput")


@extend_schema(
    operation_id="wish_claim",
    summary="认领心愿（党员）",
    request=ClaimInput,
    responses={200: WishDetailSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def wish_claim(request, pk: int):
    """Of many members claiming at once exactly one wins (the service's lock); the others get a 400 saying so."""
    wish = _public_wish(pk)
    member = _require_member(request)
    form = ClaimForm(form_data(request), member=member)
    if not form.is_valid():
        return form_invalid(form)
    services.wish_claim(wish=wish, member=member, team=form.cleaned_data.get("team"), site_url=_site_url(request))
    return _detail(request, pk)


@extend_schema(
    operation_id="wish_release",
    summary="放弃认领",
    request=ReasonInput,
    responses={200: WishDetailSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def wish_release(request, pk: int):
    wish = _public_wish(pk)
    member = _require_member(request)
    form = ReasonForm(form_data(request))
    if not form.is_valid():
        return form_invalid(form)
    services.wish_release(wish=wish, member=member, reason=form.cleaned_data["reason"])
    return _detail(request, pk)


FulfilInput = form_schema(FulfilForm, "FulfilInput")


@extend_schema(
    operation_id="wish_fulfil",
    summary="登记实现情况（认领的党员，可附照片）",
    request={"multipart/form-data": FulfilInput, "application/json": FulfilInput},
    responses={200: WishDetailSerializer, **ERRORS},
)
@api_view(["POST"])
@parser_classes([MultiPartParser, FormParser, JSONParser])
@permission_classes([IsAuthenticated])
def wish_fulfil(request, pk: int):
    wish = _public_wish(pk)
    member = _require_member(request)
    if wish.claimed_by_id != member.pk or wish.state != MicroWish.State.CLAIMED:
        raise Http404
    data = form_data(request)
    data.pop("photos", None)
    form = FulfilForm(data, request.FILES)
    if not form.is_valid():
        return form_invalid(form)
    services.wish_fulfil(wish=wish, member=member, **form.fulfilment(), site_url=_site_url(request))
    return _detail(request, pk)


# --- Review (secretaries) -----------------------------------------------------------------------------------------


def _require_secretary(request) -> None:
    if not _is_secretary(request.user):
        raise PermissionDenied(_("只有社区书记和组织管理员可以审核心愿。"))


@extend_schema(
    operation_id="review_queue",
    summary="心愿审核队列（书记，本辖区）",
    parameters=[OpenApiParameter("tab", str, enum=list(selectors.REVIEW_TABS), required=False)],
    responses={200: cursor_page(ReviewWishSerializer), 304: None, **ERRORS},
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def review_queue(request):
    _require_secretary(request)
    tab = request.query_params.get("tab", "submitted")
    if tab not in selectors.REVIEW_TABS:
        tab = "submitted"
    paginator = CursorPage(ordering=("created_at", "pk"), page_size=50)
    page = paginator.paginate_queryset(selectors.review_queue(request.user, tab=tab), request)
    return conditional(request, paginator.get_paginated_response(ReviewWishSerializer(page, many=True).data))


def _review_wish(request, pk: int) -> MicroWish:
    _require_secretary(request)
    wish = selectors.review_wish(request.user, pk)
    if wish is None:
        raise Http404
    return wish


ReviewInput = inline_serializer(
    "ReviewInput",
    {
        "action": serializers.ChoiceField(choices=list(services.REVIEW_ACTIONS)),
        **form_schema(ReviewForm, "ReviewFields")().get_fields(),
    },
)


@extend_schema(
    operation_id="review_save",
    summary="核实、发布或修改心愿（书记）",
    request=ReviewInput,
    responses={200: ReviewWishSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def review_save(request, pk: int):
    wish = _review_wish(request, pk)
    data = form_data(request)
    form = ReviewForm(data, wish=wish)
    if not form.is_valid():
        return form_invalid(form)
    wish, _done = services.wish_review_save(
        wish=wish,
        actor=request.user,
        action=str(data.get("action", "save")),
        note=form.cleaned_data["note"],
        claim_deadline=form.cleaned_data["claim_deadline"],
        site_url=_site_url(request),
        **form.public_fields(),
    )
    return Response(ReviewWishSerializer(selectors.review_wish(request.user, pk)).data)


@extend_schema(
    operation_id="review_reject",
    summary="不予受理（书记，须填原因）",
    request=ReasonInput,
    responses={200: ReviewWishSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def review_reject(request, pk: int):
    wish = _review_wish(request, pk)
    form = ReasonForm(form_data(request), required=True, label=_("不予受理的原因"))
    if not form.is_valid():
        return form_invalid(form)
    services.wish_reject(wish=wish, actor=request.user, reason=form.cleaned_data["reason"], site_url=_site_url(request))
    return Response(ReviewWishSerializer(selectors.review_wish(request.user, pk)).data)

"""The incentives app in the JSON API (/api/v1/): the rewards catalogue, redeeming and cancelling a redemption, and
the member's star standing with their ratings.

Beside views.py and as thin: the same selectors find the item and say why it cannot be redeemed, the same
services take the stock and the points under their locks (of 20 members redeeming the last 5 units, 5 get one),
and the answers show what /rewards/ and /me/points/ show the member.
"""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from core.api import CursorPage, ErrorSerializer, conditional, cursor_page, form_data
from members.api import api_member

from . import selectors, services
from .models import CatalogueItem, Redemption, StarRating

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}
PAGE_SIZE = 20


class CatalogueItemSerializer(serializers.ModelSerializer):
    """An item as /rewards/ shows it, with `blocker`: why the member cannot redeem it now ('' when they can)."""

    name = serializers.CharField(source="display_name")
    description = serializers.CharField(source="display_description")
    kind_display = serializers.CharField(source="get_kind_display")
    taken = serializers.IntegerField(help_text="how many of it the member holds (not cancelled)")
    blocker = serializers.SerializerMethodField()

    class Meta:
        model = CatalogueItem
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "kind_display",
            "points_cost",
            "stock",
            "per_member_limit",
            "min_star_level",
            "pickup_place",
            "opens_at",
            "closes_at",
            "taken",
            "blocker",
        ]

    def get_blocker(self, item) -> str:
        c = self.context
        return selectors.redeem_blocker(item, now=c["now"], balance=c["balance"], stars=c["stars"])


class RedemptionSerializer(serializers.ModelSerializer):
    """The member's redemption as /rewards/ lists it: the pickup code once approved, the reason once cancelled."""

    item = serializers.CharField(source="item.display_name")
    item_id = serializers.IntegerField()
    pickup_place = serializers.CharField(source="item.pickup_place")
    status_display = serializers.CharField(source="get_status_display")
    pickup_code = serializers.SerializerMethodField()
    cancel_reason = serializers.SerializerMethodField()

    class Meta:
        model = Redemption
        fields = [
            "id",
            "item",
            "item_id",
            "points",
            "status",
            "status_display",
            "requested_at",
            "pickup_code",
            "pickup_place",
            "cancel_reason",
        ]

    def get_pickup_code(self, redemption) -> str:
        return redemption.pickup_code if redemption.status == Redemption.Status.APPROVED else ""

    def get_cancel_reason(self, redemption) -> str:
        return redemption.cancel_reason if redemption.status == Redemption.Status.CANCELLED else ""


@extend_schema(
    operation_id="reward_list",
    summary="积分兑换目录（含不能兑换的原因）",
    responses={200: cursor_page(CatalogueItemSerializer), 304: None, **ERRORS},
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def reward_list(request):
    member = api_member(request)
    context = {
        "now": timezone.now(),
        "balance": selectors.balance_of(member).balance,
        "stars": selectors.current_stars(member),
    }
    paginator = CursorPage(ordering=("points_cost", "pk"), page_size=PAGE_SIZE)
    page = paginator.paginate_queryset(selectors.catalogue_for(member), request)
    data = CatalogueItemSerializer(page, many=True, context=context).data
    return conditional(request, paginator.get_paginated_response(data))


@extend_schema(
    operation_id="redemption_list",
    summary="我的兑换",
    responses={200: cursor_page(RedemptionSerializer), 304: None, **ERRORS},
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def redemption_list(request):
    member = api_member(request)
    paginator = CursorPage(ordering=("-requested_at", "-pk"), page_size=PAGE_SIZE)
    page = paginator.paginate_queryset(selectors.redemptions_for(member), request)
    return conditional(request, paginator.get_paginated_response(RedemptionSerializer(page, many=True).data))


RedeemInput = inline_serializer(
    "RedeemInput",
    {
        "token": serializers.CharField(
            max_length=64,
            required=False,
            allow_blank=True,
            help_text="a key of this request: sent again (a retry), the first redemption is answered",
        )
    },
)


@extend_schema(
    operation_id="reward_redeem",
    summary="兑换（立即扣除积分，等待书记审核）",
    request=RedeemInput,
    responses={201: RedemptionSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def reward_redeem(request, pk: int):
    """The stock is taken by the service's conditional UPDATE: it never goes below zero, however many press at once."""
    member = api_member(request)
    item = get_object_or_404(selectors.catalogue_for(member), pk=pk)
    token = str(form_data(request).get("token") or "")[:64]
    redemption = services.redemption_request(
        member=member, item=item, idempotency_key=f"{token}:{item.pk}" if token else None
    )
    redemption = selectors.redemptions_for(member).get(pk=redemption.pk)
    return Response(RedemptionSerializer(redemption).data, status=status.HTTP_201_CREATED)


@extend_schema(
    operation_id="redemption_cancel",
    summary="取消兑换（退还积分）",
    request=None,
    responses={200: RedemptionSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def redemption_cancel(request, pk: int):
    member = api_member(request)
    redemption = get_object_or_404(Redemption, pk=pk, member=member)
    services.redemption_cancel(redemption=redemption, actor=request.user, by_member=True)
    return Response(RedemptionSerializer(selectors.redemptions_for(member).get(pk=redemption.pk)).data)


# --- Stars --------------------------------------------------------------------------------------------------------


class RatingSerializer(serializers.ModelSerializer):
    """A rating as /me/points/ lists it: the period, the value rated and the value the records give now."""

    organization = serializers.CharField(source="run.organization.name")
    period_start = serializers.DateField(source="run.period_start")
    period_end = serializers.DateField(source="run.period_end")
    publicity_ends_on = serializers.DateField(source="run.publicity_ends_on", allow_null=True)
    run_id = serializers.IntegerField()
    status_display = serializers.CharField(source="get_status_display")
    basis_display = serializers.CharField(source="get_basis_display")
    live_value = serializers.SerializerMethodField()
    can_object = serializers.SerializerMethodField()

    class Meta:
        model = StarRating
        fields = [
            "id",
            "run_id",
            "organization",
            "period_start",
            "period_end",
            "publicity_ends_on",
            "status",
            "status_display",
            "basis",
            "basis_display",
            "basis_value",
            "live_value",
            "stars",
            "can_object",
        ]

    def get_live_value(self, rating) -> str:
        return str(self.context["live"].get(rating.pk, rating.basis_value))

    def get_can_object(self, rating) -> bool:
        return selectors.can_object(rating, self.context["today"])


class StarsSerializer(serializers.Serializer):
    stars = serializers.IntegerField(help_text="the stars of the latest final rating (0 when never rated)")
    current = RatingSerializer(allow_null=True)
    publicity = RatingSerializer(allow_null=True, help_text="a rating in its 公示, shown beside the current stars")
    ratings = RatingSerializer(many=True)


@extend_schema(
    operation_id="me_stars",
    summary="我的星级与评定（含公示中的评定）",
    responses={200: StarsSerializer, **ERRORS},
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def stars(request):
    """What /me/points/ shows of the stars: the same selectors (ratings_for, star_standing_of, rating_live_values)."""
    member = api_member(request)
    ratings = list(selectors.ratings_for(member))
    standing = selectors.star_standing_of(ratings)
    context = {"live": selectors.rating_live_values(member, ratings), "today": timezone.localdate()}
    payload = {
        "stars": standing.stars,
        "current": standing.current,
        "publicity": standing.publicity,
        "ratings": ratings,
    }
    return Response(StarsSerializer(payload, context=context).data)

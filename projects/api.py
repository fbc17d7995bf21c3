"""The projects app in the JSON API (/api/v1/): upcoming activities (list with filters, detail), sign-up,
cancellation and check-in.

Beside views.py and as thin: the same selectors find the activity (404 outside what the page shows), the same
services take the seat under their lock, the same check-in form and attempt limit apply.
"""

from django import forms
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from core import page_params, public_cache, ratelimit
from core.api import (
    CursorPage,
    ErrorSerializer,
    cursor_page,
    etagged,
    form_data,
    form_invalid,
    form_schema,
    too_many,
)
from core.forms import GuardedForm
from members.selectors import member_for

from . import selectors, services
from .forms import CheckInForm
from .models import Activity, SignUp
from .views import LIST_TIMEOUT

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}
PAGE_SIZE = 20


class ActivitySerializer(serializers.ModelSerializer):
    """An activity as its page shows it to anyone (no check-in code, no place coordinates)."""

    title = serializers.CharField(source="display_title")
    project = serializers.CharField(source="project.slug")
    project_title = serializers.CharField(source="project.title")
    seats_left = serializers.IntegerField()
    waitlisted = serializers.IntegerField(source="waitlisted_count")
    phase = serializers.SerializerMethodField()
    phase_display = serializers.SerializerMethodField()

    class Meta:
        model = Activity
        fields = [
            "id",
            "title",
            "project",
            "project_title",
            "starts_at",
            "ends_at",
            "place",
            "capacity",
            "seats_left",
            "waitlisted",
            "signup_opens_at",
            "signup_closes_at",
            "cancel_cutoff_at",
            "signout_required",
            "phase",
            "phase_display",
        ]

    def get_phase(self, activity) -> str:
        return activity.phase(self.context["now"]).value

    def get_phase_display(self, activity) -> str:
        return str(activity.phase(self.context["now"]).label)


class MySignUpSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display")

    class Meta:
        model = SignUp
        fields = ["status", "status_display", "created_at", "checked_in_at", "checked_out_at"]


class ActivityDetailSerializer(ActivitySerializer):
    my_signup = serializers.SerializerMethodField()
    waitlist_rank = serializers.SerializerMethodField()

    class Meta(ActivitySerializer.Meta):
        fields = [*ActivitySerializer.Meta.fields, "my_signup", "waitlist_rank"]

    def get_my_signup(self, activity) -> MySignUpSerializer(allow_null=True):  # type: ignore[valid-type]
        signup = self.context["signup"]
        return MySignUpSerializer(signup).data if signup is not None else None

    def get_waitlist_rank(self, activity) -> int | None:
        signup = self.context["signup"]
        if signup is None or signup.status != SignUp.Status.WAITLISTED:
            return None
        return selectors.waitlist_rank(signup)


class ActivityFilterForm(GuardedForm):
    project = forms.IntegerField(label=_("服务项目"), required=False, min_value=1)
    community = forms.IntegerField(label=_("社区（村）"), required=False, min_value=1)
    date_from = forms.DateField(label=_("开始日期"), required=False)
    date_to = forms.DateField(label=_("结束日期"), required=False)


@extend_schema(
    operation_id="activity_list",
    summary="即将开始的活动（公开，可筛选）",
    parameters=[
        OpenApiParameter("project", int, required=False, description="服务项目编号"),
        OpenApiParameter("community", int, required=False, description="社区（村）编号"),
        OpenApiParameter("date_from", str, required=False, description="YYYY-MM-DD"),
        OpenApiParameter("date_to", str, required=False, description="YYYY-MM-DD"),
    ],
    responses={200: cursor_page(ActivitySerializer), 304: None, 400: ErrorSerializer, 401: ErrorSerializer},
)
@etagged
@public_cache.public_page(
    "projects",
    timeout=LIST_TIMEOUT,  # seats on the list follow within a minute, as on /projects/; an activity's own is exact
    params={
        "project": page_params.an_id,
        "community": page_params.an_id,
        "date_from": page_params.iso_date,
        "date_to": page_params.iso_date,
        "cursor": page_params.cursor,
    },
)
@api_view(["GET"])
def activity_list(request):
    """Upcoming activities, soonest first, in cursor pages; kept a minute like /projects/ (the seats on the list
    follow within it; `GET /activities/<id>/` is exact); ETag / If-None-Match."""
    form = ActivityFilterForm(request.query_params)
    form.is_valid()
    # A filter that is not a valid value is left out, as the page cache leaves it out of the key: the same answer
    # whether or not the list comes from the cache.
    filters = {name: value for name, value in form.cleaned_data.items() if name not in form.errors}
    paginator = CursorPage(ordering=("starts_at", "pk"), page_size=PAGE_SIZE)
    page = paginator.paginate_queryset(selectors.activity_list(**filters), request)
    data = ActivitySerializer(page, many=True, context={"now": timezone.now()}).data
    return paginator.get_paginated_response(data)


def _activity(request, pk: int) -> Activity:
    activity = selectors.activity_for_page(request.user, pk)
    if activity is None or activity.project.status == "draft":
        raise Http404
    return activity


def _detail(request, pk: int) -> Response:
    activity = _activity(request, pk)
    member = member_for(request.user)
    context = {"now": timezone.now(), "signup": selectors.signup_of(member, activity)}
    return Response(ActivityDetailSerializer(activity, context=context).data)


@extend_schema(operation_id="activity_detail", summary="活动详情", responses={200: ActivityDetailSerializer, **ERRORS})
@api_view(["GET"])
def activity_detail(request, pk: int):
    return _detail(request, pk)


def _member(request):
    member = member_for(request.user)
    if member is None:
        raise NotFound(_("只有党员可以报名参加活动。"))  # as the page: 404 for an account without a member record
    return member


@extend_schema(
    operation_id="activity_signup",
    summary="报名（名额满时进入候补）",
    request=None,
    responses={200: ActivityDetailSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def activity_signup(request, pk: int):
    """Of 200 members signing up for 20 seats at once, 20 are confirmed and the rest wait (the service's lock)."""
    member = _member(request)
    activity = selectors.activity_for_action(request.user, pk)
    if activity is None or activity.project.status == "draft":
        raise Http404
    services.signup_create(activity=activity, member=member)
    return _detail(request, pk)


@extend_schema(
    operation_id="activity_cancel",
    summary="取消报名或退出候补",
    request=None,
    responses={200: ActivityDetailSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def activity_cancel(request, pk: int):
    member = _member(request)
    activity = selectors.activity_for_action(request.user, pk)
    if activity is None or activity.project.status == "draft":
        raise Http404
    signup = SignUp.objects.filter(
        activity=activity, member=member, status__in=(SignUp.Status.CONFIRMED, SignUp.Status.WAITLISTED)
    ).first()
    if signup is None:
        raise Http404
    services.signup_cancel(signup=signup)
    return _detail(request, pk)


CheckInInput = form_schema(CheckInForm, "CheckInInput")


@extend_schema(
    operation_id="activity_checkin",
    summary="签到（扫码令牌或签到码，可附位置）",
    request=CheckInInput,
    responses={200: ActivityDetailSerializer, 429: ErrorSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def activity_checkin(request, pk: int):
    member = _member(request)
    activity = _activity(request, pk)
    verdict = ratelimit.hit("CHECKIN_ATTEMPT_LIMIT", f"{member.pk}:{activity.pk}")
    if not verdict.allowed:
        return too_many(verdict.retry_after)
    form = CheckInForm(form_data(request))
    if not form.is_valid():
        return form_invalid(form)
    services.signup_check_in(
        activity=activity,
        member=member,
        code=form.cleaned_data["code"],
        token=form.cleaned_data["token"],
        position=form.position(),
    )
    return _detail(request, pk)

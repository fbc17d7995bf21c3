"""The projects app in the JSON API (/api/v1/): upcoming activities (list with filters, detail), sign-up,
cancellation and check-in; posts (claim, skip a date, leave); for secretaries, the attendance sheet of an activity
in scope and the approval queue of self-reports (which the web has in the admin: the same scope,
visible_self_reports, and the same services).

Beside views.py and as thin: the same selectors find the activity (404 outside what the page shows), the same
services take the seat under their lock, the same check-in form and attempt limit apply.
"""

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from core import page_params, public_cache, ratelimit
from core.api import (
    CursorPage,
    ErrorSerializer,
    conditional,
    cursor_page,
    etagged,
    form_data,
    form_invalid,
    form_schema,
    too_many,
)
from core.forms import GuardedForm
from members.api import api_member
from members.forms import ReasonActionForm
from members.selectors import member_for

from . import selectors, services
from .forms import CheckInForm, PostSkipForm, attendance_marks
from .models import Activity, Post, PostClaim, SelfReport, SignUp
from .views import LIST_TIMEOUT, _organized_activity

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
    return api_member(request, _("只有党员可以报名参加活动。"))  # the page's own words (projects/no_member.html)


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


# --- Secretaries: the attendance sheet ------------------------------------------------------------------------------


class AttendanceRowSerializer(serializers.ModelSerializer):
    """A seat holder as the attendance sheet shows them to the organizer."""

    name = serializers.CharField(source="member.name")
    volunteer_number = serializers.CharField(source="member.volunteer_number")
    organization = serializers.CharField(source="member.organization.name")
    team = serializers.CharField(source="team.name", allow_null=True, default=None)
    status_display = serializers.CharField(source="get_status_display")
    default_hours = serializers.SerializerMethodField()

    class Meta:
        model = SignUp
        fields = [
            "id",
            "name",
            "volunteer_number",
            "organization",
            "team",
            "status",
            "status_display",
            "checked_in_at",
            "checked_out_at",
            "checkin_distance_m",
            "hours",
            "default_hours",
        ]

    def get_default_hours(self, signup) -> str | None:
        """The hours the sheet proposes (null: the member checked in and never signed out; type their hours)."""
        hours = services.default_hours(signup, self.context["activity"])
        return None if hours is None else str(hours)


class AttendanceSheetSerializer(serializers.Serializer):
    detail = serializers.CharField(required=False, help_text="after saving: the page's confirmation")
    unverified = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="whose hours another administrator must confirm"
    )
    activity = ActivitySerializer()
    length_hours = serializers.DecimalField(max_digits=6, decimal_places=2)
    started = serializers.BooleanField(help_text="attendance opens at the start")
    rows = AttendanceRowSerializer(many=True)


def _sheet(activity: Activity, **extra) -> Response:
    rows = list(selectors.attendance_rows(activity))
    now = timezone.now()
    context = {"now": now, "activity": activity}
    payload = {
        **extra,
        "activity": activity,
        "length_hours": activity.length_hours,
        "started": now >= activity.starts_at,
        "rows": rows,
    }
    return Response(AttendanceSheetSerializer(payload, context=context).data)


@extend_schema(
    operation_id="attendance_sheet",
    summary="考勤表（本辖区组织的活动）",
    responses={200: AttendanceSheetSerializer, 304: None, **ERRORS},
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def attendance_sheet(request, pk: int):
    return conditional(request, _sheet(_organized_activity(request, pk)))


AttendanceInput = inline_serializer(
    "AttendanceInput",
    {
        "mark-<sign-up id>": serializers.ChoiceField(
            choices=[SignUp.Status.ATTENDED, SignUp.Status.NO_SHOW],
            required=False,
            help_text="the sheet's fields, one pair per seat holder: mark-<id> attended or no_show (anything else: "
            "no mark), hours-<id> the hours of an attended member (blank: the proposed hours)",
        ),
        "hours-<sign-up id>": serializers.CharField(required=False, allow_blank=True),
    },
)


@extend_schema(
    operation_id="attendance_submit",
    summary="提交考勤（确认时长并发放积分）",
    request=AttendanceInput,
    responses={200: AttendanceSheetSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def attendance_submit(request, pk: int):
    activity = _organized_activity(request, pk)
    marks = attendance_marks(form_data(request), selectors.attendance_rows(activity))
    result = services.attendance_submit(activity=activity, marks=marks, actor=request.user)
    detail = _("考勤已保存：已到 %(attended)d 人，缺席 %(absent)d 人；服务时长已确认，积分已发放。") % {
        "attended": len(result.attended),
        "absent": len(result.no_show),
    }
    return _sheet(activity, detail=detail, unverified=[s.member.name for s in result.unverified])


# --- Secretaries: self-reports --------------------------------------------------------------------------------------


def _require_organizer(request) -> None:
    if not selectors.is_organizer(request.user):
        raise PermissionDenied(_("只有书记和组织管理员可以审核自主申报。"))


class SelfReportSerializer(serializers.ModelSerializer):
    """A self-report as the approval queue (the admin's) lists it."""

    member = serializers.CharField(source="member.name")
    volunteer_number = serializers.CharField(source="member.volunteer_number")
    organization = serializers.CharField(source="organization.name")
    project = serializers.CharField(source="project.title", allow_null=True, default=None)
    status_display = serializers.CharField(source="get_status_display")

    class Meta:
        model = SelfReport
        fields = [
            "id",
            "member",
            "volunteer_number",
            "organization",
            "project",
            "started_at",
            "ended_at",
            "place",
            "content",
            "hours",
            "status",
            "status_display",
            "review_note",
        ]


def _reports(request):
    return selectors.visible_self_reports(request.user).select_related("member", "organization", "project")


@extend_schema(
    operation_id="self_report_queue",
    summary="待审核的自主申报（本辖区）",
    responses={200: cursor_page(SelfReportSerializer), 304: None, **ERRORS},
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def self_report_queue(request):
    _require_organizer(request)
    paginator = CursorPage(ordering=("started_at", "pk"), page_size=PAGE_SIZE)
    rows = _reports(request).filter(status=SelfReport.Status.PENDING)
    page = paginator.paginate_queryset(rows, request)
    return conditional(request, paginator.get_paginated_response(SelfReportSerializer(page, many=True).data))


def _report(request, pk: int) -> SelfReport:
    _require_organizer(request)
    return get_object_or_404(_reports(request), pk=pk)


@extend_schema(
    operation_id="self_report_approve",
    summary="通过自主申报（确认时长并发放积分）",
    request=None,
    responses={200: SelfReportSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def self_report_approve(request, pk: int):
    report = services.self_report_approve(report=_report(request, pk), actor=request.user)
    return Response(SelfReportSerializer(_reports(request).get(pk=report.pk)).data)


RejectInput = form_schema(ReasonActionForm, "SelfReportRejectInput")


@extend_schema(
    operation_id="self_report_reject",
    summary="不通过自主申报（填写原因）",
    request=RejectInput,
    responses={200: SelfReportSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def self_report_reject(request, pk: int):
    report = _report(request, pk)
    form = ReasonActionForm(form_data(request))
    if not form.is_valid():
        return form_invalid(form)
    services.self_report_reject(report=report, actor=request.user, reason=form.cleaned_data["reason"])
    return Response(SelfReportSerializer(_reports(request).get(pk=report.pk)).data)


# --- Posts ----------------------------------------------------------------------------------------------------------


class MissedSerializer(serializers.Serializer):
    activity = serializers.IntegerField()
    starts_at = serializers.DateTimeField()
    reason = serializers.CharField()


class PostClaimSerializer(serializers.ModelSerializer):
    """The member's claim of a post, and after claiming: the activities signed up to and the dates missed (why)."""

    post = serializers.IntegerField(source="post_id")
    post_title = serializers.CharField(source="post.title")
    status_display = serializers.CharField(source="get_status_display")
    detail = serializers.CharField(required=False)
    signed_up = serializers.ListField(child=serializers.IntegerField(), required=False, help_text="activity ids")
    missed = MissedSerializer(many=True, required=False)

    class Meta:
        model = PostClaim
        fields = ["id", "post", "post_title", "status", "status_display", "claimed_at", "left_at", "detail"]
        fields += ["signed_up", "missed"]


def _post(request, pk: int) -> Post:
    post = get_object_or_404(Post.objects.select_related("project"), pk=pk)
    if post.project.status == "draft":
        raise Http404
    return post


def _my_claim(member, pk: int) -> PostClaim:
    return get_object_or_404(
        PostClaim.objects.select_related("post"), post_id=pk, member=member, status=PostClaim.Status.ACTIVE
    )


def _claim_answer(claim: PostClaim, **extra) -> Response:
    data = PostClaimSerializer(claim).data
    data.update(extra)
    return Response(data)


@extend_schema(
    operation_id="post_claim",
    summary="认领岗位（报名其之后的每场活动）",
    request=None,
    responses={200: PostClaimSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def post_claim(request, pk: int):
    member = _member(request)
    post = _post(request, pk)
    result = services.post_claim(post=post, member=member)
    confirmed = [s for s in result.signed_up if s.status == SignUp.Status.CONFIRMED]
    detail = _("已认领岗位“%(post)s”，并为您报名了 %(n)d 场活动。") % {"post": post.title, "n": len(confirmed)}
    missed = [{"activity": a.pk, "starts_at": a.starts_at, "reason": str(reason)} for a, reason in result.missed]
    return _claim_answer(
        result.claim,
        detail=detail,
        signed_up=[s.activity_id for s in result.signed_up],
        missed=MissedSerializer(missed, many=True).data,
    )


PostSkipInput = form_schema(PostSkipForm, "PostSkipInput")


@extend_schema(
    operation_id="post_skip",
    summary="岗位请假（不参加某一天）",
    request=PostSkipInput,
    responses={200: PostClaimSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def post_skip(request, pk: int):
    claim = _my_claim(_member(request), pk)
    form = PostSkipForm(form_data(request))
    if not form.is_valid():
        return form_invalid(form)
    day = form.cleaned_data["day"]
    services.post_skip(claim=claim, day=day)
    return _claim_answer(claim, detail=_("已请假：%(day)s。") % {"day": day.strftime("%Y-%m-%d")})


@extend_schema(
    operation_id="post_leave",
    summary="退出岗位（取消之后的活动报名）",
    request=None,
    responses={200: PostClaimSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def post_leave(request, pk: int):
    claim = services.post_leave(claim=_my_claim(_member(request), pk))
    return _claim_answer(claim, detail=_("已退出该岗位，之后的活动报名已取消。"))

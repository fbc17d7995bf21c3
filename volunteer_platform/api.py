"""The site's part of the JSON API (/api/v1/): signing a device in by SMS code (a token with expiry, rotation and
revocation; the mini-program's WeChat sign-in is api_wechat.py), and the member's own pages composed from several
apps: me, records, points, inbox.

The same services and limits as the sign-in pages (auth_views) and the portal (portal_views): the figures come
from the one selector each, so the app and /me/ always show the same hours, points and stars.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from audit import selectors as audit_selectors
from audit import services as audit_services
from audit.api_auth import token_user
from audit.models import ApiToken, AuditEvent
from core import member_cache, ratelimit
from core.api import (
    CursorPage,
    ErrorSerializer,
    conditional,
    cursor_page,
    form_data,
    form_invalid,
    form_schema,
    invalid,
    too_many,
)
from incentives import selectors as incentive_selectors
from incentives.models import LedgerEntry
from members import selectors as member_selectors
from members import services as member_services
from members import wechat
from members.api import api_member
from members.models import ServiceRecord, SignInCodePurpose, WeChatApp
from notifications import services as notification_services
from notifications.models import Notification
from notifications.rendering import render_message
from notifications.selectors import inbox_for, unread_count

from . import selectors
from .auth_views import _limits_allow
from .forms import ApiCodeRequestForm, CodeForm, CodeRequestForm
from .portal_views import _certificate_response

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}
LIMITED = {**ERRORS, 429: ErrorSerializer}

# --- Signing a device in ------------------------------------------------------------------------------------------

CodeRequestInput = form_schema(ApiCodeRequestForm, "SmsCodeInput")
Accepted = inline_serializer(
    "SmsCodeAccepted", {"detail": serializers.CharField(), "expires_in": serializers.IntegerField()}
)


@extend_schema(
    operation_id="auth_sms_code",
    summary="发送短信验证码（登录，或绑定微信小程序）",
    description="purpose: `sign_in` (the default) for /auth/token/, `wechat_bind` for /auth/wechat/bind/ "
    "(404 when the mini-program is not set up).",
    request=CodeRequestInput,
    responses={202: Accepted, **LIMITED},
    auth=[],
)
@api_view(["POST"])
def sms_code(request):
    """The same answer whether or not the number is known (no enumeration); the page's limits per number and
    per address, whatever the purpose."""
    verdict = ratelimit.hit("SIGN_IN_CODE_IP_LIMIT", ratelimit.client_ip(request))
    if not verdict.allowed:
        return too_many(verdict.retry_after)
    form = ApiCodeRequestForm(form_data(request))
    if not form.is_valid():
        return form_invalid(form)
    purpose = form.cleaned_data["purpose"]
    if purpose == SignInCodePurpose.WECHAT_BIND and wechat.credentials(WeChatApp.MINI_PROGRAM) is None:
        raise Http404
    verdict = _limits_allow(form.cleaned_data["phone"])
    if not verdict.allowed:
        return too_many(verdict.retry_after)
    member_services.sign_in_code_request(phone=form.cleaned_data["phone"], purpose=purpose)
    return Response(
        {"detail": _("如果该号码已登记，验证码已发出。"), "expires_in": settings.SIGN_IN_CODE_TTL_SECONDS},
        status=status.HTTP_202_ACCEPTED,
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Authorization: Bearer <token>; shown only once")
    token_id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


TokenInput = inline_serializer(
    "TokenInput",
    {
        "phone": serializers.CharField(max_length=20),
        "code": serializers.CharField(max_length=12),
        "device": serializers.CharField(max_length=60, required=False, allow_blank=True),
    },
)


def _token_answer(row: ApiToken, token: str, code: int = status.HTTP_201_CREATED) -> Response:
    return Response(
        TokenSerializer({"token": token, "token_id": row.pk, "expires_at": row.expires_at}).data, status=code
    )


@extend_schema(
    operation_id="auth_token",
    summary="用短信验证码换取设备令牌",
    request=TokenInput,
    responses={201: TokenSerializer, **LIMITED},
    auth=[],
)
@api_view(["POST"])
def token(request):
    """A right code gives a token for this device (the code is used up). An account that gives a second factor
    at sign-in signs in on the site, not here: the API has no second-factor step yet."""
    verdict = ratelimit.hit("SIGN_IN_CODE_CHECK_IP_LIMIT", ratelimit.client_ip(request))
    if not verdict.allowed:
        return too_many(verdict.retry_after)
    data = form_data(request)
    phone_form, code_form = CodeRequestForm(data), CodeForm(data)
    if not (phone_form.is_valid() & code_form.is_valid()):
        errors = {**phone_form.errors, **code_form.errors}
        phone_form._errors = errors  # one answer with both forms' fields
        return form_invalid(phone_form)
    try:
        user = member_services.sign_in_code_check(
            phone=phone_form.cleaned_data["phone"], code=code_form.cleaned_data["code"]
        )
    except ValidationError as exc:  # on the code's field, as the page shows it
        return invalid({"code": [str(m) for m in exc.messages]})
    if selectors.second_factor_owed(user):
        raise PermissionDenied(_("该账号登录需要两步验证，请在网页上登录。"))
    device = str(data.get("device") or "")[:60]
    row, secret = audit_services.api_token_issue(user=user, device=device)
    audit_services.audit_record(
        action=AuditEvent.Action.LOGIN, request=request._request, user=user, detail={"via": "api", "token": row.pk}
    )
    return _token_answer(row, secret)


@extend_schema(
    operation_id="auth_token_rotate",
    summary="轮换设备令牌（旧令牌立即失效）",
    request=None,
    responses={201: TokenSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def token_rotate(request):
    if not isinstance(request.auth, ApiToken):
        raise PermissionDenied(_("只有用设备令牌登录的请求可以轮换令牌。"))
    row, secret = audit_services.api_token_rotate(token=request.auth)
    return _token_answer(row, secret)


@extend_schema(
    operation_id="auth_token_revoke",
    summary="退出登录（注销本设备令牌）",
    request=None,
    responses={200: inline_serializer("Revoked", {"detail": serializers.CharField()}), **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def token_revoke(request):
    if not isinstance(request.auth, ApiToken):
        raise PermissionDenied(_("只有用设备令牌登录的请求可以注销令牌。"))
    audit_services.api_token_revoke(user=request.user, token_id=request.auth.pk)
    return Response({"detail": _("已退出登录。")})


class DeviceSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = ["id", "device", "created_at", "expires_at", "last_used_at", "current"]

    def get_current(self, row) -> bool:
        return isinstance(self.context.get("auth"), ApiToken) and self.context["auth"].pk == row.pk


@extend_schema(
    operation_id="me_devices", summary="已登录的设备", responses={200: DeviceSerializer(many=True), **ERRORS}
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def devices(request):
    rows = audit_selectors.api_devices(request.user)
    return Response(DeviceSerializer(rows, many=True, context={"auth": request.auth}).data)


@extend_schema(
    operation_id="me_device_revoke",
    summary="注销一个设备的登录",
    request=None,
    responses={200: DeviceSerializer(many=True), **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def device_revoke(request, pk: int):
    if not audit_services.api_token_revoke(user=request.user, token_id=pk):
        raise Http404
    return devices(request._request)


# --- The member's own figures -------------------------------------------------------------------------------------


MeSerializer = inline_serializer(
    "Me",
    {
        "volunteer_number": serializers.CharField(),
        "name": serializers.CharField(),
        "organization": serializers.CharField(),
        "total_hours": serializers.DecimalField(max_digits=10, decimal_places=2, coerce_to_string=True),
        "points_balance": serializers.IntegerField(),
        "points_earned": serializers.IntegerField(),
        "stars": serializers.IntegerField(),
        "unread": serializers.IntegerField(),
    },
)


@token_user
@member_cache.member_page  # what /me/ shows, and dropped with it (core/member_cache.py)
@extend_schema(operation_id="me", summary="我的概况（时长、积分、星级）", responses={200: MeSerializer, **ERRORS})
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def me(request):
    """The figures /me/ shows, from the same selectors (counted_hours, balance_of, star_standing)."""
    member = api_member(request)
    balance = incentive_selectors.balance_of(member)
    return Response(
        {
            "volunteer_number": member.volunteer_number,
            "name": member.name,
            "organization": member.organization.name,
            "total_hours": str(member_selectors.counted_hours(member)),
            "points_balance": balance.balance,
            "points_earned": balance.earned_total,
            "stars": incentive_selectors.star_standing(member).stars,
            "unread": unread_count(request.user),
        }
    )


class RecordSerializer(serializers.ModelSerializer):
    source_display = serializers.CharField(source="get_source_display")
    status_display = serializers.CharField(source="get_status_display")
    recording_organization = serializers.CharField(source="recording_organization.name", default="")

    class Meta:
        model = ServiceRecord
        fields = [
            "id",
            "date",
            "started_at",
            "ended_at",
            "place",
            "content",
            "hours",
            "organizer",
            "recording_organization",
            "source",
            "source_display",
            "status",
            "status_display",
        ]


@extend_schema(
    operation_id="me_records",
    summary="我的志愿服务记录",
    responses={200: cursor_page(RecordSerializer), 304: None, **ERRORS},
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def records(request):
    member = api_member(request)
    paginator = CursorPage(ordering=("-date", "-pk"), page_size=20)
    rows = member_selectors.records_for_member(member).prefetch_related(None)
    page = paginator.paginate_queryset(rows, request)
    return conditional(request, paginator.get_paginated_response(RecordSerializer(page, many=True).data))


class EntrySerializer(serializers.ModelSerializer):
    text = serializers.SerializerMethodField()
    kind_display = serializers.CharField(source="get_kind_display")

    class Meta:
        model = LedgerEntry
        fields = ["id", "created_at", "kind", "kind_display", "points", "balance_after", "text"]

    def get_text(self, entry) -> str:
        return incentive_selectors.entry_text(entry)


@extend_schema(
    operation_id="me_points",
    summary="我的积分明细",
    responses={200: cursor_page(EntrySerializer), 304: None, **ERRORS},
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def points(request):
    member = api_member(request)
    paginator = CursorPage(ordering=("-created_at", "-pk"), page_size=20)
    page = paginator.paginate_queryset(incentive_selectors.entries_for(member), request)
    return conditional(request, paginator.get_paginated_response(EntrySerializer(page, many=True).data))


@extend_schema(
    operation_id="me_certificate",
    summary="志愿服务记录证明（PDF）",
    responses={(200, "application/pdf"): bytes, **ERRORS},
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def certificate(request):
    return _certificate_response(api_member(request), request.user)


class MessageSerializer(serializers.ModelSerializer):
    subject = serializers.CharField(read_only=True)
    body = serializers.CharField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "created_at", "read_at", "subject", "body"]

    def to_representation(self, notification):
        """The message as the inbox page renders it, in the reader's language (rendered once)."""
        rendered = render_message(notification, language=translation.get_language())
        notification.subject, notification.body = rendered.subject, rendered.body
        return super().to_representation(notification)


@extend_schema(
    operation_id="me_inbox",
    summary="站内消息",
    responses={200: cursor_page(MessageSerializer), 304: None, **ERRORS},
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def inbox(request):
    paginator = CursorPage(ordering=("-created_at", "-pk"), page_size=20)
    page = paginator.paginate_queryset(inbox_for(request.user), request)
    return conditional(request, paginator.get_paginated_response(MessageSerializer(page, many=True).data))


@extend_schema(
    operation_id="me_inbox_read",
    summary="标为已读",
    request=None,
    responses={200: inline_serializer("Unread", {"unread": serializers.IntegerField()}), **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def inbox_read(request, pk: int):
    try:
        notification_services.inbox_mark_read(user=request.user, notification_id=pk)
    except Notification.DoesNotExist as exc:
        raise Http404 from exc
    return Response({"unread": unread_count(request.user)})

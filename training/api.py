"""The training app in the JSON API (/api/v1/): the sessions open to the member, enrolling and cancelling.

Beside views.py and as thin: the same selector finds the session (open to the member's branch, else 404), the same
services take and give back the seat under the session's lock.
"""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from core.api import CursorPage, ErrorSerializer, conditional, cursor_page
from members.api import api_member
from members.models import Member
from members.selectors import member_for

from . import selectors, services
from .models import Enrollment, TrainingSession

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}
PAGE_SIZE = 20


class SessionSerializer(serializers.ModelSerializer):
    """A session as /training/ lists it: course, time, place, seats left, and the member's own enrollment."""

    course = serializers.CharField(source="course.title")
    course_type = serializers.CharField(source="course.type")
    course_type_display = serializers.CharField(source="course.get_type_display")
    course_hours = serializers.DecimalField(source="course.hours", max_digits=5, decimal_places=2)
    organizer = serializers.CharField(source="organizer.name")
    seats_left = serializers.IntegerField()
    my_enrollment_status = serializers.CharField(allow_null=True, help_text="enrolled, or null")

    class Meta:
        model = TrainingSession
        fields = [
            "id",
            "course",
            "course_type",
            "course_type_display",
            "course_hours",
            "organizer",
            "starts_at",
            "ends_at",
            "place",
            "capacity",
            "seats_left",
            "my_enrollment_status",
        ]


@extend_schema(
    operation_id="training_sessions",
    summary="近期可报名的培训场次",
    responses={200: cursor_page(SessionSerializer), 304: None, **ERRORS},
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def session_list(request):
    member = api_member(request)
    paginator = CursorPage(ordering=("starts_at", "pk"), page_size=PAGE_SIZE)
    page = paginator.paginate_queryset(selectors.upcoming_sessions_for_member(member), request)
    return conditional(request, paginator.get_paginated_response(SessionSerializer(page, many=True).data))


def _acting_member(request) -> Member:
    member = member_for(request.user)
    if member is None:
        raise PermissionDenied  # as the page: 403 for an account without a member record
    return member


def _session(member: Member, pk: int) -> TrainingSession:
    return get_object_or_404(selectors.sessions_open_to(member), pk=pk)


@extend_schema(
    operation_id="training_enroll",
    summary="报名参训",
    request=None,
    responses={201: SessionSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def enroll(request, pk: int):
    member = _acting_member(request)
    services.enrollment_create(session=_session(member, pk), member=member)
    return Response(SessionSerializer(_session(member, pk)).data, status=status.HTTP_201_CREATED)


@extend_schema(
    operation_id="training_cancel",
    summary="取消参训报名",
    request=None,
    responses={200: SessionSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def cancel_enrollment(request, pk: int):
    member = _acting_member(request)
    enrollment = get_object_or_404(
        Enrollment.objects.select_related("session__course"),
        session_id=pk,
        member=member,
        status=Enrollment.Status.ENROLLED,
    )
    services.enrollment_cancel(enrollment=enrollment, actor=request.user)
    return Response(SessionSerializer(_session(member, pk)).data)

"""Attendance: marking who came, their hours, and the service records it makes."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.types import Actor
from members import services as members_services
from members.models import ServiceRecord

from ..models import Activity, SignUp
from ._common import _as_hours, _lock_activity, _person_name


def default_hours(signup: SignUp, activity: Activity) -> Decimal | None:
    """The hours the attendance sheet proposes — the one rule of a sign-up's hours: the checked-in span, from the
    check-in (or the start, if later) to the sign-out (or the end, if earlier; the end when the activity asks for no
    sign-out), capped by the activity's length; the whole length for someone marked present without a check-in.
    None when the activity asks for a sign-out and the member checked in but never signed out: the organizer
    enters their hours."""
    length = activity.length_hours
    if signup.checked_in_at is None:
        return length
    end = activity.ends_at
    if activity.signout_required:
        if signup.checked_out_at is None:
            return None
        end = min(signup.checked_out_at, end)
    start = max(signup.checked_in_at, activity.starts_at)
    span = Decimal(max(int((end - start).total_seconds()), 0)) / 3600
    return min(span.quantize(Decimal("0.01"), ROUND_DOWN), length)


@dataclass
class AttendanceResult:
    attended: list[SignUp] = field(default_factory=list)
    no_show: list[SignUp] = field(default_factory=list)
    # Records left pending because the organizer marked their own attendance (nobody confirms their own hours).
    unverified: list[SignUp] = field(default_factory=list)


def _record_hours(
    signup: SignUp, activity: Activity, actor: Actor, organizer_name: str, result: AttendanceResult
) -> None:
    """The ServiceRecord of an attended sign-up, verified, and its points — each idempotent (see attendance_submit)."""
    project = activity.project
    record = members_services.service_record_create(
        member=signup.member,
        start=activity.starts_at,
        end=activity.ends_at,
        place=activity.place,
        content=_("参加“%(project)s”活动：%(activity)s")
        % {"project": project.display_name, "activity": activity.display_title},
        hours=signup.hours,
        source=ServiceRecord.Source.ACTIVITY,
        source_ref=f"activity:{activity.pk}",
        recording_organization=project.organization,
        organizer=organizer_name or project.organization.name,
        recorder=actor,
        beneficiary_summary="、".join(project.target_group_labels)[:200],
        role=ServiceRecord.Role.LEADER if activity.leader_id == signup.member_id else ServiceRecord.Role.PARTICIPANT,
        service_category=project.category.national_category,
    )
    if record.status == ServiceRecord.Status.PENDING:
        if signup.member.user_id == getattr(actor, "pk", None):
            result.unverified.append(signup)
            return
        # The points follow the verification (members.events.record_counted_changed → incentives).
        members_services.service_record_verify(record=record, verifier=actor)


@transaction.atomic
def attendance_submit(*, activity: Activity, marks: Mapping[int, tuple[str, object]], actor: Actor) -> AttendanceResult:
    """The attendance sheet: `marks` maps sign-up ids to ("attended", hours or None) or ("no_show", None).

    An attended sign-up gets its hours (default: `default_hours` — from check-in to sign-out when the activity asks
    for a sign-out; typed by the organizer for a member who never signed out; at most the activity's length), a verified
    ServiceRecord (source "activity", source_ref "activity:<id>", recorded and confirmed by the actor for the
    project's organization — 谁组织谁记录), whose points follow its verification (incentives.record_points_sync:
    the `service_hour` rule, capped per record, which is one per member and activity).

    Lock: the activity row, held to the end, then the sign-up rows: two submissions of one sheet run one after the
    other. Idempotent: a sign-up already attended keeps its hours, and its record and ledger entry are found, not
    made again — one record and one entry per member, however often the sheet is sent. Invariants: only seat
    holders are marked, at least one; attended is final (never turned into a no-show); attendance opens at the start.
    """
    if not marks:
        raise ValidationError(_("请至少标记一名党员。"))
    activity = _lock_activity(activity)
    now = timezone.now()
    if activity.status == Activity.Status.CANCELLED:
        raise ValidationError(_("该活动已取消，不能记录考勤。"))
    if now < activity.starts_at:
        raise ValidationError(_("活动开始后才能记录考勤。"))
    signups = {
        s.pk: s
        for s in SignUp.objects.select_for_update(of=("self",))
        .filter(activity=activity, pk__in=list(marks), status__in=SignUp.SEAT_STATUSES)
        .select_related("member__user")
    }
    if set(marks) - set(signups):
        raise ValidationError(_("只能为已确认报名的党员记录考勤。"))
    length = activity.length_hours
    result = AttendanceResult()
    planned: list[tuple[SignUp, str]] = []
    for signup_id, (mark, hours) in sorted(marks.items()):
        signup = signups[signup_id]
        if mark == SignUp.Status.ATTENDED:
            if signup.status != SignUp.Status.ATTENDED:
                value = default_hours(signup, activity) if hours in (None, "") else _as_hours(hours)
                if value is None:
                    raise ValidationError(
                        _("%(name)s签到后没有签退，请填写其服务时长。") % {"name": signup.member.name}
                    )
                if value > length:
                    raise ValidationError(
                        _("%(name)s的服务时长不能超过活动时长（%(length)s小时）。")
                        % {"name": signup.member.name, "length": length}
                    )
                if value <= 0:
                    raise ValidationError(_("%(name)s的服务时长必须大于0。") % {"name": signup.member.name})
                signup.hours = value
            planned.append((signup, mark))
        elif mark == SignUp.Status.NO_SHOW:
            if signup.status == SignUp.Status.ATTENDED:
                raise ValidationError(_("%(name)s 已记录服务时长，不能改为缺席。") % {"name": signup.member.name})
            planned.append((signup, mark))
            signup.hours = None
        else:
            raise ValidationError(_("无效的考勤标记。"))
    organizer_name = _person_name(actor)
    for signup, mark in planned:
        if mark == SignUp.Status.NO_SHOW:
            if signup.status != SignUp.Status.NO_SHOW:
                signup.status, signup.marked_at, signup.marked_by = SignUp.Status.NO_SHOW, now, actor
                signup.save(update_fields=["status", "hours", "marked_at", "marked_by"])
            result.no_show.append(signup)
            continue
        if signup.status != SignUp.Status.ATTENDED:
            signup.status, signup.marked_at, signup.marked_by = SignUp.Status.ATTENDED, now, actor
            signup.save(update_fields=["status", "hours", "marked_at", "marked_by"])
        _record_hours(signup, activity, actor, organizer_name, result)
        result.attended.append(signup)
    if activity.status == Activity.Status.SCHEDULED and planned:
        activity.status = Activity.Status.COMPLETED
        activity.save(update_fields=["status"])
    return result

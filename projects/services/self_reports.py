"""Self-reports: service a member reports for review, and the review."""

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.types import Actor
from members import services as members_services
from members.models import Member, ServiceRecord

from ..models import SelfReport, ServiceProject
from ..validators import check_self_report
from ._common import _person_name


@transaction.atomic
def self_report_submit(
    *,
    member: Member,
    started_at: datetime,
    ended_at: datetime,
    hours: Decimal | int | float | str,
    place: str,
    content: str,
    project: ServiceProject | None = None,
) -> SelfReport:
    """A member reports offline service (自主申报); it waits in the approval queue of the project's organization,
    or of the member's branch. No lock: a new row. Invariants: as a ServiceRecord (hours > 0 and within the span),
    and the service is over."""
    if member.status != Member.Status.ACTIVE:
        raise ValidationError(_("只有在册党员可以申报。"))
    hours = check_self_report(started_at=started_at, ended_at=ended_at, hours=hours, place=place, content=content)
    return SelfReport.objects.create(
        member=member,
        organization=project.organization if project is not None else member.organization,
        project=project,
        started_at=started_at,
        ended_at=ended_at,
        hours=hours,
        place=place.strip(),
        content=content.strip(),
    )


def _lock_report(report: SelfReport) -> SelfReport:
    return SelfReport.objects.select_for_update(of=("self",)).select_related("member", "organization").get(pk=report.pk)


@transaction.atomic
def self_report_approve(*, report: SelfReport, actor: Actor) -> SelfReport:
    """Approve a pending self-report: a verified ServiceRecord (source "self_report") and the `service_hour` points.

    Lock: the report row. Invariants: pending → approved once (approving again returns the report); nobody approves
    their own report; the record and the ledger entry are made once (source_ref / idempotency key of the report).
    """
    report = _lock_report(report)
    if report.status == SelfReport.Status.APPROVED:
        return report
    if report.status != SelfReport.Status.PENDING:
        raise ValidationError(_("该申报已处理。"))
    if report.member.user_id == getattr(actor, "pk", None):
        raise ValidationError(_("不能审核本人的申报。"))
    ref = f"self-report:{report.pk}"
    record = members_services.service_record_create(
        member=report.member,
        start=report.started_at,
        end=report.ended_at,
        place=report.place,
        content=report.content,
        hours=report.hours,
        source=ServiceRecord.Source.SELF_REPORT,
        source_ref=ref,
        recording_organization=report.organization,
        organizer=_person_name(actor),
        recorder=actor,
    )
    if record.status == ServiceRecord.Status.PENDING:  # its points follow (members.events.record_counted_changed)
        record = members_services.service_record_verify(record=record, verifier=actor)
    report.status = SelfReport.Status.APPROVED
    report.record = record
    report.reviewed_by, report.reviewed_at = actor, timezone.now()
    report.save(update_fields=["status", "record", "reviewed_by", "reviewed_at"])
    return report


@transaction.atomic
def self_report_reject(*, report: SelfReport, actor: Actor, reason: str) -> SelfReport:
    """Refuse a pending self-report with a reason the member sees. Lock: the report row."""
    if not (reason or "").strip():
        raise ValidationError({"reason": _("请填写不通过的原因。")})
    report = _lock_report(report)
    if report.status != SelfReport.Status.PENDING:
        raise ValidationError(_("该申报已处理。"))
    report.status = SelfReport.Status.REJECTED
    report.reviewed_by, report.reviewed_at = actor, timezone.now()
    report.review_note = reason.strip()[:200]
    report.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
    return report

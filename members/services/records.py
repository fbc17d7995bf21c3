"""Service records (create, verify, void, corrections) and the yearly summary built from them (ServiceYear)."""

from collections.abc import Iterable
from datetime import date as date_type
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.types import Actor, User
from notifications.services import notify

from .. import events, selectors
from ..models import Member, Organization, ServiceRecord, ServiceRecordCorrection, ServiceYear, ServiceYearBuilt
from ..validators import check_correction, check_service_times
from ._common import _audit, _lock

_SOURCES_NEEDING_REF = (ServiceRecord.Source.ACTIVITY, ServiceRecord.Source.WISH, ServiceRecord.Source.PAIRING)


@transaction.atomic
def service_record_create(
    *,
    member: Member,
    start: datetime,
    end: datetime,
    place: str,
    content: str,
    hours: Decimal | int | float | str | None,
    source: str,
    recording_organization: Organization,
    organizer: str,
    recorder: Actor,
    source_ref: str = "",
    beneficiary_summary: str = "",
    evaluation: int | None = None,
    date: date_type | None = None,
    role: str = ServiceRecord.Role.PARTICIPANT,
    service_category: str = "",
) -> ServiceRecord:
    """Record one service of one member — the one way any step records hours. The record stays pending until a
    verifier of the recording organization confirms it (`service_record_verify`).

    Idempotent: with a `source_ref` ("activity:12"), a second call for the same (source, source_ref, member) returns
    the first record unchanged, even when two calls race (the partial UNIQUE decides; the loser reads the winner).
    No lock otherwise. Invariants: hours > 0 and ≤ end − start (also CHECKs); no beneficiary personal data (the
    summary is free text the caller keeps general).
    """
    if source not in ServiceRecord.Source.values or source == ServiceRecord.Source.EXTERNAL:
        raise ValueError(f"unknown source: {source}")
    if source in _SOURCES_NEEDING_REF and not source_ref:
        raise ValueError(f"source {source} needs a source_ref")
    if source_ref:
        existing = ServiceRecord.objects.filter(source=source, source_ref=source_ref, member=member).first()
        if existing is not None:
            return existing
    hours, service_date = check_service_times(start=start, end=end, hours=hours, service_date=date)
    if not place.strip():
        raise ValidationError({"place": _("请填写服务地点。")})
    if not content.strip():
        raise ValidationError({"content": _("请填写服务内容。")})
    if evaluation is not None and not 1 <= evaluation <= 5:
        raise ValidationError({"evaluation": _("服务评价应为1到5分。")})
    if role not in ServiceRecord.Role.values:
        raise ValidationError({"role": _("无效的服务角色。")})
    record = ServiceRecord(
        member=member,
        date=service_date,
        started_at=start,
        ended_at=end,
        place=place.strip(),
        content=content.strip(),
        beneficiary_summary=beneficiary_summary.strip(),
        hours=hours,
        evaluation=evaluation,
        organizer=organizer,
        recorder=recorder,
        recording_organization=recording_organization,
        source=source,
        source_ref=source_ref,
        role=role,
        service_category=service_category,
    )
    _audit(record, recorder, _("记录服务"))
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        if not source_ref:
            raise
        return ServiceRecord.objects.get(source=source, source_ref=source_ref, member=member)
    return record


@transaction.atomic
def service_record_verify(*, record: ServiceRecord, verifier: Actor) -> ServiceRecord:
    """Confirm the hours of a pending record (确认时长).

    Lock: the record row, then the member's ServiceYear row (kept equal to the records in this transaction).
    Invariants: pending → verified, once; nobody confirms their own hours. Sends `events.record_counted_changed`
    in the transaction: the record's points follow in it (incentives), whatever produced the record.
    """
    record = _lock(ServiceRecord, record.pk)
    if record.status != ServiceRecord.Status.PENDING:
        raise ValidationError(
            _("只有待确认的记录可以确认（该记录%(status)s）。") % {"status": record.get_status_display()}
        )
    if verifier is None:
        raise ValueError("hours are confirmed by a person, not by the system")
    if record.member.user_id == verifier.pk:
        raise ValidationError(_("不能确认本人的服务时长。"))
    record.status = ServiceRecord.Status.VERIFIED
    record.verified_by = verifier
    record.verified_at = timezone.now()
    _audit(record, verifier, _("确认时长"))
    record.save()
    _service_year_refresh(member_id=record.member_id, years=[record.date.year])
    events.record_counted_changed.send(events.RecordCountedChanged(record=record, actor=verifier, change="verified"))
    return record


@transaction.atomic
def service_record_void(*, record: ServiceRecord, actor: Actor, reason: str) -> ServiceRecord:
    """Void a record recorded in error; its hours stop counting. Pending corrections of it are refused.

    Lock: the record row, then its corrections (the order every service uses), then the member's ServiceYear row.
    Invariant: void is final. A counted record's points are reversed in the same transaction
    (`events.record_counted_changed`).
    """
    if not reason or not reason.strip():
        raise ValidationError({"reason": _("请填写作废原因。")})
    record = _lock(ServiceRecord, record.pk)
    if record.status == ServiceRecord.Status.VOID:
        raise ValidationError(_("该记录已作废。"))
    now = timezone.now()
    was_counted = record.is_counted
    record.status = ServiceRecord.Status.VOID
    record.voided_by = actor
    record.voided_at = now
    record.void_reason = reason.strip()[:200]
    _audit(record, actor, _("作废：%(reason)s") % {"reason": record.void_reason})
    record.save()
    _service_year_refresh(member_id=record.member_id, years=[record.date.year])
    record.corrections.select_for_update().filter(status=ServiceRecordCorrection.Status.PENDING).update(
        status=ServiceRecordCorrection.Status.REFUSED,
        reviewed_by=actor,
        reviewed_at=now,
        review_note=_("记录已作废"),
    )
    if was_counted:
        events.record_counted_changed.send(events.RecordCountedChanged(record=record, actor=actor, change="voided"))
    return record


@transaction.atomic
def service_record_correction_request(
    *,
    record: ServiceRecord,
    requested_by: User,
    reason: str,
    hours: Decimal | int | float | str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    place: str = "",
    content: str = "",
) -> ServiceRecordCorrection:
    """Ask the recording organization to correct a confirmed record (hours, times, place, content).

    Lock: the record row. Invariants: one pending correction per record (partial UNIQUE); the corrected record
    would still be valid (hours > 0, ≤ span).
    """
    if not reason or not reason.strip():
        raise ValidationError({"reason": _("请填写更正理由。")})
    record = _lock(ServiceRecord, record.pk)
    new_hours = check_correction(record=record, hours=hours, start=start, end=end, place=place, content=content)
    if record.corrections.filter(status=ServiceRecordCorrection.Status.PENDING).exists():
        raise ValidationError(_("该记录已有待审核的更正申请。"))
    return ServiceRecordCorrection.objects.create(
        record=record,
        requested_by=requested_by,
        reason=reason.strip(),
        new_hours=new_hours,
        new_started_at=start,
        new_ended_at=end,
        new_place=place.strip(),
        new_content=content.strip(),
    )


@transaction.atomic
def service_record_correction_review(
    *, correction: ServiceRecordCorrection, reviewer: User, approve: bool, note: str = ""
) -> ServiceRecordCorrection:
    """Approve (the change applies, the record becomes 已更正) or refuse (a note says why) a pending correction.

    Locks: the record row, then the correction row, then the member's ServiceYear rows (old and new year).
    Invariants: only a pending correction is reviewed, once; an approved change leaves a valid record; the record's
    history keeps the values before and after; the record's points follow the new hours in the same transaction
    (`events.record_counted_changed`). The member who asked is told the outcome (in-app message).
    """
    record = _lock(ServiceRecord, correction.record_id)
    correction = _lock(ServiceRecordCorrection, correction.pk)
    if correction.status != ServiceRecordCorrection.Status.PENDING:
        raise ValidationError(_("该更正申请已经审核过。"))
    now = timezone.now()
    if approve:
        year_before = record.date.year
        check_correction(
            record=record,
            hours=correction.new_hours,
            start=correction.new_started_at,
            end=correction.new_ended_at,
            place=correction.new_place,
            content=correction.new_content,
        )
        # check_correction has refused a start without an end.
        if correction.new_started_at is not None and correction.new_ended_at is not None:
            record.started_at = correction.new_started_at
            record.ended_at = correction.new_ended_at
            record.date = timezone.localtime(record.started_at).date()
        if correction.new_hours is not None:
            record.hours = correction.new_hours
        if correction.new_place:
            record.place = correction.new_place
        if correction.new_content:
            record.content = correction.new_content
        record.status = ServiceRecord.Status.CORRECTED
        _audit(record, reviewer, _("批准更正申请 #%(pk)s") % {"pk": correction.pk})
        record.save()
        # A new start may move the record to another day, month or year: both years are recomputed.
        _service_year_refresh(member_id=record.member_id, years=[year_before, record.date.year])
        correction.status = ServiceRecordCorrection.Status.APPROVED
        events.record_counted_changed.send(
            events.RecordCountedChanged(record=record, actor=reviewer, change="corrected")
        )
    else:
        if not note or not note.strip():
            raise ValidationError({"review_note": _("拒绝更正申请时请说明理由。")})
        correction.status = ServiceRecordCorrection.Status.REFUSED
    correction.reviewed_by = reviewer
    correction.reviewed_at = now
    correction.review_note = note.strip()[:200]
    correction.save()
    _tell_correction_outcome(correction, record)
    return correction


def _tell_correction_outcome(correction: ServiceRecordCorrection, record: ServiceRecord) -> None:
    """An in-app message to whoever asked for the correction — the member, or a secretary asking for them — and to
    the member when someone else asked."""
    users = {correction.requested_by_id, record.member.user_id} - {None, correction.reviewed_by_id}
    if not users:
        return
    approved = correction.status == ServiceRecordCorrection.Status.APPROVED
    context = {
        "name": record.member.name,
        "record_date": record.date.isoformat(),
        "content": record.content[:60],
        "approved": approved,
        "hours": str(record.hours),
        "note": correction.review_note,
    }
    for user in User.objects.filter(pk__in=users, is_active=True).order_by("pk"):
        notify(
            template="members_correction_reviewed",
            channel="inapp",
            user=user,
            dedupe_key=f"members:correction:{correction.pk}:reviewed:{user.pk}",
            context=context,
        )


def _service_year_refresh(*, member_id: int, years: Iterable[int]) -> None:
    """Recompute `member_id`'s ServiceYear rows of `years` from their counted records; called inside the
    transaction that changed one of those records. Lock: the (member, year) row (created first when missing), so
    a concurrent change of the same member's records waits, and the recomputation, a later statement, then sees
    the other change committed: the row always equals its records."""
    for year in sorted(set(years)):
        ServiceYear.objects.bulk_create([ServiceYear(member_id=member_id, year=year)], ignore_conflicts=True)
        row = ServiceYear.objects.select_for_update().get(member_id=member_id, year=year)
        for name, value in selectors.service_year_figures(member_id=member_id, year=year).items():
            setattr(row, name, value)
        row.save()


@transaction.atomic
def service_years_refresh(*, member_id: int, years: Iterable[int]) -> None:
    """Recompute one member's ServiceYear rows of `years` from their records (`manage.py reconcile --fix`).
    Lock: each (member, year) row."""
    _service_year_refresh(member_id=member_id, years=years)


@transaction.atomic
def service_year_rebuild(*, year: int) -> int:
    """Rebuild every ServiceYear row of `year` from the counted records in one INSERT … SELECT and mark the year
    built (the dashboard then reads it). Idempotent; repairs anything written around the services. Returns the
    number of rows.

    Lock: the whole summary table (SHARE ROW EXCLUSIVE on PostgreSQL) for the few seconds of the rebuild: a service
    recomputing a row waits, then sees the rebuilt table; a rebuild waits for services already writing rows, and its
    statements (later snapshots) see their records."""
    table = connection.ops.quote_name(ServiceYear._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        ServiceYear.objects.filter(year=year).delete()
        aggregates = selectors.service_year_aggregates()
        select = (
            ServiceRecord.objects.filter(status__in=ServiceRecord.COUNTED_STATUSES, date__year=year)
            .values("member")
            .annotate(**aggregates)
            .values_list("member", *aggregates)
            .order_by()
        )
        sql, params = select.query.sql_with_params()
        columns = ", ".join(connection.ops.quote_name(c) for c in ["year", "member_id", *aggregates])
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT %s, s.* FROM ({sql}) s", (year, *params))
        rows: int = cursor.rowcount
    ServiceYearBuilt.objects.update_or_create(year=year, defaults={"rebuilt_at": timezone.now()})
    return rows


def service_years_rebuild_due(*, today: date_type | None = None) -> list[int]:
    """The periodic rebuild (members.tasks.rebuild_service_years, nightly): this year and the last are rebuilt,
    and every earlier year with records that was never built. Each year in its own transaction
    (`service_year_rebuild`). Returns the years rebuilt."""
    today = today or timezone.localdate()
    first = ServiceRecord.objects.filter(status__in=ServiceRecord.COUNTED_STATUSES).order_by("date").first()
    built = set(ServiceYearBuilt.objects.values_list("year", flat=True))
    years = [y for y in range(first.date.year, today.year - 1) if y not in built] if first else []
    years += [today.year - 1, today.year]
    for year in years:
        service_year_rebuild(year=year)
    return years

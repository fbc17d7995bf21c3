"""The exchange with the national system (全国志愿服务信息系统): export batches out, records from elsewhere in.

Export: `national_export_create` writes a batch of an organization's subtree (volunteers not registered there yet,
counted records not sent yet, and the corrections and voids of records sent before) into files laid out by the
column map (members.national), streaming the rows, so its memory does not grow with them. Import:
`external_records_check` reads a records file into rows to save and problems (no writes); `external_records_import`
checks again under the members' locks and saves every row or none.
"""

import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date as date_type
from datetime import datetime, timedelta
from decimal import Decimal
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import connection, models, transaction
from django.db.models import Case, Count, Expression, F, QuerySet, Value, When
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.crypto import blind_index
from core.types import Actor, User

from .. import events, national, selectors
from ..identifiers import normalize_id_number, normalize_national_volunteer_number
from ..models import (
    Member,
    NationalExportBatch,
    NationalExportItem,
    Organization,
    ServiceRecord,
)
from ..validators import check_service_times
from ._common import _audit
from .records import _service_year_refresh

EXPORT_CHUNK = 2000  # rows of a file read from the database at a time
MAX_IMPORT_HOURS = Decimal("24")  # one service of one day

Kind = NationalExportItem.Kind


# --- Export ---------------------------------------------------------------------------------------------------------


def _lock_tree(organization: Organization) -> None:
    """Serialise exports within one organization tree: the row lock of its root organization. Two secretaries of
    the same tree (even of nested subtrees) export one after the other, so the second sees the first's items."""
    root_id = int(organization.path.split(".", 1)[0])
    Organization.objects.select_for_update().filter(pk=root_id).values_list("pk", flat=True).get()


def _rows_into(
    tmp: IO[bytes], columns: tuple[national.Column, ...], rows: Iterable[list[object]], encoding: str
) -> None:
    for line in national.csv_lines(columns, rows):
        tmp.write(line.encode(encoding))
        encoding = "utf-8" if encoding == "utf-8-sig" else encoding  # the BOM once, at the start


def _insert_items(batch: NationalExportBatch, queryset: QuerySet, *, kind: Expression, record: bool) -> int:
    """INSERT … SELECT the batch's items of `queryset` (members, or records with their version), in id order: the
    rows never pass through Python. Returns how many."""
    selected = queryset.annotate(_batch=Value(batch.pk), _kind=kind).order_by("pk")
    if record:
        columns, selected = (
            "batch_id, kind, record_id, record_version",
            selected.values_list("_batch", "_kind", "pk", "updated_at"),
        )
    else:
        columns, selected = "batch_id, kind, member_id", selected.values_list("_batch", "_kind", "pk")
    sql, params = selected.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {NationalExportItem._meta.db_table} ({columns}) {sql}", params)
        return int(cursor.rowcount)


_RECORD_COLUMNS = {
    "kind": "kind",
    "record_id": "record_id",
    "date": "record__date",
    "started_at": "record__started_at",
    "ended_at": "record__ended_at",
    "hours": "record__hours",
    "service_category": "record__service_category",
    "content": "record__content",
    "place": "record__place",
    "organizer": "record__organizer",
    "organization": "record__recording_organization__name",
    "member_ref": "record__member_id",
    "recorder_ref": "record__recorder_id",
    "void_reason": "record__void_reason",
}


class _People:
    """The volunteer elements of the records' members and the names of their recorders, read a chunk of rows at a
    time and kept for the next chunks up to PEOPLE_KEPT of each (then forgotten: memory stays bounded)."""

    PEOPLE_KEPT = 20_000

    def __init__(self) -> None:
        self.volunteers: dict[int, dict[str, object]] = {}
        self.recorders: dict[int | None, str] = {None: ""}

    def each(self, rows: Iterator[Any]) -> Iterator[tuple[dict, dict[str, object], str]]:
        chunk: list[dict] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= EXPORT_CHUNK:
                yield from self._chunk(chunk)
                chunk = []
        yield from self._chunk(chunk)

    def _chunk(self, chunk: list[dict]) -> Iterator[tuple[dict, dict[str, object], str]]:
        if len(self.volunteers) > self.PEOPLE_KEPT or len(self.recorders) > self.PEOPLE_KEPT:
            self.volunteers, self.recorders = {}, {None: ""}
        missing = {r["member_ref"] for r in chunk} - set(self.volunteers)
        for member in Member.objects.filter(pk__in=missing).select_related("organization"):
            self.volunteers[member.pk] = national.volunteer_values(member)
        users = {r["recorder_ref"] for r in chunk} - set(self.recorders)
        names = dict(Member.objects.filter(user_id__in=users).values_list("user_id", "name"))
        for user in User.objects.filter(pk__in=users).only("username", "first_name", "last_name"):
            self.recorders[user.pk] = names.get(user.pk) or user.get_full_name() or user.get_username()
        for row in chunk:
            yield row, self.volunteers[row["member_ref"]], self.recorders[row["recorder_ref"]]


def batch_volunteer_rows(batch: NationalExportBatch, columns: national.ColumnMap) -> Iterator[list[object]]:
    """The lines of the batch's volunteers file, from its items (members read EXPORT_CHUNK at a time)."""
    items = (
        NationalExportItem.objects.filter(batch=batch, kind=Kind.VOLUNTEER)
        .select_related("member__organization")
        .order_by("pk")
    )
    for item in items.iterator(chunk_size=EXPORT_CHUNK):
        assert item.member is not None
        yield national.row(columns.volunteers, national.volunteer_values(item.member))


def batch_record_rows(batch: NationalExportBatch, columns: national.ColumnMap) -> Iterator[list[object]]:
    """The lines of the batch's records file, from its items: plain values, EXPORT_CHUNK at a time, the members
    (phone and ID number decrypted) and recorders' names read once per chunk, not per record."""
    aliases = {name: F(path) for name, path in _RECORD_COLUMNS.items() if name != path}
    rows = (
        NationalExportItem.objects.filter(batch=batch)
        .exclude(kind=Kind.VOLUNTEER)
        .order_by("pk")
        .values("kind", "record_id", **aliases)
    )
    for row, volunteer, recorder in _People().each(rows.iterator(chunk_size=EXPORT_CHUNK)):
        note = {Kind.VOID: row["void_reason"], Kind.CORRECTION: _("记录已更正")}.get(row["kind"], "")
        values = national.record_values(row, volunteer=volunteer, recorder=recorder, note=note)
        yield national.row(columns.records, values)


@transaction.atomic
def national_export_create(
    *,
    organization: Organization,
    period_start: date_type,
    period_end: date_type,
    actor: Actor,
    columns: national.ColumnMap | None = None,
) -> NationalExportBatch:
    """Export to the national system: one batch of `organization`'s subtree for the period, its two files written
    through the column map (default: settings.NATIONAL_EXPORT_COLUMNS) and kept on the batch.

    Lock: the root organization of the tree (`_lock_tree`), held to the end. Invariants (also constraints of
    NationalExportItem): a volunteer and a record go out as new once; a change of a sent record goes out once per
    version, as a correction, and a void once. The items are inserted first, in SQL; the files are written from
    them, so a file holds exactly its batch. Memory: the files are read EXPORT_CHUNK rows at a time (a server-side
    cursor on PostgreSQL) and written to temporary files before storage.
    """
    if period_end < period_start:
        raise ValidationError({"period_end": _("结束日期不能早于开始日期。")})
    columns = columns or national.load_columns()
    _lock_tree(organization)
    batch = NationalExportBatch.objects.create(
        organization=organization, period_start=period_start, period_end=period_end, created_by=actor
    )
    records = selectors.national_new_records(organization, period_start, period_end)
    text: models.CharField = models.CharField()
    volunteers = selectors.national_unregistered_volunteers(organization, records)
    batch.volunteers = _insert_items(batch, volunteers, kind=Value(Kind.VOLUNTEER, text), record=False)
    change = Case(When(status=ServiceRecord.Status.VOID, then=Value(Kind.VOID)), default=Value(Kind.CORRECTION))
    _insert_items(batch, selectors.national_changed_records(organization), kind=Cast(change, text), record=True)
    batch.records = _insert_items(batch, records, kind=Value(Kind.RECORD, text), record=True)
    kinds = dict(batch.items.values("kind").annotate(n=Count("pk")).values_list("kind", "n").order_by())
    batch.corrections, batch.voids = kinds.get(Kind.CORRECTION, 0), kinds.get(Kind.VOID, 0)
    for part, rows in (("volunteers", batch_volunteer_rows), ("records", batch_record_rows)):
        with tempfile.TemporaryFile() as tmp:
            _rows_into(tmp, columns.part(part), rows(batch, columns), columns.encoding)
            tmp.seek(0)
            getattr(batch, f"{part}_file").save(f"batch-{batch.pk}-{part}.csv", File(tmp), save=False)
    batch.save()
    return batch


def national_export_queue(
    *, organization: Organization, period_start: date_type, period_end: date_type, actor: User
) -> None:
    """Ask for an export batch: checked here (the period), made by a Celery task on the heavy queue after the
    caller's commit (`national_export_run`), since a first export of a large subtree takes minutes — longer than a
    web request may. The secretary is told in the inbox when it is ready."""
    if period_end < period_start:
        raise ValidationError({"period_end": _("结束日期不能早于开始日期。")})
    from .. import tasks  # the tasks module imports the services

    args = (organization.pk, period_start.isoformat(), period_end.isoformat(), actor.pk)
    transaction.on_commit(lambda: tasks.national_export.delay(*args))


@transaction.atomic
def national_export_run(
    *, organization_id: int, period_start: date_type, period_end: date_type, actor_id: int
) -> NationalExportBatch | None:
    """The export a secretary asked for (national_export_queue): the batch, and a message to the secretary in the
    same transaction. A batch with nothing in it is not kept (a period with nothing new, or a task run a second time
    after the first made the batch): the message then says there was nothing to send. Lock: national_export_create's."""
    from notifications.services import notify

    organization = Organization.objects.get(pk=organization_id)
    actor = User.objects.get(pk=actor_id)
    batch = national_export_create(
        organization=organization, period_start=period_start, period_end=period_end, actor=actor
    )
    context = {
        "organization": organization.name,
        "period": f"{period_start:%Y-%m-%d} — {period_end:%Y-%m-%d}",
        "volunteers": batch.volunteers,
        "records": batch.records,
        "changes": batch.corrections + batch.voids,
        "link": reverse("admin:members_nationalexportbatch_change", args=[batch.pk]),
        "empty": not batch.items.exists(),
    }
    key = f"members:national-export:{batch.pk}"
    kept: NationalExportBatch | None = batch
    if context["empty"]:
        for part in ("volunteers_file", "records_file"):
            getattr(batch, part).delete(save=False)
        batch.delete()
        key = f"members:national-export:empty:{organization_id}:{period_start}:{period_end}:{timezone.now():%Y%m%d%H%M}"
        kept = None
    notify(template="members_national_export_ready", channel="inapp", user=actor, dedupe_key=key, context=context)
    return kept


# --- Import of records kept elsewhere ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExternalRecord:
    """A row ready to be saved as a record from elsewhere."""

    number: int
    member_id: int
    start: datetime
    end: datetime
    date: date_type
    hours: Decimal
    place: str
    content: str
    organizer: str
    service_category: str
    origin: str


@dataclass
class ImportCheck:
    """What `external_records_check` found: the rows to save, the errors (nothing may be saved while there is one)
    and the duplicates (skipped, not errors) — each as (file line, message)."""

    ready: list[ExternalRecord] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    duplicates: list[tuple[int, str]] = field(default_factory=list)


_TEXT_LIMITS: dict[str, int] = {
    "record.content": national.MAX_TEXT,
    "record.place": 200,  # ServiceRecord.place
    "record.organizer": 50,  # ServiceRecord.organizer
    "record.organization": 100,
    "volunteer.name": 50,
    "record.service_category": 50,
}


def _members_by_identifiers(rows: list[national.ImportedRow], organization: Organization) -> dict[tuple, int]:
    """{(element, value): member id} of the subtree's members named by the rows' national numbers, volunteer
    numbers and ID numbers: three queries, none per row."""
    found: dict[tuple, int] = {}
    members = Member.objects.filter(organization__path__startswith=organization.path)
    nationals, locals_, hashes = set(), set(), {}
    for r in rows:
        try:
            if n := normalize_national_volunteer_number(r.values.get("volunteer.national_number", "")):
                nationals.add(n)
        except ValidationError:
            pass
        if v := r.values.get("volunteer.local_number", "").strip():
            locals_.add(v)
        try:
            if i := r.values.get("volunteer.id_number", "").strip():
                hashes[blind_index(normalize_id_number(i))] = normalize_id_number(i)
        except ValidationError:
            pass
    for pk, n in members.filter(national_volunteer_number__in=nationals).values_list("pk", "national_volunteer_number"):
        found[("volunteer.national_number", n)] = pk
    for pk, v in members.filter(volunteer_number__in=locals_).values_list("pk", "volunteer_number"):
        found[("volunteer.local_number", v)] = pk
    for pk, h in members.filter(id_number_hash__in=list(hashes)).values_list("pk", "id_number_hash"):
        found[("volunteer.id_number", hashes[h])] = pk
    return found


def _row_member(row: national.ImportedRow, found: dict[tuple, int]) -> tuple[int | None, str | None]:
    """The member a row names (national number, then volunteer number, then ID number), or why none."""
    named = False
    for element, normalise in (
        ("volunteer.national_number", normalize_national_volunteer_number),
        ("volunteer.local_number", str.strip),
        ("volunteer.id_number", normalize_id_number),
    ):
        raw = row.values.get(element, "").strip()
        if not raw:
            continue
        named = True
        try:
            value = normalise(raw)
        except ValidationError as exc:
            return None, exc.messages[0]
        if (element, value) in found:
            return found[(element, value)], None
    if not named:
        return None, _("没有志愿者统一编号、志愿者编号或身份证号")
    return None, _("找不到该党员（本组织及下级组织中没有这个编号或身份证号）")


def external_records_check(*, rows: list[national.ImportedRow], organization: Organization, origin: str) -> ImportCheck:
    """Every row of a records file checked before anything is saved: the member (in `organization`'s subtree), the
    date, the times and hours (0 < hours ≤ 24 and ≤ the span), texts without control characters and within their
    fields' lengths. A row with the member, date, organizer and hours of a record the platform has (not void) or of
    an earlier row is a duplicate, skipped. Void rows (记录类型 作废) are skipped too. Queries: four, and one for the
    duplicates; none per row."""
    result = ImportCheck()
    origin = origin.strip()
    origin_problem = national.text_problem(origin, limit=60)
    if not origin or origin_problem:
        result.errors.append((0, _("原记录平台：%(problem)s") % {"problem": origin_problem or _("请填写")}))
    found = _members_by_identifiers(rows, organization)
    candidates: list[ExternalRecord] = []
    for r in rows:
        problems = []
        for element, limit in _TEXT_LIMITS.items():
            if problem := national.text_problem(r.values.get(element, ""), limit=limit):
                problems.append(f"{national.ELEMENTS[element][0]}{problem}")
        if r.values.get("record.kind") == Kind.VOID:
            result.duplicates.append((r.number, _("作废记录，不导入")))
            continue
        member_id, why = _row_member(r, found)
        if why:
            problems.append(why)
        day = national.parse_day(r.values.get("record.date", ""))
        if day is None:
            problems.append(_("服务日期无法识别（应为 2026-03-01 这样的日期）"))
        hours = national.parse_hours(r.values.get("record.hours", ""))
        if hours is None or not 0 < hours <= MAX_IMPORT_HOURS:
            problems.append(_("服务时长应为大于0、不超过24的小时数"))
        content = r.values.get("record.content", "").strip()
        organizer = r.values.get("record.organizer", "").strip()
        if not content:
            problems.append(_("缺少服务内容"))
        if not organizer:
            problems.append(_("缺少负责人"))
        start = end = None
        if day is not None and hours is not None and not problems:
            start_text, end_text = r.values.get("record.started_at", ""), r.values.get("record.ended_at", "")
            start = national.parse_moment(start_text, day) if start_text else national.default_start(day)
            end = (
                national.parse_moment(end_text, day) if end_text else (start and start + timedelta(hours=float(hours)))
            )
            if start is None or end is None:
                problems.append(_("开始或结束时间无法识别（应为 2026-03-01 09:00 这样的时间）"))
            else:
                try:
                    hours, day = check_service_times(start=start, end=end, hours=hours, service_date=day)
                except ValidationError as exc:
                    problems.extend(m for messages in exc.message_dict.values() for m in messages)
        if problems:
            result.errors.append((r.number, "；".join(problems)))
            continue
        assert member_id is not None and day is not None and hours is not None and start and end
        where = r.values.get("record.organization", "").strip()
        category_label = r.values.get("record.service_category", "").strip()
        category = next((code for code, label in national.SERVICE_CATEGORIES if str(label) == category_label), "")
        candidates.append(
            ExternalRecord(
                number=r.number,
                member_id=member_id,
                start=start,
                end=end,
                date=day,
                hours=hours,
                place=r.values.get("record.place", "").strip() or origin,
                content=content,
                organizer=organizer,
                service_category=category or ("other" if category_label else ""),
                origin=(f"{origin}·{where}" if where else origin)[:100],
            )
        )
    result.ready = _without_duplicates(candidates, result.duplicates)
    return result


def _without_duplicates(candidates: list[ExternalRecord], duplicates: list[tuple[int, str]]) -> list[ExternalRecord]:
    if not candidates:
        return []
    days = [c.date for c in candidates]
    kept = set(
        ServiceRecord.objects.filter(
            member_id__in={c.member_id for c in candidates}, date__gte=min(days), date__lte=max(days)
        )
        .exclude(status=ServiceRecord.Status.VOID)
        .values_list("member_id", "date", "organizer", "hours")
    )
    seen: dict[tuple, int] = {}
    ready = []
    for c in candidates:
        key = (c.member_id, c.date, c.organizer, c.hours)
        if key in kept:
            duplicates.append((c.number, _("与已有记录重复（同一党员、日期、负责人和时长），已跳过")))
        elif key in seen:
            duplicates.append((c.number, _("与第%(row)d行重复，已跳过") % {"row": seen[key]}))
        else:
            seen[key] = c.number
            ready.append(c)
    return ready


@dataclass(frozen=True)
class ImportResult:
    saved: int
    duplicates: list[tuple[int, str]]
    counted: bool  # the organization's rule at the import: counted in the totals, or listed only


@transaction.atomic
def external_records_import(
    *, rows: list[national.ImportedRow], organization: Organization, origin: str, actor: Actor
) -> ImportResult:
    """Save the rows of a records file as records from elsewhere (source "external", recorded by `organization`,
    not earning points): all of them, or — when any row has an error — none, raising a ValidationError that lists
    every error with its line. Duplicates are skipped and returned.

    Lock: the named members' rows, in id order, then the check again: two imports of the same file save it once.
    The organization's rule (Organization.count_external_hours) decides, at the import, whether the records count
    (status verified: in every total through members.selectors.counted_records, shown apart as 其他平台记录) or
    are listed only; the members' ServiceYear rows follow in this transaction.
    """
    first = external_records_check(rows=rows, organization=organization, origin=origin)
    if first.errors:
        raise ValidationError([_("第%(row)d行：%(problem)s") % {"row": n, "problem": p} for n, p in first.errors])
    ids = sorted({c.member_id for c in first.ready})
    list(Member.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
    check = external_records_check(rows=rows, organization=organization, origin=origin)
    counted = Organization.objects.values_list("count_external_hours", flat=True).get(pk=organization.pk)
    now = timezone.now()
    years: dict[int, set[int]] = {}
    for c in check.ready:
        record = ServiceRecord(
            member_id=c.member_id,
            date=c.date,
            started_at=c.start,
            ended_at=c.end,
            place=c.place,
            content=c.content,
            hours=c.hours,
            organizer=c.organizer,
            recorder=actor,
            recording_organization=organization,
            source=ServiceRecord.Source.EXTERNAL,
            service_category=c.service_category,
            origin=c.origin,
            status=ServiceRecord.Status.VERIFIED if counted else ServiceRecord.Status.LISTED,
            verified_by=actor,
            verified_at=now,
        )
        _audit(record, actor, _("导入外部服务记录"))
        record.save()
        years.setdefault(c.member_id, set()).add(c.date.year)
        if counted:  # its hours count: the ratings not yet final follow (incentives; no points for it)
            change = events.RecordCountedChanged(record=record, actor=actor, change="verified")
            events.record_counted_changed.send(change)
    if counted:
        for member_id, member_years in sorted(years.items()):
            _service_year_refresh(member_id=member_id, years=member_years)
    return ImportResult(saved=len(check.ready), duplicates=check.duplicates, counted=counted)

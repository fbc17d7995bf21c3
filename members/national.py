"""The exchange with the national system (全国志愿服务信息系统): the data elements of MZ/T 061-2015 (《志愿服务信息系统
基本规范》) mapped onto the platform's fields in one place, the column map an operator edits (a data file, setting
NATIONAL_EXPORT_COLUMNS), and the rows written and read through it. No database writes here: batches are written by
`members.services.national`. See docs/national-exchange.md for what is confirmed and what is assumed.
"""

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.exports import inert, uninert
from core.times import format_local

from .models import Member

DEFAULT_COLUMNS_FILE = Path(__file__).resolve().parent / "data" / "national_columns.json"

# MZ/T 061 服务类别 (service category). The standard names the element; the list below is the one the national
# system's site offers when a project is published, as far as public pages show it (not confirmed against the
# standard's code table): the codes are the platform's own, the labels are what the files carry.
SERVICE_CATEGORIES: tuple[tuple[str, str | Promise], ...] = (
    ("community", gettext_lazy("社区服务")),
    ("poverty", gettext_lazy("扶贫减贫")),
    ("education", gettext_lazy("支教助学")),
    ("health", gettext_lazy("卫生健康")),
    ("legal", gettext_lazy("法律服务")),
    ("environment", gettext_lazy("生态环保")),
    ("events", gettext_lazy("大型赛会")),
    ("culture", gettext_lazy("文化艺术")),
    ("emergency", gettext_lazy("应急救援")),
    ("science", gettext_lazy("科技科普")),
    ("special_groups", gettext_lazy("关爱特殊群体")),
    ("public_safety", gettext_lazy("平安综治")),
    ("other", gettext_lazy("其他")),
)
SERVICE_CATEGORY_CHOICES = [(code, label) for code, label in SERVICE_CATEGORIES]

# Where each element of MZ/T 061 lives here — the one map the column file's `element`s refer to. The element names
# are the standard's (数据元名称); the standard's identifiers (数据元标识符) could not be read from a public copy and
# are left to fill in (docs/national-exchange.md). Key: the `element` of the column file.
ELEMENTS: dict[str, tuple[str, str]] = {
    # element: (MZ/T 061 数据元名称, the platform's field)
    "volunteer.national_number": ("志愿者统一编号", "Member.national_volunteer_number"),
    "volunteer.local_number": ("志愿者编号（本系统）", "Member.volunteer_number"),
    "volunteer.name": ("姓名", "Member.name"),
    "volunteer.gender": ("性别", "Member.gender"),
    "volunteer.birth_year": ("出生日期（年）", "Member.birth_year"),
    "volunteer.id_number": ("证件号码（居民身份证，GB 11643）", "Member.id_number"),
    "volunteer.phone": ("联系电话", "Member.phone"),
    "volunteer.organization": ("所属志愿团体", "Member.organization.name"),
    "record.local_id": ("志愿服务记录编号", "ServiceRecord.pk"),
    "record.kind": ("记录类型（新增/更正/作废）", "NationalExportItem.kind"),
    "record.date": ("服务日期", "ServiceRecord.date"),
    "record.started_at": ("服务开始时间", "ServiceRecord.started_at"),
    "record.ended_at": ("服务结束时间", "ServiceRecord.ended_at"),
    "record.hours": ("志愿服务时间（小时）", "ServiceRecord.hours"),
    "record.service_category": ("服务类别", "ServiceRecord.service_category"),
    "record.content": ("服务内容", "ServiceRecord.content"),
    "record.place": ("服务地点", "ServiceRecord.place"),
    "record.organization": ("记录组织（志愿服务组织名称）", "ServiceRecord.recording_organization.name"),
    "record.organizer": ("负责人", "ServiceRecord.organizer"),
    "record.recorder": ("记录人", "ServiceRecord.recorder"),
    "record.note": ("备注（作废或更正原因）", "ServiceRecord.void_reason / correction"),
}
# Elements of the standard that other objects carry, for the reader of this map:
# - 志愿团体: members.Team (名称, 负责人 = leader, 所属组织) and members.Organization (名称, 联系人, 联系电话);
# - 志愿服务项目: projects.ServiceProject (项目名称, 服务类别 = category.national_category, 服务地点, 发起组织);
# - 活动: projects.Activity (开始时间, 结束时间, 地点, 负责人 = leader).

PARTS = ("volunteers", "records")


@dataclass(frozen=True)
class Column:
    header: str
    element: str = ""  # a key of ELEMENTS, or "" with `value`
    value: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # (platform value, file value)


@dataclass(frozen=True)
class ColumnMap:
    encoding: str
    volunteers: tuple[Column, ...]
    records: tuple[Column, ...]

    def part(self, name: str) -> tuple[Column, ...]:
        return self.volunteers if name == "volunteers" else self.records


class ColumnMapError(ValueError):
    """The column file is not usable (says which entry and why)."""


def load_columns(path: str | Path | None = None) -> ColumnMap:
    """The column map of `path` (default: settings.NATIONAL_EXPORT_COLUMNS), checked: every column has a header and
    a known element or a fixed value, and no header twice in a part."""
    path = Path(path or settings.NATIONAL_EXPORT_COLUMNS)
    return _load_columns(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _load_columns(path: str, _mtime: int) -> ColumnMap:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ColumnMapError(f"{path}: {exc}") from exc
    parts = {}
    for part in PARTS:
        columns = []
        for i, entry in enumerate(data.get(part) or ()):
            header, element = str(entry.get("header", "")).strip(), str(entry.get("element", ""))
            if not header:
                raise ColumnMapError(f"{path}: {part}[{i}] has no header")
            if element and element not in ELEMENTS:
                raise ColumnMapError(f"{path}: {part}[{i}] ({header}): unknown element {element!r}")
            if not element and "value" not in entry:
                raise ColumnMapError(f"{path}: {part}[{i}] ({header}): needs an element or a value")
            choices = tuple((str(k), str(v)) for k, v in (entry.get("choices") or {}).items())
            columns.append(Column(header=header, element=element, value=str(entry.get("value", "")), choices=choices))
        headers = [c.header for c in columns]
        if len(set(headers)) != len(headers):
            raise ColumnMapError(f"{path}: {part}: a header appears twice")
        if not columns:
            raise ColumnMapError(f"{path}: {part}: no columns")
        parts[part] = tuple(columns)
    return ColumnMap(encoding=str(data.get("encoding") or "utf-8-sig"), **parts)


# --- Writing --------------------------------------------------------------------------------------------------------


def category_label(code: str) -> str:
    return str(dict(SERVICE_CATEGORIES).get(code, _("其他")))


def volunteer_values(member: Member) -> dict[str, object]:
    """The volunteer elements of `member` (decrypts phone and ID number: call only for a file)."""
    return {
        "volunteer.national_number": member.national_volunteer_number,
        "volunteer.local_number": member.volunteer_number,
        "volunteer.name": member.name,
        "volunteer.gender": member.gender,
        "volunteer.birth_year": member.birth_year or "",
        "volunteer.id_number": member.id_number,
        "volunteer.phone": member.phone,
        "volunteer.organization": member.organization.name,
    }


def record_values(record: dict, *, volunteer: dict[str, object], recorder: str, note: str = "") -> dict[str, object]:
    """The record elements of an export item's `record` (the values members.services.national reads: kind,
    record_id, date, started_at, …), with its member's `volunteer` elements and the `recorder`'s name."""
    values = dict(volunteer)
    values.update(
        {
            "record.local_id": record["record_id"],
            "record.kind": record["kind"],
            "record.date": record["date"].isoformat(),
            "record.started_at": format_local(record["started_at"]),
            "record.ended_at": format_local(record["ended_at"]),
            "record.hours": f"{record['hours']:.2f}",
            "record.service_category": category_label(record["service_category"]),
            "record.content": record["content"],
            "record.place": record["place"],
            "record.organization": record["organization"],
            "record.organizer": record["organizer"],
            "record.recorder": recorder,
            "record.note": note,
        }
    )
    return values


def row(columns: Iterable[Column], values: dict[str, object]) -> list[object]:
    """One line of a file: each column's element value (translated by its choices) or its fixed value."""
    cells: list[object] = []
    for column in columns:
        if not column.element:
            cells.append(column.value)
            continue
        value = values.get(column.element, "")
        cells.append(dict(column.choices).get(str(value), str(value)) if column.choices else value)
    return cells


def csv_lines(columns: tuple[Column, ...], rows: Iterable[list[object]]) -> Iterator[str]:
    """A CSV file as lines (header first), each cell guarded against formulas (core.exports.inert)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.header for c in columns])
    for cells in rows:
        writer.writerow([inert(cell) for cell in cells])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


# --- Reading --------------------------------------------------------------------------------------------------------

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_TEXT = 500  # longest text an imported cell may hold (content); the fields' own limits are checked too


@dataclass(frozen=True)
class ImportedRow:
    """One row of a records file, by element ('' where the file has no such column)."""

    number: int  # its line in the file (the header is line 1)
    values: dict[str, str]


def read_rows(lines: Iterable[list[str]], columns: tuple[Column, ...]) -> tuple[list[ImportedRow], list[str]]:
    """The rows of a table whose first line is the header, each cell by the element of the column its header names
    in `columns` (choices read backwards). Returns (rows, problems of the header)."""
    iterator = iter(lines)
    try:
        header = [str(h or "").strip() for h in next(iterator)]
    except StopIteration:
        return [], [_("文件是空的。")]
    by_header = {c.header: c for c in columns}
    known = [by_header.get(h) for h in header]
    problems = []
    if not any(c is not None and c.element for c in known):
        problems.append(_("表头与列映射文件中的列名都不相符，请检查文件。"))
    rows = []
    for number, cells in enumerate(iterator, start=2):
        if not any(str(cell or "").strip() for cell in cells):
            continue
        values: dict[str, str] = {}
        for column, cell in zip(known, cells, strict=False):
            if column is None or not column.element:
                continue
            text = uninert(_cell_text(cell))
            if column.choices:
                text = {shown: value for value, shown in column.choices}.get(text, text)
            values[column.element] = text
        rows.append(ImportedRow(number=number, values=values))
    return rows, problems


def _cell_text(cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.strftime("%Y-%m-%d %H:%M")
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def text_problem(value: str, *, limit: int) -> str | None:
    """Why `value` cannot be stored as text (NUL or control characters, too long), or None."""
    if "\x00" in value or _CONTROL_RE.search(value):
        return _("含有不可见的控制字符")
    if len(value) > limit:
        return _("超过%(max)d个字") % {"max": limit}
    return None


def parse_day(value: str) -> date | None:
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def parse_moment(value: str, day: date | None) -> datetime | None:
    """A local wall time ("2026-03-01 09:00", or "09:00" on `day`) as an aware datetime; None when unreadable."""
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"):
        try:
            return timezone.make_aware(datetime.strptime(value, fmt))
        except ValueError:
            continue
    if day is not None:
        for fmt in ("%H:%M", "%H:%M:%S"):
            try:
                return timezone.make_aware(datetime.combine(day, datetime.strptime(value, fmt).time()))
            except ValueError:
                continue
    return None


def parse_hours(value: str) -> Decimal | None:
    try:
        hours = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return hours if hours.is_finite() else None


def default_start(day: date) -> datetime:
    """The start given to a record from elsewhere whose file has only a date: 08:00 local on that day."""
    return timezone.make_aware(datetime.combine(day, time(8, 0)))


def table_lines(content: bytes, filename: str) -> Iterator[list]:
    """The lines of an uploaded .csv (UTF-8, with or without BOM, or GB18030 as Excel saves it in China) or .xlsx
    file, each as a list of cells. Raises ValueError for another kind of file or one that cannot be read."""
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).worksheets[0]
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise ValueError(_("无法读取该Excel文件。")) from exc
        for values in sheet.iter_rows(values_only=True):
            yield list(values)
        return
    if not filename.lower().endswith(".csv"):
        raise ValueError(_("请上传 .csv 或 .xlsx 文件。"))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValueError(_("无法识别文件的字符编码（请保存为UTF-8）。"))
    yield from csv.reader(io.StringIO(text, newline=""))


def csv_to_xlsx(source, target, *, title: str) -> None:
    """A kept batch file (.csv, `source` open in binary) as an .xlsx written to `target`, row by row (openpyxl's
    write-only mode): the cells are read back as text and guarded again as .xlsx cells (core.exports.xlsx_cells)."""
    from openpyxl import Workbook

    from core.exports import xlsx_cells

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    try:
        for cells in csv.reader(text):
            sheet.append(xlsx_cells(sheet, [uninert(cell) for cell in cells]))
    finally:
        text.detach()
    workbook.save(target)

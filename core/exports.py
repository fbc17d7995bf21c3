"""Spreadsheet cells that stay data (OWASP, "CSV injection"): every .xlsx and .csv the platform writes goes through
here, since the text in them — a member's name, a branch's name — is typed by people who may not be trusted.

A spreadsheet runs a cell that starts with =, +, - or @ as a formula (`=HYPERLINK(…)` opens a link, `=cmd|…` once
ran programs), and a leading tab or carriage return hides such a start from a naive check. So:
- in an .xlsx file (openpyxl) such text is written as a text cell with Excel's "quote prefix" style. openpyxl
  itself stores any string that starts with "=" as a formula; a text cell is never evaluated, the quote prefix keeps
  it text when someone edits the cell, and the text reads back exactly as it was (`xlsx_cells`);
- in a .csv file, which has no types, it is prefixed with an apostrophe, as OWASP advises (`inert`); our own import
  takes the apostrophe away again (`uninert`).
Numbers are never touched: a negative number stays a number; only text is.
"""

import io
import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value) -> bool:
    """True for text that a spreadsheet would read as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def inert(value):
    """A cell for a CSV file: formula-like text behind an apostrophe; anything else (numbers too) unchanged."""
    return f"'{value}" if is_formula_like(value) else value


def uninert(text: str) -> str:
    """A cell read from a CSV file written with `inert`: without the apostrophe that guarded a formula-like text."""
    return text[1:] if text[:1] == "'" and is_formula_like(text[1:]) else text


def xlsx_cells(sheet, values: Iterable) -> list:
    """`values` as cells for `sheet.append` (a normal or a write-only worksheet): text always as text.

    Every value gets a cell of its own — write-only sheets otherwise reuse the last cell object passed in for the
    values after it. Control characters an .xlsx cannot hold (openpyxl refuses them) are dropped, so a stray one in
    a stored name cannot break an export.
    """
    cells: list[object] = []
    for value in values:
        if value is None:
            cells.append(None)
            continue
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell = Cell(sheet, row=1, column=1, value=value)
        if is_formula_like(value):
            cell.data_type = "s"
            cell.quotePrefix = True
        cells.append(cell)
    return cells


def xlsx_table(*, title: str, header: Sequence, rows: Iterable[Sequence], widths: Sequence[float] = ()) -> bytes:
    """An .xlsx file of one sheet named `title`: a bold header row that stays in view, then `rows`, every cell
    through `xlsx_cells`. Written row by row (openpyxl's write-only mode), so a long export never sits in memory as
    cell objects. `widths`: column widths, first column first (Excel's default where missing)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])  # Excel's limit for a sheet's name
    sheet.freeze_panes = "A2"
    for index, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    cells = xlsx_cells(sheet, header)
    for cell in cells:
        if cell is not None:
            cell.font = bold
    sheet.append(cells)
    for row in rows:
        sheet.append(xlsx_cells(sheet, row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# Characters Windows and macOS refuse in a file name, and control characters.
_NOT_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


def attachment(filename: str, *, ascii_fallback: str) -> str:
    """A Content-Disposition value that saves the download as `filename` (Chinese, RFC 5987's filename*, which
    every current browser reads), with `ascii_fallback` for clients that know only the plain filename."""
    name = _NOT_IN_FILE_NAMES.sub("-", filename)
    plain = _NOT_IN_FILE_NAMES.sub("-", ascii_fallback).encode("ascii", "replace").decode("ascii").replace("?", "-")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"

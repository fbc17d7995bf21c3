"""Exports are inert: a text cell that a spreadsheet would run — one starting with =, +, -, @, a
tab or a carriage return (OWASP, CSV injection) — leaves every .xlsx as a text cell and every .csv behind an
apostrophe, whichever export writes it: the roster (admin, .xlsx and .csv), the four dashboard exports and the
training completion export. Numbers stay numbers, negative ones included."""

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from core.exports import FORMULA_START, inert, uninert, xlsx_cells
from members.models import Member, Organization
from members.resources import MemberResource

pytestmark = pytest.mark.django_db

# What a member types as their name, a secretary as a branch's name (tests/data holds the whole corpus).
DANGEROUS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/","点击查看")',
    "@SUM(1+1)",
    "+1+1",
    "-1+1",
    "\t=1+1",
    "\r=1+1",
]
DASHBOARD = ("figures", "league", "member-hours", "training")
XLSX_ROSTER, CSV_ROSTER = "0", "1"  # indexes of RosterImportExportMixin.export_formats


def _as_read(text: str) -> str:
    """A value as compared after reading it back from an .xlsx file. Whether a carriage return survives depends on
    the XML library openpyxl finds: without lxml it writes the CR raw and the parser turns it into a line feed;
    with lxml (installed with python-docx) it is kept. Both sides of a comparison go through this."""
    return text.replace("\r", "\n")


def _xlsx_cells(content: bytes) -> list:
    workbook = load_workbook(io.BytesIO(content))  # not read_only: it reports every cell's data type
    return [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]


def _assert_inert_xlsx(content: bytes) -> list:
    cells = _xlsx_cells(content)
    formulas = [(cell.coordinate, cell.value) for cell in cells if cell.data_type == "f"]
    assert formulas == []
    for cell in cells:
        if isinstance(cell.value, str) and _as_read(cell.value).startswith((*FORMULA_START, "\n")):
            assert cell.data_type == "s" and cell.quotePrefix, (cell.coordinate, cell.value)
    return [_as_read(cell.value) if isinstance(cell.value, str) else cell.value for cell in cells]


def _name_everything(org_tree, member_a, value: str) -> None:
    """The branch and the member carry the dangerous text (stored as it is, whatever the forms accept today)."""
    Organization.objects.filter(pk=org_tree.branch_a.pk).update(name=value)
    Member.objects.filter(pk=member_a.pk).update(name=value)


@pytest.fixture
def signed_in_a(client, secretary_a):
    client.force_login(secretary_a)
    return client


# --- The helper ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", DANGEROUS)
def test_inert_puts_an_apostrophe_before_a_formula_and_uninert_takes_it_away(value):
    assert inert(value) == "'" + value
    assert uninert(inert(value)) == value


@pytest.mark.parametrize("value", ["李明", "", "1+1", "a=b", "'quoted", " =1+1", -5, -1.5, 0, None, 3])
def test_inert_leaves_other_text_and_every_number_alone(value):
    assert inert(value) == value
    if isinstance(value, str):
        assert uninert(value) == value


@pytest.mark.parametrize("write_only", [True, False])
def test_xlsx_cells_write_text_as_text_and_numbers_as_numbers(write_only):
    workbook = Workbook(write_only=write_only)
    sheet = workbook.create_sheet("s") if write_only else workbook.active
    row = [*DANGEROUS, -5, -1.5, 7, None, "李明", "x\x01y"]
    sheet.append(xlsx_cells(sheet, row))
    sheet.append(xlsx_cells(sheet, ["-3", 2]))  # a second row: no cell of the first is reused
    buffer = io.BytesIO()
    workbook.save(buffer)

    _assert_inert_xlsx(buffer.getvalue())
    first, second = load_workbook(io.BytesIO(buffer.getvalue())).worksheets[-1].iter_rows(max_col=len(row))
    assert [_as_read(c.value) for c in first[: len(DANGEROUS)]] == [_as_read(v) for v in DANGEROUS]
    numbers = first[len(DANGEROUS) : len(DANGEROUS) + 3]
    assert [(c.value, c.data_type, c.quotePrefix) for c in numbers] == [
        (-5, "n", False),
        (-1.5, "n", False),
        (7, "n", False),
    ]
    # A control character an .xlsx cannot hold is dropped; plain text keeps the default style.
    assert [c.value for c in first[len(DANGEROUS) + 3 :]] == [None, "李明", "xy"]
    assert not any(c.quotePrefix for c in first[len(DANGEROUS) + 3 :])
    assert [(c.value, c.quotePrefix) for c in second[:2]] == [("-3", True), (2, False)]


# --- Every export -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", DANGEROUS)
def test_dashboard_exports_write_formulas_as_text(client, platform_admin, org_tree, member_a, value):
    _name_everything(org_tree, member_a, value)
    client.force_login(platform_admin)
    for kind in DASHBOARD:
        # The league lists the organizations under the one chosen: the branch is in the east committee's.
        org = org_tree.east if kind == "league" else org_tree.branch_a
        response = client.get(f"/dashboard/export/{kind}.xlsx?org={org.pk}&year=2025")
        assert response.status_code == 200, kind
        values = _assert_inert_xlsx(response.content)
        assert _as_read(value) in values, kind  # the branch's name (every kind), the member's name (member-hours)
        if kind == "member-hours":
            assert values.count(_as_read(value)) >= 2


@pytest.mark.parametrize("value", DANGEROUS)
def test_training_completion_export_writes_formulas_as_text(signed_in_a, org_tree, member_a, value):
    _name_everything(org_tree, member_a, value)
    response = signed_in_a.get(reverse("training:completion_export"), {"organization": org_tree.branch_a.pk})
    assert response.status_code == 200
    values = _assert_inert_xlsx(response.content)
    assert _as_read(value) in values  # the branch's row
    assert any(isinstance(v, str) and v.startswith(_as_read(value) + " ") for v in values)  # the title


def _roster(client, file_format) -> bytes:
    fields = {f"memberresource_{name}": "on" for name in MemberResource._meta.fields}
    response = client.post(reverse("admin:members_member_export"), {"resource": "0", "format": file_format, **fields})
    assert response.status_code == 200, response.content.decode()[:500]
    return response.content


@pytest.mark.parametrize("value", DANGEROUS)
def test_roster_xlsx_writes_formulas_as_text(signed_in_a, org_tree, member_a, value):
    _name_everything(org_tree, member_a, value)
    values = _assert_inert_xlsx(_roster(signed_in_a, XLSX_ROSTER))
    assert values.count(_as_read(value)) >= 2  # the member's name and the branch of everyone in it


@pytest.mark.parametrize("value", DANGEROUS)
def test_roster_csv_puts_an_apostrophe_before_formulas(signed_in_a, org_tree, member_a, value):
    _name_everything(org_tree, member_a, value)
    rows = list(csv.reader(io.StringIO(_roster(signed_in_a, CSV_ROSTER).decode("utf-8-sig"), newline="")))
    cells = [cell for row in rows for cell in row]
    assert [cell for cell in cells if cell.startswith(FORMULA_START)] == []
    by_number = {row[0]: row for row in rows[1:]}
    assert by_number[member_a.volunteer_number][1] == "'" + value
    assert by_number[member_a.volunteer_number][5] == "'" + value


def test_the_roster_import_reads_a_guarded_cell_as_the_text_it_guards(signed_in_a, org_tree):
    """An exported CSV file, filled with new rows and imported: the apostrophe is the export's, not the name's."""
    value = '=HYPERLINK("http://evil.example/","点击查看")'
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["姓名", "手机号", "所在支部"])
    writer.writerow([inert(value), "13912345678", org_tree.branch_a.name])
    upload = io.BytesIO(text.getvalue().encode("utf-8-sig"))
    upload.name = "roster.csv"
    preview = signed_in_a.post(
        reverse("admin:members_member_import"), {"resource": "0", "format": CSV_ROSTER, "import_file": upload}
    )
    assert "confirm_form" in preview.context, preview.content.decode()[:2000]
    signed_in_a.post(reverse("admin:members_member_process_import"), preview.context["confirm_form"].initial)
    assert Member.objects.get(name=value).organization == org_tree.branch_a

"""What a secretary sees of an export: the roster's export page in Chinese, and files named in Chinese by the local
date (RFC 5987, with an ASCII name for old clients), each sheet named after what it holds."""

import io
import re
from urllib.parse import quote, unquote

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from members.resources import MemberResource

pytestmark = pytest.mark.django_db

EXPORT = reverse("admin:members_member_export")
XLSX, CSV = "0", "1"


def _filename(response) -> str:
    """The name a browser saves the file under: the RFC 5987 one when present (every current browser reads it)."""
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert re.search(r'filename="[\x20-\x7e]+"', disposition)  # the fallback for old clients is plain ASCII
    encoded = re.search(r"filename\*=UTF-8''(\S+)", disposition)
    assert encoded, disposition
    return unquote(encoded.group(1))


def _roster_export(client, file_format):
    fields = {f"memberresource_{name}": "on" for name in MemberResource._meta.fields}
    return client.post(EXPORT, {"resource": "0", "format": file_format, **fields})


def test_the_export_page_speaks_chinese(client, platform_admin, member_a):
    client.force_login(platform_admin)
    html = client.get(EXPORT).content.decode()
    assert "Select all" not in html and "全选" in html
    labels = re.findall(r'<label for="id_memberresource_[^"]+">(.*?)</label>', html, re.S)
    assert labels[:3] == ["志愿者编号", "姓名", "性别"]
    assert [label for label in labels if re.search(r"[A-Za-z]", label)] == []


@pytest.mark.parametrize("url", [EXPORT, reverse("admin:members_member_import")])
def test_the_format_list_says_what_to_choose(client, platform_admin, url):
    client.force_login(platform_admin)
    html = client.get(url).content.decode()
    options = re.findall(
        r"<option[^>]*>(.*?)</option>", re.search(r'<select name="format".*?</select>', html, re.S).group()
    )
    assert options == ["请选择格式", "xlsx", "csv"]


@pytest.mark.parametrize(("file_format", "extension"), [(XLSX, "xlsx"), (CSV, "csv")])
def test_the_roster_file_is_named_in_chinese_by_the_local_date(client, clock, platform_admin, file_format, extension):
    clock.set_local(7)  # 07:00 in Beijing is still the day before in UTC
    client.force_login(platform_admin)
    response = _roster_export(client, file_format)
    assert _filename(response) == f"党员名册-{timezone.localdate():%Y-%m-%d}.{extension}"


def test_the_roster_sheet_is_named(client, platform_admin, member_a):
    client.force_login(platform_admin)
    workbook = openpyxl.load_workbook(io.BytesIO(_roster_export(client, XLSX).content))
    assert workbook.sheetnames == ["党员名册"]


@pytest.mark.parametrize(
    ("kind", "title"),
    [
        ("figures", "主要指标"),
        ("league", "下级组织排行"),
        ("member-hours", "党员服务时长"),
        ("training", "培训学时完成情况"),
    ],
)
def test_dashboard_files_are_named_in_chinese(client, org_tree, secretary_a, kind, title):
    client.force_login(secretary_a)
    response = client.get(f"/dashboard/export/{kind}.xlsx?year=2025")
    assert _filename(response) == f"{title}-东一支部-2025-01-01至2025-12-31.xlsx"
    assert openpyxl.load_workbook(io.BytesIO(response.content)).sheetnames == [title]


def test_quote_is_what_the_header_carries():
    # The header's encoding is the standard one: what the tests above decode is what browsers decode.
    assert unquote(quote("党员名册-2026-12-10.xlsx", safe="")) == "党员名册-2026-12-10.xlsx"

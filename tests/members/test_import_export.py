"""Roster import and export (members.resources through the roster admin): every row's problems in plain Chinese,
nothing saved while any row is invalid, the importer's scope, scoped exports with masked phones, 5,000 rows fast."""

import csv
import io
import time

import openpyxl
import pytest
import tablib
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

from members import services
from members.models import Member, Organization, Tag
from members.resources import COLUMNS, MemberResource
from tests.members.factories import MemberFactory, OrganizationFactory, next_phone

pytestmark = pytest.mark.django_db

User = get_user_model()
IMPORT = reverse("admin:members_member_import")
PROCESS = reverse("admin:members_member_process_import")
EXPORT = reverse("admin:members_member_export")
XLSX, CSV = "0", "1"  # indexes of RosterImportExportMixin.import_formats / export_formats


def _row(**cells) -> list[str]:
    values = {"姓名": "刘芳", "手机号": next_phone(), "所在支部": "东一支部", **cells}
    return [values.get(column, "") for column in COLUMNS]


def _dataset(*rows) -> tablib.Dataset:
    return tablib.Dataset(*rows, headers=list(COLUMNS))


def _xlsx(*rows) -> io.BytesIO:
    upload = io.BytesIO(_dataset(*rows).export("xlsx"))
    upload.name = "名册.xlsx"
    return upload


def _csv(*rows, encoding="utf-8-sig") -> io.BytesIO:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    upload = io.BytesIO(text.getvalue().encode(encoding))
    upload.name = "名册.csv"
    return upload


def _counts():
    return Member.objects.count(), User.objects.count(), Tag.objects.count(), Member.history.count()


def _preview(client, upload, file_format=XLSX):
    return client.post(IMPORT, {"resource": "0", "format": file_format, "import_file": upload})


def _confirm(client, preview):
    """Press 'confirm import' on a preview page."""
    assert "confirm_form" in preview.context, preview.content.decode()
    return client.post(PROCESS, preview.context["confirm_form"].initial)


def _messages(response) -> list[str]:
    """The problems the import page lists, one sentence each."""
    result = response.context["result"]
    return [m for row in result.invalid_rows for m in row.error.messages] + [str(e.error) for e in result.base_errors]


@pytest.fixture
def signed_in_a(client, secretary_a):
    client.force_login(secretary_a)
    return client


# --- Import -----------------------------------------------------------------------------------------------------


def test_a_valid_xlsx_registers_new_members_with_accounts_tags_and_history(signed_in_a, secretary_a, org_tree):
    rows = [
        _row(姓名=" 王秀英 ", 性别="女", 出生年份="1948", 手机号="139 1234 5678", 特长="理发、 家电维修", 状态="免除"),
        _row(姓名="张伟", 性别="男", 出生年份=1980, 兴趣="助老，关爱儿童", 可服务时段="周一上午、周三晚上"),
    ]
    before = _counts()
    preview = _preview(signed_in_a, _xlsx(*rows))
    html = preview.content.decode()
    assert "将登记 2 名新党员" in html
    assert "139****5678" in html and "13912345678" not in html  # the preview masks phones like every list
    assert _counts() == before  # the preview saves nothing

    response = _confirm(signed_in_a, preview)
    assert response.status_code == 302
    assert _counts()[0] == before[0] + 2

    wang = Member.objects.get(name="王秀英")
    assert wang.phone == "13912345678" and wang.phone_hash
    assert wang.gender == "female" and wang.birth_year == 1948 and wang.status == Member.Status.EXEMPT
    assert wang.organization == org_tree.branch_a
    assert sorted(wang.skills.values_list("name", flat=True)) == ["家电维修", "理发"]
    assert wang.user.username == wang.volunteer_number and not wang.user.has_usable_password()
    history = wang.history.get()
    assert history.history_user == secretary_a and history.history_change_reason == "导入名册"

    zhang = Member.objects.get(name="张伟")
    assert set(zhang.interests.values_list("name", flat=True)) == {"助老", "关爱儿童"}
    assert zhang.availability == (1 << 0) | (1 << 8)  # Monday morning, Wednesday evening
    assert Tag.objects.filter(kind=Tag.Kind.SKILL, name="理发").count() == 1
    messages = [str(m) for m in signed_in_a.get(response.url).context["messages"]]
    assert any("已导入 2 名党员" in m for m in messages)


def test_a_valid_csv_imports_in_utf8_and_in_the_gbk_excel_writes(signed_in_a, org_tree):
    Tag.objects.create(kind=Tag.Kind.SKILL, name="理发")  # an existing tag is matched by name, not copied
    for encoding, name in (("utf-8-sig", "陈静"), ("gb18030", "黄磊")):
        upload = _csv(_row(姓名=name, 特长="理发"), encoding=encoding)
        response = _confirm(signed_in_a, _preview(signed_in_a, upload, CSV))
        assert response.status_code == 302
        member = Member.objects.get(name=name)
        assert member.organization == org_tree.branch_a
        assert list(member.skills.values_list("name", flat=True)) == ["理发"]
    assert Tag.objects.filter(name="理发").count() == 1


def test_one_bad_row_among_good_ones_saves_nothing_and_is_named(signed_in_a, org_tree):
    rows = [_row(姓名="李娜"), _row(姓名="王强", 手机号="12345"), _row(姓名="赵敏")]
    before = _counts()
    preview = _preview(signed_in_a, _xlsx(*rows))
    assert preview.status_code == 200
    assert "confirm_form" not in preview.context  # no way to confirm a file with a bad row
    assert _messages(preview) == ["第3行：手机号“12345”格式不正确，应为11位中国大陆手机号码。"]
    html = preview.content.decode()
    assert "有 1 行需要改正，没有导入任何党员" in html
    assert "第3行：手机号“12345”格式不正确" in html
    assert _counts() == before


def test_every_kind_of_bad_row_gets_its_own_chinese_message(signed_in_a, org_tree, member_a, member_b):
    OrganizationFactory(name="东一支部", parent=org_tree.west)  # same name as branch A, outside A's scope
    rows = [
        _row(姓名="好人", 手机号="13700000001"),  # line 2
        _row(手机号="13700000001"),  # 3: the same phone as line 2
        _row(手机号=member_b.phone),  # 4: a phone already registered (by a member out of scope)
        _row(所在支部="不存在支部"),  # 5
        _row(所在支部="东社区党委"),  # 6: not a branch (and out of A's scope)
        _row(志愿者编号=member_a.volunteer_number),  # 7: already on the roster
        _row(志愿者编号="V2020999999"),  # 8: numbers are allocated by the platform
        _row(姓名=""),  # 9
        _row(性别="未知", 出生年份="六五年", 状态="党员"),  # 10
        _row(可服务时段="周八上午", 特长="x" * 51),  # 11
        ["", "", "", "", "", "", "", "", "", ""],  # 12: a blank line is skipped, not an error
    ]
    before = _counts()
    messages = _messages(_preview(signed_in_a, _xlsx(*rows)))
    assert _counts() == before
    expected = [
        "第3行：手机号与第2行重复。",
        "第4行：该手机号已被其他党员使用。",
        "第5行：找不到党支部“不存在支部”，或它不在您管理的范围内。",
        "第6行：找不到党支部“东社区党委”，或它不在您管理的范围内。",
        f"第7行：志愿者编号{member_a.volunteer_number}已在名册中（李明）。导入只登记新党员，修改请在名册中进行。",
        "第8行：志愿者编号由平台分配，登记新党员时请留空。",
        "第9行：请填写姓名。",
        "第10行：性别“未知”无法识别，请填写“男”或“女”。",
        "第10行：出生年份“六五年”不正确，请填写四位数年份，如1965。",
        "第10行：状态“党员”无法识别，请填写“在册”或“免除”。",
        "第11行：特长“" + "x" * 51 + "”不能为空，也不能超过50个字。",
        "第11行：可服务时段“周八上午”无法识别，请写成“周一上午、周三晚上”这样的形式。",
    ]
    assert messages == expected


def test_branch_names_that_repeat_are_written_with_their_parent(client, east_secretary, org_tree):
    committee = OrganizationFactory(name="东二社区党委", type=Organization.Type.COMMITTEE, parent=org_tree.east)
    OrganizationFactory(name="东一支部", parent=committee)
    client.force_login(east_secretary)
    messages = _messages(_preview(client, _xlsx(_row())))
    assert messages == ["第2行：有多个党支部名为“东一支部”，请写成“上级组织/支部名称”，如“东社区党委/东一支部”。"]
    response = _confirm(client, _preview(client, _xlsx(_row(姓名="周杰", 所在支部="东社区党委 / 东一支部"))))
    assert response.status_code == 302
    assert Member.objects.get(name="周杰").organization == org_tree.branch_a


def test_a_non_branch_in_scope_is_refused_by_the_services_rule(client, east_secretary, org_tree):
    client.force_login(east_secretary)
    assert _messages(_preview(client, _xlsx(_row(所在支部="东社区党委")))) == ["第2行：所在支部必须是党支部。"]


def test_secretary_of_a_cannot_import_into_branch_b(signed_in_a, org_tree):
    before = _counts()
    messages = _messages(_preview(signed_in_a, _xlsx(_row(所在支部="西一支部"))))
    assert messages == ["第2行：找不到党支部“西一支部”，或它不在您管理的范围内。"]
    assert _counts() == before


def test_missing_columns_refuse_the_file(signed_in_a):
    upload = io.BytesIO(tablib.Dataset(["刘芳"], headers=["姓名"]).export("xlsx"))
    upload.name = "x.xlsx"
    response = _preview(signed_in_a, upload)
    assert "confirm_form" not in response.context
    assert _messages(response)[0].startswith("文件缺少必需的列：手机号、所在支部。")
    assert "没有导入任何党员" in response.content.decode()


def test_the_confirmation_checks_again_and_saves_nothing_when_a_phone_was_taken_since(signed_in_a, org_tree):
    taken = next_phone()
    preview = _preview(signed_in_a, _xlsx(_row(姓名="先到"), _row(姓名="后到", 手机号=taken)))
    assert "confirm_form" in preview.context
    MemberFactory(organization=org_tree.branch_b, phone=taken)  # someone else registers the number meanwhile
    before = _counts()
    response = _confirm(signed_in_a, preview)
    assert response.status_code == 200  # the import page again, not a success redirect
    assert _messages(response) == ["第3行：该手机号已被其他党员使用。"]
    assert _counts() == before


def test_the_service_refuses_a_batch_with_any_problem_and_writes_nothing(org_tree):
    good = services.NewMember(name="甲", phone=next_phone(), organization=org_tree.branch_a)
    bad = services.NewMember(name="乙", phone=good.phone, organization=org_tree.east)
    before = _counts()
    with pytest.raises(ValidationError) as exc:
        services.members_import(rows=[good, bad], actor=None)
    assert exc.value.messages == ["第2行：所在支部必须是党支部。", "第2行：手机号与第1行重复。"]
    assert _counts() == before


@pytest.mark.parametrize(
    ("persona", "status"),
    [("platform_admin", 200), ("secretary_a", 200), ("staff_without_scope", 403), ("member", 302), ("anonymous", 302)],
)
def test_import_and_export_pages_by_persona(persona, status, request, client, org_tree, member_a):
    if persona != "anonymous":
        user = member_a.user if persona == "member" else request.getfixturevalue(persona)
        client.force_login(user)
    for url in (IMPORT, EXPORT):
        assert client.get(url).status_code == status, url


def test_staff_without_scope_cannot_post_an_import(client, staff_without_scope, org_tree):
    client.force_login(staff_without_scope)
    before = _counts()
    assert _preview(client, _xlsx(_row())).status_code == 403
    assert _counts() == before


# --- Export -----------------------------------------------------------------------------------------------------


def _export(client, file_format, **filters):
    url = EXPORT + ("?" + "&".join(f"{k}={v}" for k, v in filters.items()) if filters else "")
    fields = {f"memberresource_{name}": "on" for name in MemberResource._meta.fields}
    response = client.post(url, {"resource": "0", "format": file_format, **fields})
    assert response.status_code == 200, response.content.decode()[:500]
    return response


def _csv_rows(response) -> list[dict]:
    assert response.content.startswith("\ufeff".encode())  # Excel needs the BOM to show Chinese
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_secretary_export_has_visible_members_only_with_masked_phones(signed_in_a, member_a, member_b, org_tree):
    services.member_update_profile(
        member=member_a, actor=None, skills=[Tag.objects.create(kind=Tag.Kind.SKILL, name="理发")], availability=1
    )
    rows = {row["姓名"]: row for row in _csv_rows(_export(signed_in_a, CSV))}
    assert set(rows) == {"王书记", "李明"}  # branch A's secretary and member; not 周红 of branch B
    row = rows["李明"]
    assert row["志愿者编号"] == member_a.volunteer_number
    assert row["姓名"] == "李明" and row["所在支部"] == "东一支部" and row["状态"] == "在册"
    assert row["特长"] == "理发" and row["可服务时段"] == "周一上午"
    assert row["手机号"] == member_a.phone_masked != member_a.phone


def test_platform_admin_export_has_everyone_with_full_phones_in_xlsx(client, platform_admin, member_a, member_b):
    client.force_login(platform_admin)
    response = _export(client, XLSX)
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == list(COLUMNS)
    phones = {row[0]: row[4] for row in rows[1:]}
    assert phones == {member_a.volunteer_number: member_a.phone, member_b.volunteer_number: member_b.phone}


def test_export_follows_the_rosters_search(client, platform_admin, member_a, member_b):
    client.force_login(platform_admin)
    rows = _csv_rows(_export(client, CSV, q="周红"))
    assert [row["姓名"] for row in rows] == ["周红"]


def test_the_resource_exports_nothing_without_a_user(member_a):
    assert len(MemberResource().export()) == 0


def test_a_formula_in_a_name_is_not_run_by_the_spreadsheet(signed_in_a, member_a):
    services.member_update_profile(member=member_a, actor=None, name='=HYPERLINK("x")')
    names = {row["姓名"] for row in _csv_rows(_export(signed_in_a, CSV))}
    assert '\'=HYPERLINK("x")' in names


def test_re_importing_an_export_reports_the_members_already_on_the_roster(client, platform_admin, member_a):
    client.force_login(platform_admin)
    upload = io.BytesIO(_export(client, XLSX).content)
    upload.name = "roster.xlsx"
    messages = _messages(_preview(client, upload))
    assert messages == [
        f"第2行：志愿者编号{member_a.volunteer_number}已在名册中（李明）。导入只登记新党员，修改请在名册中进行。",
        "第2行：该手机号已被其他党员使用。",
    ]


def test_export_queries_do_not_grow_with_rows(signed_in_a, org_tree):
    from tests.queries import count_queries

    skill = Tag.objects.create(kind=Tag.Kind.SKILL, name="书法")

    def add(n):
        for member in MemberFactory.create_batch(n, organization=org_tree.branch_a):
            services.member_update_profile(member=member, actor=None, skills=[skill])

    add(5)
    small, _ = count_queries(lambda: _export(signed_in_a, CSV))
    add(45)
    large, sqls = count_queries(lambda: _export(signed_in_a, CSV))
    assert small == large, "\n".join(sqls)


# --- 5,000 rows -------------------------------------------------------------------------------------------------


@pytest.mark.thorough  # a measurement of about 15 s: make test-thorough
@pytest.mark.postgres
def test_an_import_of_5000_rows_takes_under_30_seconds(signed_in_a, org_tree):
    skills = ["理发", "家电维修", "法律咨询", "医疗护理", "书法"]
    rows = [
        _row(
            姓名=f"党员{i}",
            手机号=f"150{i:08d}",
            性别="男女"[i % 2],
            出生年份=1950 + i % 50,
            特长="、".join(skills[: i % 5]),
            兴趣="助老",
            可服务时段="周六上午、周日下午",
        )
        for i in range(5000)
    ]
    upload = _xlsx(*rows)
    before = Member.objects.count()
    started = time.perf_counter()
    preview = _preview(signed_in_a, upload)
    previewed = time.perf_counter()
    response = _confirm(signed_in_a, preview)
    elapsed = time.perf_counter() - started
    assert response.status_code == 302
    assert Member.objects.count() == before + 5000
    assert Member.skills.through.objects.count() == 2 * 5000  # 0+1+2+3+4 skills over each 5 rows
    print(
        f"\n5,000-row import: preview {previewed - started:.1f} s, confirmation {elapsed - (previewed - started):.1f} s"
    )
    assert elapsed < 30

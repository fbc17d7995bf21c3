"""The exchange with the national system (全国志愿服务信息系统): identifiers, export batches, records from elsewhere.

The export is tested against the column map file itself (members/data/national_columns.json, or an edited copy):
its headers are what the files carry, in its order.
"""

import csv
import io
import json
import tracemalloc
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from incentives.models import LedgerEntry
from members import national, selectors, services
from members.identifiers import normalize_id_number, normalize_national_volunteer_number
from members.models import (
    Member,
    NationalExportBatch,
    NationalExportItem,
    ServiceRecord,
    ServiceRecordCorrection,
    ServiceYear,
)
from members.services import national as exchange
from tests.members.factories import MemberFactory
from volunteer_platform import reconcile

pytestmark = pytest.mark.django_db

DAY = date(2026, 12, 1)
PERIOD = {"period_start": date(2026, 12, 1), "period_end": date(2026, 12, 31)}


def verified(member, verifier, *, day=DAY, hours="2", organizer="李书记", organization=None):
    start = datetime.combine(day, time(9, 0), tzinfo=selectors.timezone.get_current_timezone())
    record = services.service_record_create(
        member=member,
        start=start,
        end=start + timedelta(hours=3),
        hours=Decimal(hours),
        place="东风村活动室",
        content="为空巢老人打扫卫生",
        source=ServiceRecord.Source.MANUAL,
        recording_organization=organization or member.organization,
        organizer=organizer,
        recorder=verifier,
    )
    return services.service_record_verify(record=record, verifier=verifier)


def lines(field_file) -> list[list[str]]:
    field_file.open("rb")
    try:
        return list(csv.reader(io.StringIO(field_file.read().decode("utf-8-sig"))))
    finally:
        field_file.close()


def export(organization, actor, **kwargs):
    return exchange.national_export_create(organization=organization, actor=actor, **(PERIOD | kwargs))


def sent(kind) -> list[int]:
    return sorted(NationalExportItem.objects.filter(kind=kind).values_list("record_id", flat=True))


# --- Identifiers ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("11010519491231002X", "11010519491231002X"),  # GB 11643's own example: X as the check character
        ("11010519491231002x", "11010519491231002X"),  # x typed in lower case
        ("440524188001010014", "440524188001010014"),  # a digit as the check character
        ("4405 2418 8001 0100 14", "440524188001010014"),  # spaces as people write it
    ],
)
def test_a_valid_id_number_is_normalised(raw, expected):
    assert normalize_id_number(raw) == expected


@pytest.mark.parametrize(
    "raw, message",
    [
        ("110105194912310021", "校验位"),  # the check character should be X
        ("440524188001010015", "校验位"),  # one off in the check digit
        ("44052418800101001", "18位"),  # 17 characters
        ("4405241880010100144", "18位"),  # 19 characters
        ("44052418800101001Y", "18位"),  # a letter other than X
        ("X40524188001010014", "18位"),  # X anywhere but last
        ("", "18位"),
    ],
)
def test_a_wrong_id_number_is_refused_with_its_reason(raw, message):
    with pytest.raises(ValidationError) as error:
        normalize_id_number(raw)
    assert message in error.value.messages[0]


def test_the_national_number_is_optional_checked_and_unique(org_tree):
    assert normalize_national_volunteer_number("") == ""
    assert normalize_national_volunteer_number(" zy-2026 0001 ") == "ZY20260001"
    for wrong in ("12345", "ZY2026_0001", "志愿者2026000001", "A" * 33):
        with pytest.raises(ValidationError):
            normalize_national_volunteer_number(wrong)
    first = MemberFactory(organization=org_tree.branch_a, national_volunteer_number="zy20260001")
    assert first.national_volunteer_number == "ZY20260001"
    with pytest.raises(ValidationError) as error:
        MemberFactory(organization=org_tree.branch_b, national_volunteer_number="ZY20260001")
    assert "national_volunteer_number" in error.value.message_dict
    second = MemberFactory(organization=org_tree.branch_b)
    services.member_update_profile(member=second, actor=None, national_volunteer_number="ZY20260002")
    assert Member.objects.get(pk=second.pk).national_volunteer_number == "ZY20260002"
    with transaction.atomic(), pytest.raises(IntegrityError):  # the partial UNIQUE, under any service
        Member.objects.filter(pk=second.pk).update(national_volunteer_number="ZY20260001")


# --- Export ---------------------------------------------------------------------------------------------------------


def test_a_batch_has_the_unregistered_volunteers_and_the_periods_verified_records(
    clock, org_tree, secretary_a, member_a, member_b, platform_admin
):
    registered = MemberFactory(organization=org_tree.branch_a, national_volunteer_number="ZY20250099")
    mine = verified(member_a, secretary_a)
    verified(registered, secretary_a, hours="1.5")
    verified(member_a, secretary_a, day=date(2026, 11, 30))  # before the period
    verified(member_b, platform_admin)  # another subtree
    services.service_record_create(  # pending: not sent
        member=member_a,
        start=mine.started_at + timedelta(days=1),
        end=mine.ended_at + timedelta(days=1),
        hours=1,
        place="社区",
        content="巡逻",
        source=ServiceRecord.Source.MANUAL,
        recording_organization=org_tree.branch_a,
        organizer="李书记",
        recorder=None,
    )

    batch = export(org_tree.branch_a, secretary_a)

    assert (batch.volunteers, batch.records, batch.corrections, batch.voids) >= (1, 2, 0, 0)
    assert batch.records == 2 and batch.corrections == 0
    volunteer_lines = lines(batch.volunteers_file)
    columns = national.load_columns()
    assert volunteer_lines[0] == [c.header for c in columns.volunteers]
    names = {line[volunteer_lines[0].index("姓名")] for line in volunteer_lines[1:]}
    assert "李明" in names and registered.name not in names and "周红" not in names
    record_lines = lines(batch.records_file)
    header = record_lines[0]
    assert header == [c.header for c in columns.records]
    by_number = {line[header.index("本地志愿者编号")]: line for line in record_lines[1:]}
    line = by_number[member_a.volunteer_number]
    assert line[header.index("服务时长（小时）")] == "2.00"
    assert line[header.index("服务日期")] == "2026-12-01"
    assert line[header.index("开始时间")] == "2026-12-01 09:00"  # local wall time
    assert line[header.index("记录类型")] == "新增"
    assert line[header.index("服务组织")] == "东一支部"
    assert line[header.index("负责人")] == "李书记"
    assert line[header.index("记录人")] == "王书记"
    assert by_number[registered.volunteer_number][header.index("志愿者统一编号")] == "ZY20250099"


def test_no_record_goes_in_two_batches_and_a_correction_goes_in_the_next(clock, org_tree, secretary_a, member_a):
    first_record = verified(member_a, secretary_a)
    second_record = verified(member_a, secretary_a, day=date(2026, 12, 2))
    first = export(org_tree.branch_a, secretary_a)
    assert sent(NationalExportItem.Kind.RECORD) == [first_record.pk, second_record.pk]

    clock.advance(3600)
    again = export(org_tree.street, secretary_a)  # the street's subtree holds the branch: nothing again
    assert (again.volunteers, again.records, again.corrections, again.voids) == (0, 0, 0, 0)
    assert lines(again.records_file)[1:] == []

    clock.advance(3600)
    correction = services.service_record_correction_request(
        record=first_record, requested_by=member_a.user, reason="实际服务1小时", hours=1
    )
    services.service_record_correction_review(correction=correction, reviewer=secretary_a, approve=True)
    services.service_record_void(record=second_record, actor=secretary_a, reason="重复登记")
    third = export(org_tree.branch_a, secretary_a)
    assert (third.records, third.corrections, third.voids) == (0, 1, 1)
    record_lines = lines(third.records_file)
    header = record_lines[0]
    kinds = {int(line[header.index("记录编号")]): line for line in record_lines[1:]}
    assert kinds[first_record.pk][header.index("记录类型")] == "更正"
    assert kinds[first_record.pk][header.index("服务时长（小时）")] == "1.00"
    assert kinds[second_record.pk][header.index("记录类型")] == "作废"
    assert kinds[second_record.pk][header.index("作废或更正原因")] == "重复登记"

    clock.advance(3600)
    fourth = export(org_tree.branch_a, secretary_a)
    assert (fourth.records, fourth.corrections, fourth.voids) == (0, 0, 0)
    # The first file is kept as it went out: the original hours.
    header = lines(first.records_file)[0]
    assert lines(first.records_file)[1][header.index("服务时长（小时）")] == "2.00"
    assert ServiceRecordCorrection.objects.get().status == ServiceRecordCorrection.Status.APPROVED


def test_the_database_refuses_a_record_sent_twice_as_new(clock, org_tree, secretary_a, member_a):
    record = verified(member_a, secretary_a)
    batch = export(org_tree.branch_a, secretary_a)
    with transaction.atomic(), pytest.raises(IntegrityError):
        NationalExportItem.objects.create(
            batch=batch, kind=NationalExportItem.Kind.RECORD, record=record, record_version=record.updated_at
        )
    with transaction.atomic(), pytest.raises(IntegrityError):  # a volunteer item names a member, never a record
        NationalExportItem.objects.create(batch=batch, kind=NationalExportItem.Kind.VOLUNTEER, record=record)


def test_the_period_must_be_ordered(org_tree, secretary_a):
    with pytest.raises(ValidationError):
        export(org_tree.branch_a, secretary_a, period_start=date(2026, 12, 2), period_end=date(2026, 12, 1))
    assert not NationalExportBatch.objects.exists()


def test_the_files_follow_an_edited_column_map(tmp_path, settings, clock, org_tree, secretary_a, member_a):
    """An operator renames, reorders and drops columns and adds a fixed one — no code changes."""
    data = json.loads(national.DEFAULT_COLUMNS_FILE.read_text(encoding="utf-8"))
    data["records"] = [
        {"header": "时长", "element": "record.hours"},
        {"header": "证件号", "element": "volunteer.id_number"},
        {"header": "数据来源", "value": "党员志愿服务平台"},
        {"header": "类型", "element": "record.kind", "choices": {"record": "1", "correction": "2", "void": "3"}},
    ]
    path = tmp_path / "columns.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    settings.NATIONAL_EXPORT_COLUMNS = str(path)
    services.member_update_profile(member=member_a, actor=None, id_number="11010519491231002X")
    verified(member_a, secretary_a)
    batch = export(org_tree.branch_a, secretary_a)
    assert lines(batch.records_file) == [
        ["时长", "证件号", "数据来源", "类型"],
        ["2.00", "11010519491231002X", "党员志愿服务平台", "1"],
    ]


def test_a_broken_column_map_says_where(tmp_path):
    path = tmp_path / "columns.json"
    path.write_text(json.dumps({"volunteers": [{"header": "姓名", "element": "volunteer.nme"}]}), encoding="utf-8")
    with pytest.raises(national.ColumnMapError, match="volunteer.nme"):
        national.load_columns(path)


def test_a_formula_in_a_name_stays_text_in_the_file(clock, org_tree, secretary_a):
    member = MemberFactory(organization=org_tree.branch_a, name="=HYPERLINK(1)")
    verified(member, secretary_a)
    batch = export(org_tree.branch_a, secretary_a)
    assert "'=HYPERLINK(1)" in {line[2] for line in lines(batch.volunteers_file)}


def _bulk_records(member, organization, verifier, count: int) -> None:
    """`count` verified records written at once (the services would take minutes for 20,000)."""
    start = datetime.combine(DAY, time(8, 0), tzinfo=selectors.timezone.get_current_timezone())
    now = selectors.timezone.now()
    ServiceRecord.objects.bulk_create(
        (
            ServiceRecord(
                member=member,
                date=DAY,
                started_at=start,
                ended_at=start + timedelta(hours=1),
                place="社区",
                content=f"服务{i}",
                hours=Decimal("1"),
                organizer="李书记",
                recorder=verifier,
                recording_organization=organization,
                status=ServiceRecord.Status.VERIFIED,
                verified_at=now,
            )
            for i in range(count)
        ),
        batch_size=5000,
    )


def _export_peak(organization, actor) -> tuple[int, int]:
    tracemalloc.start()
    try:
        batch = export(organization, actor)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return batch.records, peak


def test_the_export_streams_its_memory_does_not_grow_with_rows(monkeypatch, org_tree, secretary_a, member_a, member_b):
    """2,000 against 20,000 rows, read and inserted 500 at a time: the peak stays about the same (bench/
    national_export.py measures 1,000,000). A list of the rows would grow the peak tenfold."""
    monkeypatch.setattr(exchange, "EXPORT_CHUNK", 500)
    _bulk_records(member_a, org_tree.branch_a, secretary_a, 2_000)
    _bulk_records(member_b, org_tree.branch_b, secretary_a, 20_000)
    small, small_peak = _export_peak(org_tree.branch_a, secretary_a)
    large, large_peak = _export_peak(org_tree.branch_b, secretary_a)
    assert (small, large) == (2_000, 20_000)
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)


# --- Import of records kept elsewhere ------------------------------------------------------------------------------


def records_file(rows: list[dict[str, str]]) -> list[national.ImportedRow]:
    """A records file in the column map's layout, read back as the import reads it."""
    columns = national.load_columns().records
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.header for c in columns])
    for values in rows:
        writer.writerow([values.get(c.header, "") for c in columns])
    content = buffer.getvalue().encode("utf-8-sig")
    imported, problems = national.read_rows(national.table_lines(content, "records.csv"), columns)
    assert problems == []
    return imported


def row_of(member, **values) -> dict[str, str]:
    return {
        "本地志愿者编号": member.volunteer_number,
        "服务日期": "2026-11-02",
        "开始时间": "2026-11-02 09:00",
        "结束时间": "2026-11-02 12:00",
        "服务时长（小时）": "3",
        "服务内容": "社区环境整治",
        "服务地点": "西岭村",
        "负责人": "外省张队长",
        "服务组织": "某区志愿服务队",
        "服务类别": "生态环保",
    } | values


def test_records_from_elsewhere_count_in_the_one_total_and_earn_no_points(
    clock, org_tree, secretary_a, member_a, client
):
    before = LedgerEntry.objects.count()
    result = exchange.external_records_import(
        rows=records_file([row_of(member_a), row_of(member_a, 服务日期="2026-11-03", 开始时间="", 结束时间="")]),
        organization=org_tree.branch_a,
        origin="全国志愿服务信息系统",
        actor=secretary_a,
    )
    assert (result.saved, result.duplicates, result.counted) == (2, [], True)
    record = ServiceRecord.objects.filter(member=member_a).order_by("date").first()
    assert (record.source, record.status, record.service_category) == ("external", "verified", "environment")
    assert record.origin == "全国志愿服务信息系统·某区志愿服务队"
    assert selectors.counted_hours(member_a) == Decimal("6")
    assert ("其他平台记录", Decimal("6.00")) in selectors.hours_by_source(member_a)
    assert ServiceYear.objects.get(member=member_a, year=2026).hours_11 == Decimal("6")
    assert LedgerEntry.objects.count() == before  # no points for hours served elsewhere
    assert reconcile.run().disagreements == []

    client.force_login(member_a.user)
    page = client.get("/me/records/").content.decode()
    assert "其他平台记录" in page and "全国志愿服务信息系统·某区志愿服务队" in page

    clock.advance(60)
    assert export(org_tree.branch_a, secretary_a, period_start=date(2026, 11, 1)).records == 0  # never sent back


def test_where_the_rule_says_no_they_are_listed_not_counted(clock, org_tree, secretary_a, member_a):
    services.organization_update(
        organization=org_tree.branch_a,
        actor=None,
        name=org_tree.branch_a.name,
        type=org_tree.branch_a.type,
        secretary=org_tree.branch_a.secretary,
        count_external_hours=False,
    )
    result = exchange.external_records_import(
        rows=records_file([row_of(member_a)]), organization=org_tree.branch_a, origin="其他平台", actor=secretary_a
    )
    assert (result.saved, result.counted) == (1, False)
    assert ServiceRecord.objects.get(member=member_a).status == ServiceRecord.Status.LISTED
    assert selectors.counted_hours(member_a) == 0
    assert reconcile.run().disagreements == []


def test_every_row_error_is_reported_before_anything_is_saved(clock, org_tree, secretary_a, member_a, member_b):
    rows = records_file(
        [
            row_of(member_a),  # line 2: good
            row_of(member_a, 本地志愿者编号="V000000000"),  # 3: nobody
            row_of(member_b),  # 4: outside the importing subtree
            row_of(member_a, 服务日期="去年", 开始时间="", 结束时间=""),  # 5
            row_of(member_a, **{"服务时长（小时）": "25"}),  # 6
            row_of(member_a, **{"服务时长（小时）": "0"}),  # 7
            row_of(member_a, 服务内容="打扫\x00卫生"),  # 8: NUL
            row_of(member_a, 负责人="张\x1b队长"),  # 9: a control character
            row_of(member_a, 服务内容="长" * 501),  # 10
            row_of(member_a, 本地志愿者编号="", 证件号码="110105194912310021"),  # 11: wrong check digit
            row_of(member_a, **{"服务时长（小时）": "4"}),  # 12: more than 09:00-12:00
        ]
    )
    check = exchange.external_records_check(rows=rows, organization=org_tree.branch_a, origin="全国志愿服务信息系统")
    assert [n for n, _problem in check.errors] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert "控制字符" in dict(check.errors)[8] and "500" in dict(check.errors)[10]
    assert "校验位" in dict(check.errors)[11]
    with pytest.raises(ValidationError) as error:
        exchange.external_records_import(
            rows=rows, organization=org_tree.branch_a, origin="全国志愿服务信息系统", actor=secretary_a
        )
    assert len(error.value.messages) == 10 and error.value.messages[0].startswith("第3行")
    assert not ServiceRecord.objects.exists()


def test_duplicates_are_skipped_and_reported_not_errors(clock, org_tree, secretary_a, member_a):
    services.member_update_profile(member=member_a, actor=None, national_volunteer_number="ZY20260007")
    rows = records_file(
        [
            row_of(member_a, 本地志愿者编号="", 志愿者统一编号="zy20260007"),
            row_of(member_a, 本地志愿者编号="", 证件号码="", 志愿者统一编号="ZY20260007"),  # 3: same as 2
            row_of(member_a, 记录类型="作废"),  # 4: a void row
        ]
    )
    first = exchange.external_records_import(
        rows=rows, organization=org_tree.branch_a, origin="全国志愿服务信息系统", actor=secretary_a
    )
    assert first.saved == 1 and [n for n, _m in first.duplicates] == [4, 3]
    again = exchange.external_records_import(
        rows=rows, organization=org_tree.street, origin="全国志愿服务信息系统", actor=secretary_a
    )
    assert again.saved == 0 and sorted(n for n, _m in again.duplicates) == [2, 3, 4]
    assert ServiceRecord.objects.count() == 1


def test_round_trip_gives_the_same_hours_per_member(clock, org_tree, secretary_a, platform_admin, member_a, member_b):
    """Export a batch, then import its records file as records from elsewhere into a database without them.

    The fresh database is simulated in this one: the members stay (the receiving system knows them — the batch's
    volunteers file registers them there), and every local record, batch and yearly summary is deleted before the
    import. The hours per member, through the one selector, are those before."""
    for member, verifier in ((member_a, secretary_a), (member_b, platform_admin)):
        verified(member, verifier, hours="2.5")
        verified(member, verifier, day=date(2026, 12, 3), hours="1.25", organizer="赵队长")
    verified(member_b, platform_admin, day=date(2026, 12, 4), hours="3")
    ids = [member_a.pk, member_b.pk]
    before = selectors.hours_by_member(ids)
    assert before == {member_a.pk: Decimal("3.75"), member_b.pk: Decimal("6.75")}
    batch = export(org_tree.street, platform_admin)
    batch.records_file.open("rb")
    content = batch.records_file.read()
    batch.records_file.close()

    NationalExportItem.objects.all().delete()
    NationalExportBatch.objects.all().delete()
    ServiceRecord.history.all().delete()
    ServiceRecord.objects.all().delete()
    ServiceYear.objects.all().delete()
    assert selectors.hours_by_member(ids) == {}

    rows, problems = national.read_rows(national.table_lines(content, "batch.csv"), national.load_columns().records)
    assert problems == [] and len(rows) == 5
    result = exchange.external_records_import(
        rows=rows, organization=org_tree.street, origin="全国志愿服务信息系统", actor=platform_admin
    )
    assert (result.saved, result.duplicates) == (5, [])
    assert selectors.hours_by_member(ids) == before


def test_an_xlsx_file_is_read_like_a_csv(org_tree):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["服务日期", "服务时长（小时）", "不认识的列"])
    workbook.active.append([datetime(2026, 11, 2), 3, "x"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    rows, problems = national.read_rows(
        national.table_lines(buffer.getvalue(), "a.xlsx"), national.load_columns().records
    )
    assert problems == [] and rows[0].values == {"record.date": "2026-11-02 00:00", "record.hours": "3"}
    assert national.parse_day(rows[0].values["record.date"]) == date(2026, 11, 2)
    with pytest.raises(ValueError):
        list(national.table_lines(b"x", "a.pdf"))


def test_the_certificate_shows_the_national_number_and_where_a_record_from_elsewhere_was_kept(
    clock, org_tree, secretary_a, member_a, client
):
    from tests.members.test_certificate import OWN, _pdf_text

    services.member_update_profile(member=member_a, actor=None, national_volunteer_number="ZY20260042")
    exchange.external_records_import(
        rows=records_file([row_of(member_a)]), organization=org_tree.branch_a, origin="其他平台", actor=secretary_a
    )
    client.force_login(member_a.user)
    text = _pdf_text(client.get(OWN))
    assert "全国志愿者统一编号：ZY20260042" in text and member_a.volunteer_number in text
    assert "其他平台·某区志愿服务队（其他平台记录）" in text


def test_a_rating_not_yet_final_follows_the_hours_from_elsewhere(clock, org_tree, secretary_a, member_a):
    from incentives import services as incentive_services
    from incentives.models import StarRating

    run = incentive_services.rating_run_create(
        organization=org_tree.branch_a, period_start=date(2026, 1, 1), period_end=date(2026, 12, 31), actor=None
    )
    incentive_services.rating_run_compute(run=run)
    exchange.external_records_import(
        rows=records_file([row_of(member_a, **{"服务时长（小时）": "2.5"})]),
        organization=org_tree.branch_a,
        origin="全国志愿服务信息系统",
        actor=secretary_a,
    )
    assert StarRating.objects.get(run=run, member=member_a).basis_value == Decimal("2.5")
    assert reconcile.run().disagreements == []

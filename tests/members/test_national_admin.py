"""The secretaries' side of the exchange with the national system, in the admin: export batches of their subtree and
their files, and the import of records kept elsewhere (preview first, then all or nothing). Outside the subtree: 404."""

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from audit.models import AuditEvent
from members import national
from members.models import NationalExportBatch, ServiceRecord
from notifications.models import Notification
from tests.members.test_national import row_of, verified

pytestmark = pytest.mark.django_db

ADD = "admin:members_nationalexportbatch_add"
IMPORT = "admin:members_servicerecord_import_external"


def download(batch, part, fmt):
    return reverse("admin:members_nationalexportbatch_download", args=[batch.pk, part, fmt])


def upload(rows: list[dict[str, str]], name="records.csv"):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = national.load_columns().records
    writer.writerow([c.header for c in columns])
    for values in rows:
        writer.writerow([values.get(c.header, "") for c in columns])
    file = io.BytesIO(buffer.getvalue().encode("utf-8-sig"))
    file.name = name
    return file


def test_a_secretary_exports_their_subtree_and_downloads_its_files(
    clock, client, org_tree, secretary_a, secretary_b, member_a, django_capture_on_commit_callbacks
):
    verified(member_a, secretary_a)
    client.force_login(secretary_a)
    form = {"organization": org_tree.branch_a.pk, "period_start": "2026-12-01", "period_end": "2026-12-31"}
    # The request only queues the export (a Celery task on the heavy queue, run eagerly here after the commit).
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(reverse(ADD), form)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:members_nationalexportbatch_changelist")
    assert not NationalExportBatch.objects.exists() and len(queued) == 1
    queued[0]()
    batch = NationalExportBatch.objects.get()
    assert (batch.organization, batch.records, batch.created_by) == (org_tree.branch_a, 1, secretary_a)
    told = Notification.objects.get(recipient_user=secretary_a, template="members_national_export_ready")
    assert told.context["records"] == 1 and told.context["link"].endswith(f"/{batch.pk}/change/")
    # Asked again (or the task run twice): nothing new to send, so no empty batch is kept; the secretary is told.
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse(ADD), form).status_code == 302
    assert NationalExportBatch.objects.count() == 1
    nothing = Notification.objects.filter(template="members_national_export_ready").exclude(pk=told.pk).get()
    assert nothing.context["empty"] is True
    assert "东一支部" in client.get(reverse("admin:members_nationalexportbatch_changelist")).content.decode()

    csv_file = client.get(download(batch, "records", "csv"))
    assert csv_file.status_code == 200
    text = b"".join(csv_file.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("记录编号,记录类型,志愿者统一编号")
    assert "national-" in csv_file["Content-Disposition"]
    xlsx = client.get(download(batch, "volunteers", "xlsx"))
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("志愿者统一编号", "本地志愿者编号", "姓名")
    assert {"李明", "王书记"} <= {row[2] for row in rows[1:]}
    assert client.get(download(batch, "records", "pdf")).status_code == 404
    # Each download (the volunteers' file holds ID numbers and phones) is on the audit trail; the refused one is not.
    downloads = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, object_id=str(batch.pk))
    assert sorted((e.user, e.detail["part"], e.detail["format"]) for e in downloads) == [
        (secretary_a, "records", "csv"),
        (secretary_a, "volunteers", "xlsx"),
    ]

    client.force_login(secretary_b)
    assert client.get(download(batch, "records", "csv")).status_code == 404
    assert client.get(reverse("admin:members_nationalexportbatch_change", args=[batch.pk])).status_code == 404
    assert "东一支部" not in client.get(reverse("admin:members_nationalexportbatch_changelist")).content.decode()
    refused = client.post(
        reverse(ADD), {"organization": org_tree.branch_a.pk, "period_start": "2026-12-01", "period_end": "2026-12-31"}
    )
    assert refused.status_code == 200 and "organization" in refused.context["adminform"].form.errors
    assert NationalExportBatch.objects.count() == 1


def test_the_period_is_checked_on_the_form(client, org_tree, secretary_a):
    client.force_login(secretary_a)
    response = client.post(
        reverse(ADD), {"organization": org_tree.branch_a.pk, "period_start": "2026-12-31", "period_end": "2026-12-01"}
    )
    assert "period_end" in response.context["adminform"].form.errors
    assert not NationalExportBatch.objects.exists()


def test_an_import_shows_every_error_first_and_saves_only_when_confirmed(
    clock, client, org_tree, secretary_a, member_a
):
    client.force_login(secretary_a)
    assert client.get(reverse(IMPORT)).status_code == 200
    form = {"organization": org_tree.branch_a.pk, "origin": "全国志愿服务信息系统"}
    bad = client.post(
        reverse(IMPORT), {**form, "file": upload([row_of(member_a), row_of(member_a, 服务日期="昨天", 开始时间="")])}
    )
    page = bad.content.decode()
    assert [n for n, _m in bad.context["check"].errors] == [3] and 'id="external-import-confirm"' not in page
    assert not ServiceRecord.objects.exists()

    good = client.post(
        reverse(IMPORT),
        {**form, "file": upload([row_of(member_a), row_of(member_a, 服务日期="2026-11-05", 开始时间="", 结束时间="")])},
    )
    assert len(good.context["check"].ready) == 2 and not ServiceRecord.objects.exists()  # a preview saves nothing
    confirmed = client.post(
        reverse(IMPORT),
        {**form, "content": good.context["signed"], "filename": "records.csv", "confirm": "1"},
    )
    assert confirmed.status_code == 302
    assert ServiceRecord.objects.filter(member=member_a, source="external").count() == 2
    tampered = client.post(reverse(IMPORT), {**form, "content": "x" + good.context["signed"], "confirm": "1"})
    assert "预览已过期" in tampered.content.decode()


def test_an_import_is_for_the_secretarys_subtree_only(client, org_tree, secretary_b, member_a, member_user):
    client.force_login(secretary_b)
    response = client.post(
        reverse(IMPORT),
        {"organization": org_tree.branch_a.pk, "origin": "其他平台", "file": upload([row_of(member_a)])},
    )
    assert "organization" in response.context["form"].errors
    to_own_branch = client.post(
        reverse(IMPORT),
        {"organization": org_tree.branch_b.pk, "origin": "其他平台", "file": upload([row_of(member_a)])},
    )
    assert [n for n, _m in to_own_branch.context["check"].errors] == [2]  # member A is not in branch B
    client.force_login(member_user)
    assert client.get(reverse(IMPORT)).status_code == 302  # to the admin's sign-in
    assert not ServiceRecord.objects.exists()

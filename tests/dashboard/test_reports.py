"""The quarterly and annual reports (上报报告): the figures a report states equal the dashboard's for the same
subtree and period (read back from the Word document's tables and the PDF's text), the Celery task from request
to the secretary's message, idempotent requests, and downloads only in scope.

On the dashboard's street (tests/dashboard/conftest.py, year 2025), with a commendation of a1 (May) and a completed
activity of branch A's project (May) added here.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from docx import Document
from docx.oxml.ns import qn
from pypdf import PdfReader

from incentives.models import Commendation
from notifications.models import Notification
from projects.models import Activity
from tests.projects.factories import ActivityFactory, ProjectFactory
from training.models import AnnualRequirement
from volunteer_platform import reports, selectors, services
from volunteer_platform.exports import period_figure_rows, star_rows
from volunteer_platform.models import Report

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 3, 1)


@pytest.fixture
def street(shared_street):  # made once for the module (tests/dashboard/conftest.py)
    s = shared_street
    Commendation.objects.create(
        member=s.a1,
        organization=s.branch_a,
        title="优秀志愿者",
        citation="常年上门照顾空巢老人。",
        awarded_on=date(2025, 5, 20),
        status=Commendation.Status.APPROVED,
        decided_at=datetime(2025, 5, 20, 10, tzinfo=TZ),
    )
    activity = ActivityFactory(project=ProjectFactory(organization=s.branch_a))
    starts = datetime(2025, 5, 10, 9, tzinfo=TZ)
    Activity.objects.filter(pk=activity.pk).update(
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        signup_opens_at=starts - timedelta(days=7),
        signup_closes_at=starts,
        cancel_cutoff_at=starts,
        status=Activity.Status.COMPLETED,
    )
    return s


def build(organization, user, kind: str, year: int, quarter: int = 0) -> Report:
    """Ask for a report as the page does and let the (eager) Celery task build it after the commit."""
    report, new = services.report_request(
        organization=organization, kind=kind, year=year, quarter=quarter, requested_by=user, today=TODAY
    )
    assert new
    services.report_build(report_id=report.pk, today=TODAY)
    report.refresh_from_db()
    assert report.status == Report.Status.READY, report.error
    return report


def tables(report: Report) -> dict[str, list[list[str]]]:
    """The Word document's tables, keyed by their first header cell."""
    with report.docx.open("rb") as handle:
        document = Document(BytesIO(handle.read()))
    # Chinese text takes an East Asian font (w:eastAsia), not the Latin one Word would use for it otherwise.
    assert document.styles["Normal"].element.rPr.rFonts.get(qn("w:eastAsia")) == "宋体"
    return {
        table.rows[0].cells[0].text: [[cell.text for cell in row.cells] for row in table.rows[1:]]
        for table in document.tables
    }


def shown(value) -> str:
    return "—" if value is None else str(value)


CASES = [
    # (organization, kind, year, quarter, period, previous period)
    ("street", "annual", 2025, 0, selectors.Period.year(2025), selectors.Period.year(2024)),
    ("street", "quarterly", 2025, 2, selectors.Period(date(2025, 4, 1), date(2025, 6, 30)), None),
    ("branch_b", "quarterly", 2025, 1, selectors.Period(date(2025, 1, 1), date(2025, 3, 31)), None),
    ("branch_a", "quarterly", 2025, 4, selectors.Period(date(2025, 10, 1), date(2025, 12, 31)), None),
]


@pytest.mark.parametrize(("org", "kind", "year", "quarter", "period", "previous"), CASES)
def test_the_reports_figures_equal_the_dashboards_for_the_same_subtree_and_period(
    street, org, kind, year, quarter, period, previous
):
    organization = getattr(street, org)
    report = build(organization, street.admin, kind, year, quarter)
    assert selectors.report_period(kind, year, quarter) == period
    previous = previous or selectors.previous_report_period(kind, year, quarter)
    now = selectors.dashboard(organization, period)
    before = selectors.dashboard(organization, previous)
    found = tables(report)

    # The comparison: every dashboard figure of the period, this period and the one before.
    main = {row[0]: row[1:] for row in found["指标"]}
    for (label, value), (_label, old) in zip(period_figure_rows(now), period_figure_rows(before), strict=True):
        assert main[label][:2] == [shown(value), shown(old)], label
        assert main[label][2] == reports.change(value, old), label
    # … and the projects, activities and commendations, each from its own selector.
    assert main["开展服务项目"][:2] == [
        str(selectors.projects_run(organization, period)),
        str(selectors.projects_run(organization, previous)),
    ]
    assert main["举办服务活动"][:2] == [
        str(selectors.activities_held(organization, period)),
        str(selectors.activities_held(organization, previous)),
    ]

    # Hours by month (the dashboard's trend), the star distribution, training by type, the branches' league.
    assert found["月份"] == [
        [m.label, str(m.hours), str(m.wishes_received), str(m.wishes_fulfilled)] for m in now.trend
    ]
    assert found["星级"] == [[label, str(n)] for label, n in star_rows(now)]
    assert found["培训类型"][:-1] == [
        [t.label, str(t.hours), str(t.completed), shown(t.rate)] for t in now.training.by_type
    ]
    assert found["培训类型"][-1][1:] == [str(now.training.hours), str(now.training.completed), shown(now.training.rate)]
    if now.league:
        assert [row[0] for row in found["党组织"]] == [row.organization.name for row in now.league]
        assert [row[3] for row in found["党组织"]] == [str(row.hours) for row in now.league]

    # The PDF states the same: its text (the embedded font maps every glyph back to Unicode) holds the title and
    # the headline figures.
    with report.pdf.open("rb") as handle:
        pdf = PdfReader(BytesIO(handle.read()))
    text = "".join(page.extract_text() for page in pdf.pages).replace("\n", "").replace(" ", "")
    assert f"{organization.name}{report.period_label}党员志愿服务工作报告" in text
    assert f"服务时长（小时）{now.members.hours}{before.members.hours}" in text
    assert f"在册党员{now.members.members}{before.members.members}" in text


def test_the_annual_report_of_the_street_by_hand(street):
    # Anchors the comparison above to the hand-computed street: 7 members, 13.50 h in 2025, nothing in 2024
    # except a2's 5 h on 12-31 (a2 is on the roster: 1 participant).
    main = {row[0]: row[1:] for row in tables(build(street.street, street.admin, "annual", 2025))["指标"]}
    assert main["在册党员"] == ["7", "7", "0"]
    assert main["服务时长（小时）"] == ["13.50", "5.00", "+8.50"]
    assert main["辖区收到微心愿"] == ["5", "0", "+5"]
    assert main["满意度（平均分）"] == ["4.00", "—", "—"]
    assert main["开展服务项目"] == ["1", "0", "+1"]
    assert main["举办服务活动"] == ["1", "0", "+1"]
    assert main["获得表彰（人次）"] == ["1", "0", "+1"]
    found = tables(build(street.street, street.admin, "quarterly", 2025, 2))
    assert found["姓名"] == [["李明", "东一支部", "优秀志愿者", "2025-05-20"]]
    plan = {row[1]: row[2:] for row in found["年度规划"]}
    assert plan["人均服务时长（小时）"] == ["2.00", "1.29", "64%"]  # 9 h up to 06-30 over 7 members


def test_training_completion_by_type(street):
    # The street asks 10 h a year, 5 of them theory: only a1 (12 h of theory) meets the theory minimum; no other
    # type has a minimum, so every member measured meets those.
    AnnualRequirement.objects.filter(organization=street.street, year=2025).update(theory_hours=Decimal("5"))
    training = selectors.dashboard(street.street, selectors.Period.year(2025)).training
    by_type = {t.key: t for t in training.by_type}
    assert (by_type["theory"].hours, by_type["theory"].completed, by_type["theory"].rate) == (
        Decimal("12.00"),
        1,
        Decimal("14.3"),
    )
    assert (by_type["post"].hours, by_type["post"].completed, by_type["post"].measured) == (Decimal("0"), 7, 7)
    assert training.completed == 1


def test_the_dashboard_shows_training_by_type_from_the_same_report(client, street):
    AnnualRequirement.objects.filter(organization=street.street, year=2025).update(theory_hours=Decimal("5"))
    client.force_login(street.admin)
    html = client.get(f"/dashboard/?org={street.street.pk}&year=2025").content.decode()
    table = html[html.index('id="training-by-type"') : html.index("</table>", html.index('id="training-by-type"'))]
    assert '<th scope="row">理论培训</th><td>12.00</td><td>1</td><td>14.3</td>' in table
    assert '<th scope="row">岗位培训</th><td>0</td><td>7</td><td>100.0</td>' in table


def test_periods_of_reports():
    assert selectors.Period.quarter(2025, 1) == selectors.Period(date(2025, 1, 1), date(2025, 3, 31))
    assert selectors.Period.quarter(2024, 4) == selectors.Period(date(2024, 10, 1), date(2024, 12, 31))
    assert selectors.previous_report_period("quarterly", 2025, 1) == selectors.Period.quarter(2024, 4)
    assert selectors.previous_report_period("quarterly", 2025, 3) == selectors.Period.quarter(2025, 2)
    assert selectors.previous_report_period("annual", 2025, 0) == selectors.Period.year(2024)


# --- The task, the message, idempotence ------------------------------------------------------------------------


def test_the_celery_task_builds_the_report_and_tells_the_secretary(street, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        report, new = services.report_request(
            organization=street.branch_a, kind="quarterly", year=2025, quarter=1, requested_by=street.secretary_a
        )
    # The task is sent once the request commits (eager here; the message's dispatch follows it).
    assert new and callbacks[0].func is services._publish_report_build
    report.refresh_from_db()
    assert report.status == Report.Status.READY
    assert report.finished_at is not None and report.docx.name.endswith(".docx") and report.pdf.name.endswith(".pdf")
    message = Notification.objects.get(recipient_user=street.secretary_a, template="site_report_ready")
    assert message.channel == Notification.Channel.INAPP
    assert message.context["period"] == "2025年第1季度"
    assert message.context["link"] == f"/dashboard/reports/?org={street.branch_a.pk}"
    # Run again (a redelivered task): nothing changes, no second message.
    assert services.report_build(report_id=report.pk) == Report.Status.READY
    assert Notification.objects.filter(template="site_report_ready").count() == 1


def test_a_failed_build_marks_the_report_failed_and_says_so(street, monkeypatch):
    report, _new = services.report_request(
        organization=street.branch_a, kind="annual", year=2025, quarter=0, requested_by=street.secretary_a
    )

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(reports, "build", broken)
    with pytest.raises(RuntimeError):
        services.report_build(report_id=report.pk)
    report.refresh_from_db()
    assert (report.status, report.error) == (Report.Status.FAILED, "RuntimeError: disk full")
    assert Notification.objects.filter(recipient_user=street.secretary_a, template="site_report_failed").exists()
    # A failed report no longer blocks a new request.
    again, new = services.report_request(
        organization=street.branch_a, kind="annual", year=2025, quarter=0, requested_by=street.secretary_a
    )
    assert new and again.pk != report.pk


def test_asking_twice_while_pending_gives_the_same_report(street):
    ask = {"organization": street.street, "kind": "quarterly", "year": 2025, "quarter": 3, "requested_by": street.admin}
    first, new = services.report_request(**ask)
    second, again = services.report_request(**ask)
    assert (new, again, second.pk) == (True, False, first.pk)
    assert Report.objects.count() == 1
    # Another period or kind is another report.
    assert services.report_request(**{**ask, "quarter": 2})[1]
    assert services.report_request(**{**ask, "kind": "annual"})[1]
    # The database holds it too (a race past the first look).
    with pytest.raises(IntegrityError), transaction.atomic():
        Report.objects.create(organization=street.street, kind="quarterly", year=2025, quarter=3)
    # Once built, asking again makes a new one (the figures may have changed since).
    services.report_build(report_id=first.pk, today=TODAY)
    assert services.report_request(**ask)[1]


def test_a_report_left_pending_is_queued_again_when_asked_for_later(street, django_capture_on_commit_callbacks):
    # Its task was lost (a broker outage): asking again within 15 minutes waits for it, later queues it anew.
    ask = {"organization": street.branch_a, "kind": "annual", "year": 2025, "quarter": 0, "requested_by": street.admin}
    report, _new = services.report_request(**ask)
    with django_capture_on_commit_callbacks() as callbacks:
        services.report_request(**ask)
    assert callbacks == []
    Report.objects.filter(pk=report.pk).update(created_at=timezone.now() - timedelta(minutes=16))
    with django_capture_on_commit_callbacks() as callbacks:
        again, new = services.report_request(**ask)
    assert (again.pk, new) == (report.pk, False)
    assert [(c.func, c.args) for c in callbacks] == [(services._publish_report_build, (report.pk,))]


def test_the_report_states_local_times(street, clock):
    clock.set_local(7)  # 07:00 in Beijing is 23:00 UTC the day before
    report = build(street.branch_a, street.admin, "quarterly", 2025, 3)
    with report.docx.open("rb") as handle:
        paragraphs = [p.text for p in Document(BytesIO(handle.read())).paragraphs]
    assert f"生成时间：{timezone.localdate().isoformat()} 07:00" in paragraphs
    assert "统计期间：2025-07-01 至 2025-09-30" in paragraphs
    assert "对比期间：2025-04-01 至 2025-06-30" in paragraphs


def test_a_period_not_begun_or_without_a_quarter_is_refused(street):
    from django.core.exceptions import ValidationError

    today = timezone.localdate()
    with pytest.raises(ValidationError):
        services.report_request(
            organization=street.street, kind="annual", year=today.year + 1, quarter=0, requested_by=street.admin
        )
    with pytest.raises(ValidationError):
        services.report_request(
            organization=street.street, kind="quarterly", year=2025, quarter=0, requested_by=street.admin
        )
    assert not Report.objects.exists()


# --- The page and the downloads --------------------------------------------------------------------------------


def test_the_page_asks_for_a_report_and_lists_it_for_download(client, street, django_capture_on_commit_callbacks):
    client.force_login(street.secretary_a)
    url = f"/dashboard/reports/?org={street.branch_a.pk}"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"kind": "quarterly", "year": "2025", "quarter": "2"})
    assert response.status_code == 302 and response["Location"] == url
    report = Report.objects.get()
    assert (report.organization, report.requested_by, report.status) == (
        street.branch_a,
        street.secretary_a,
        Report.Status.READY,
    )
    page = client.get(url).content.decode()
    assert f"/dashboard/reports/{report.pk}/docx/" in page and f"/dashboard/reports/{report.pk}/pdf/" in page

    response = client.get(f"/dashboard/reports/{report.pk}/docx/")
    assert response.status_code == 200
    assert response["Content-Type"] == reports_types()["docx"]
    assert "attachment" in response["Content-Disposition"]
    assert Document(BytesIO(b"".join(response.streaming_content))).tables
    response = client.get(f"/dashboard/reports/{report.pk}/pdf/")
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"%PDF")


def reports_types():
    from volunteer_platform.dashboard_views import REPORT_TYPES

    return REPORT_TYPES


def test_a_quarterly_report_without_its_quarter_is_refused_on_the_form(client, street):
    client.force_login(street.secretary_a)
    response = client.post(
        f"/dashboard/reports/?org={street.branch_a.pk}", {"kind": "quarterly", "year": "2025", "quarter": "0"}
    )
    assert response.status_code == 200
    assert "季度报告请选择季度。" in response.content.decode()
    assert not Report.objects.exists()


def test_downloads_answer_only_in_scope(client, street):
    report = build(street.branch_a, street.secretary_a, "quarterly", 2025, 1)
    for user, status in (
        (street.secretary_a, 200),  # the branch's own secretary
        (street.east_secretary, 200),  # the committee above sees its subtree
        (street.admin, 200),
        (street.secretary_b, 404),  # another branch: nothing leaks
        (street.a1.user, 404),  # a plain member
    ):
        client.force_login(user)
        for fmt in ("docx", "pdf"):
            assert client.get(f"/dashboard/reports/{report.pk}/{fmt}/").status_code == status, (user, fmt)
    client.force_login(street.secretary_a)
    assert client.get(f"/dashboard/reports/{report.pk}/xlsx/").status_code == 404
    # Another branch's secretary cannot ask for branch A's report either.
    client.force_login(street.secretary_b)
    response = client.post(
        f"/dashboard/reports/?org={street.branch_a.pk}", {"kind": "annual", "year": "2025", "quarter": "0"}
    )
    assert response.status_code == 404
    assert Report.objects.count() == 1


def test_a_pending_report_has_nothing_to_download(client, street):
    report, _new = services.report_request(
        organization=street.branch_a, kind="annual", year=2025, quarter=0, requested_by=street.secretary_a
    )
    client.force_login(street.secretary_a)
    assert client.get(f"/dashboard/reports/{report.pk}/pdf/").status_code == 404

"""Dashboard, plans and exports as pages: scope (URLs × personas; outside → 404), figures on the page and in the
Excel files, task progress, and a query count that stays constant as members and records grow."""

import io
import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from demands.models import MicroWish
from incentives import services as incentives_services
from members.models import ServiceRecord
from tests.dashboard.conftest import TZ, record
from tests.demands.factories import wish_in_state
from tests.members.factories import MemberFactory
from tests.queries import assert_constant_queries, count_queries
from volunteer_platform.models import Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def street(shared_street):  # made once for the module (tests/dashboard/conftest.py)
    return shared_street


Q2025 = "year=2025"
EXPORTS = ("figures", "league", "member-hours", "training")


def get(client, user, url):
    client.force_login(user)
    return client.get(url)


def sheet_rows(response) -> list[tuple]:
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(response.content))  # not read_only, which drops a trailing empty cell
    return list(workbook.active.iter_rows(values_only=True))


# --- Scope ------------------------------------------------------------------------------------------------------

SCOPE = [
    # (persona, organization attribute or None for the default, expected status)
    ("secretary_a", None, 200),
    ("secretary_a", "branch_a", 200),
    ("secretary_a", "branch_b", 404),
    ("secretary_a", "east", 404),
    ("secretary_a", "street", 404),
    ("east_secretary", "branch_a", 200),
    ("east_secretary", "branch_b", 404),
    ("east_secretary", "west", 404),
    ("secretary_b", "branch_a", 404),
    ("admin", "branch_b", 200),
    ("admin", None, 200),
]


def test_scope_of_dashboard_exports_and_plans(client, street):
    # One table, every persona and page: inside the scope 200, outside 404 (nothing leaks about other branches).
    for persona, org, status in SCOPE:
        for path in ("/dashboard/", "/dashboard/plans/", *(f"/dashboard/export/{k}.xlsx" for k in EXPORTS)):
            url = path + (f"?org={getattr(street, org).pk}" if org else "")
            assert get(client, getattr(street, persona), url).status_code == status, (persona, url)


def test_outsiders(client, street, member_user):
    assert client.get("/dashboard/").status_code == 302  # anonymous: to the sign-in page
    assert get(client, member_user, "/dashboard/").status_code == 404  # manages nothing
    assert get(client, street.a1.user, "/dashboard/").status_code == 404  # a plain member
    assert get(client, street.secretary_a, "/dashboard/export/nonsense.xlsx").status_code == 404
    assert get(client, street.secretary_a, "/dashboard/?org=abc").status_code == 404


def test_a_branch_secretary_sees_their_branch_and_no_league(client, street):
    html = get(client, street.secretary_a, f"/dashboard/?{Q2025}").content.decode()
    assert "东一支部" in html and 'id="league"' not in html
    assert 'id="fig-members">1 / 4<' in html
    assert 'id="fig-hours">6.00<' in html
    assert "西一支部" not in html and "孙丽" not in html


def test_the_league_table_of_a_community_lists_only_its_children(client, street):
    html = get(client, street.east_secretary, f"/dashboard/?{Q2025}").content.decode()
    league = html[html.index('id="league"') :]
    league = league[: league.index("</table>")]
    assert f"?org={street.branch_a.pk}&amp;from=2025-01-01&amp;to=2025-12-31" in league
    assert "东一支部" in league and "西一支部" not in league and "西社区党委" not in league


def test_the_street_page_shows_every_figure(client, street):
    html = get(client, street.admin, f"/dashboard/?{Q2025}").content.decode()
    for fragment in (
        'id="fig-members">1 / 7<',
        'id="fig-participation">42.9%<',
        'id="fig-hours">13.50<',
        'id="fig-hours-per-member">1.93<',
        'id="fig-wishes">5 / 4 / 3 / 2<',
        'id="fig-to-claim">9.0<',
        'id="fig-to-fulfil">24.0<',
        'id="fig-satisfaction">4.00 / 2<',
        'id="fig-training">14.3%（1/7）<',
        'id="fig-redemptions">2 / 1 / 30<',
        '<th scope="row">2025-06</th><td>4.00</td><td>1</td><td>1</td>',
        '<svg class="trend-chart"',
    ):
        assert fragment in html, fragment
    assert html.index("西社区党委") < html.index("东社区党委")  # the league: best hours per member first
    # The follow-up list: 4 members without service in 2025, not the ones who served.
    followup = html[html.index('id="followup"') :]
    assert "周强" in followup and "李明" not in followup


def test_overdue_tasks_are_highlighted_on_the_dashboard(client, street):
    html = get(client, street.secretary_a, "/dashboard/").content.decode()
    assert 'id="overdue-tasks"' in html and "建立助老服务队" in html
    html = get(client, street.secretary_b, "/dashboard/").content.decode()
    assert 'id="overdue-tasks"' not in html


def test_a_bad_period_falls_back_to_this_year_with_a_message(client, street):
    response = get(client, street.secretary_a, "/dashboard/?from=2025-12-01&to=2025-01-01")
    assert response.status_code == 200
    assert "统计期间不正确" in response.content.decode()
    assert get(client, street.secretary_a, "/dashboard/?year=abc").status_code == 200
    month = get(client, street.secretary_a, "/dashboard/?year=2025&month=11").content.decode()
    assert 'id="fig-hours">3.00<' in month


# --- Exports ----------------------------------------------------------------------------------------------------


def test_figures_export_has_chinese_headers_and_the_page_figures(client, street):
    rows = sheet_rows(get(client, street.admin, f"/dashboard/export/figures.xlsx?org={street.street.pk}&{Q2025}"))
    assert rows[0] == ("指标", "数值")
    values = dict(rows[1:])
    assert values["党组织"] == "幸福街道党工委"
    assert values["在册党员"] == 7 and values["活跃党员（近90天有服务）"] == 1
    assert values["参与率（%）"] == pytest.approx(42.9) and values["服务时长（小时）"] == pytest.approx(13.5)
    assert values["发布到认领（中位数，小时）"] == pytest.approx(9.0)
    assert values["满意度（平均分）"] == pytest.approx(4.0) and values["评价数"] == 2
    assert values["★3 人数"] == 1 and values["未评星人数"] == 5


def test_league_member_hours_and_training_exports(client, street):
    query = f"org={street.street.pk}&{Q2025}"
    league = sheet_rows(get(client, street.admin, f"/dashboard/export/league.xlsx?{query}"))
    assert league[0][0] == "党组织" and [r[0] for r in league[1:]] == ["西社区党委", "东社区党委"]
    assert league[1][4] == pytest.approx(7.5)

    hours = sheet_rows(get(client, street.secretary_a, f"/dashboard/export/member-hours.xlsx?{Q2025}"))
    assert hours[0] == ("志愿者编号", "姓名", "所在支部", "服务时长（小时）", "服务次数", "状态")
    by_name = {row[1]: (row[3], row[4], row[5]) for row in hours[1:]}
    # The roster, and the exempt 吴老 whose hour counts in the branch's 6.00 h: the column adds up to it.
    assert by_name == {
        "李明": (5, 2, "在册"),
        "吴老": (1, 1, "免除"),
        "周强": (0, 0, "在册"),
        "王书记": (0, 0, "在册"),
        "钱书记": (0, 0, "在册"),
    }

    training = sheet_rows(get(client, street.admin, f"/dashboard/export/training.xlsx?{query}"))
    assert training[0][:4] == ("党组织", "年度学时要求", "在册党员", "达标人数")
    branch_a = next(r for r in training if r[0] == "东一支部")
    assert branch_a[2:4] == (4, 1)


# --- Plans and tasks --------------------------------------------------------------------------------------------


def test_plans_list_and_detail_with_progress(client, street):
    html = get(client, street.admin, f"/dashboard/plans/?org={street.street.pk}").content.decode()
    assert "党员志愿服务年度规划" in html
    html = get(client, street.admin, f"/dashboard/plans/{street.plan.pk}/").content.decode()
    assert 'aria-valuenow="50"' in html  # wishes fulfilled 3 / 6
    assert "task-overdue" in html and "已逾期" in html


def test_a_plan_above_is_out_of_scope_but_its_task_for_the_branch_can_be_reported(client, street):
    assert get(client, street.secretary_a, f"/dashboard/plans/{street.plan.pk}/").status_code == 404
    response = client.post(f"/dashboard/tasks/{street.overdue.pk}/", {"status": "in_progress", "text": "已招募8人"})
    assert response.status_code == 302
    street.overdue.refresh_from_db()
    assert street.overdue.status == Task.Status.IN_PROGRESS
    assert [n.text for n in street.overdue.notes.all()] == ["已招募8人"]
    client.force_login(street.secretary_b)
    assert client.post(f"/dashboard/tasks/{street.overdue.pk}/", {"text": "看看"}).status_code == 404


def test_task_services(street):
    from django.core.exceptions import ValidationError

    from volunteer_platform import services

    task = services.task_status_change(task=street.overdue, actor=street.admin, status=Task.Status.DONE)
    assert task.completed_on is not None and task.notes.get().status_after == Task.Status.DONE
    with pytest.raises(ValidationError):
        services.task_status_change(task=task, actor=street.admin, status=Task.Status.CANCELLED)
    with pytest.raises(ValidationError):
        services.task_note_add(task=task, author=street.admin, text="  ")
    task = services.task_status_change(task=task, actor=street.admin, status=Task.Status.IN_PROGRESS, note="返工")
    assert task.completed_on is None and task.notes.count() == 2


# --- Query counts -----------------------------------------------------------------------------------------------


def test_dashboard_queries_are_constant_in_members_and_records(client, street):
    def add_rows(n):
        for i in range(n):
            member = MemberFactory(organization=street.branch_a if i % 2 else street.branch_b)
            record(member, date(2025, 1 + i % 12, 1 + i % 28), "1.5")
            record(member, date(2025, 2, 1), "1", status=ServiceRecord.Status.PENDING)
            if i % 5 == 0:  # wishes the members fulfilled, and points they earned, grouped by branch too
                wish = wish_in_state("fulfilled", street.community_a, street.secretary_a, member)
                MicroWish.objects.filter(pk=wish.pk).update(fulfilled_at=datetime(2025, 5, 1, 12, tzinfo=TZ))
                incentives_services.adjust(member=member, points=5, actor=street.admin, reason="测试")

    client.force_login(street.admin)
    n = assert_constant_queries(client, f"/dashboard/?{Q2025}", add_rows, small=3, large=30)
    # session + user, managed/visible organizations, which years the service summary has built (1; none here, so
    # the figures are computed live), 4 figures by branch (roster, records, wishes members fulfilled, points),
    # residents' wishes (1 on PostgreSQL, 2 on SQLite), redemptions, stars, training completion (4), trend (3),
    # league (1: the children), overdue tasks, follow-up count and page, and the viewer's 需要您处理 (6 counts). (With
    # built years the count is as constant: tests/dashboard/test_summary.py.)
    assert n <= 32, n


def test_exports_queries_are_constant(client, street):
    client.force_login(street.admin)
    for kind in ("figures", "league", "member-hours", "training"):
        url = f"/dashboard/export/{kind}.xlsx?{Q2025}"
        small, _ = count_queries(lambda url=url: client.get(url))
        for i in range(10):
            member = MemberFactory(organization=street.branch_a)
            record(member, date(2025, 3, 1 + i), "2")
        large, sqls = count_queries(lambda url=url: client.get(url))
        assert small == large, "\n".join(sqls)


def test_home_shows_the_public_figures(client, street):
    from django.core.cache import cache

    cache.clear()
    html = client.get("/").content.decode()
    assert 'id="public-figures"' in html
    assert Decimal("0") <= Decimal(html.split('id="public-hours">')[1].split("<")[0])


def test_the_follow_up_list_is_paginated_without_a_count(client, street):
    for i in range(25):
        MemberFactory(organization=street.branch_a, name=f"何{i:02d}")
    client.force_login(street.secretary_a)

    def names(html):
        table = html[html.index('id="followup"') :]
        table = table[: table.index("</table>")]
        return re.findall(r"<tr><td>([^<]+)</td>", table)

    first = client.get(f"/dashboard/?{Q2025}").content.decode()  # 28 members without service in 2025
    second = client.get(f"/dashboard/?{Q2025}&page=2").content.decode()
    assert len(names(first)) == 25 and "page=2" in first
    assert len(names(second)) == 3 and "page=1" in second and "page=3" not in second
    assert set(names(first) + names(second)) == {"周强", "王书记", "钱书记", *(f"何{i:02d}" for i in range(25))}
    assert client.get(f"/dashboard/?{Q2025}&page=x").status_code == 200
    past_bigint = client.get(f"/dashboard/?{Q2025}&page={10**20}")  # its OFFSET would not fit PostgreSQL's bigint
    assert past_bigint.status_code == 200 and names(past_bigint.content.decode()) == []

"""The per-branch rows of the dashboard count each fulfilled wish, hour and point for the branch of the member who
did it (a team's claim: the team's organization), and the rows of every subtree add up to its headline — live, on
the yearly summary and on a snapshot; the exports and the monthly digest say the same.

The tree is the demo's shape (members/demo.py): communities are served by 社区党委, never by branches.

和平街道党工委 → 幸福里社区党委 (serves 幸福里社区; its team 银龄先锋服务队 is led by 王三 of the second branch) →
第一党支部 (王一, 王二, the secretary 李建华), 第二党支部 (王三); 长青社区党委 (serves 长青社区) → 长青第一党支部
(赵四; 钱五, exempt: not on the roster, his hours and points count).

| wish | community | fulfilled by | counts for |
|---|---|---|---|
| w1 | 幸福里 | 王一 | 第一党支部 |
| w2 | 幸福里 | 王三 | 第二党支部 |
| w3 | 幸福里 | the team (claimed by its leader 王三) | 幸福里社区党委 itself |
| w4 | 幸福里 | 赵四 (a member of the other committee) | 长青第一党支部 |
| w5 | 长青 | 王一 | 第一党支部 |
| w6 | 幸福里 | 王二, last year | — (outside the period) |
| w7 | 幸福里 | claimed by 王二, not fulfilled | — |

Records of this year: 王一 2 h (+ 1 h pending), 王二 4 h void, 王三 3 h corrected, 李建华 2 h, 赵四 1.5 h, 钱五 1 h.
Points earned this year: 王一 +50 (and 30 spent on a redemption: spending earns nothing), 王三 +15 reversed, 李建华
+20, 赵四 +30, 钱五 +10.

The period is this year up to today (the dashboard's default: the snapshot's period), so the ledger's own
timestamps — which nobody may rewrite — fall inside it; nothing depends on the weekday or the hour.
"""

import io
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from demands import services as demands_services
from demands.models import MicroWish
from incentives import services as incentives_services
from members import selectors as members_selectors
from members import services as members_services
from members.models import Member, Organization, ServiceRecord
from notifications.models import Notification
from notifications.rendering import render_message
from tests.dashboard.conftest import record
from tests.demands.factories import fulfil, wish_in_state
from tests.members.factories import CommunityFactory, MemberFactory, OrganizationFactory
from volunteer_platform import selectors, services
from volunteer_platform import services as site_services

pytestmark = pytest.mark.django_db

ROW_FIGURES = ("members", "participants", "hours", "wishes_fulfilled", "points")


def _claim_and_fulfil(community, admin, member, team=None) -> MicroWish:
    wish = wish_in_state("published", community, admin)
    wish = demands_services.wish_claim(wish=wish, member=member, team=team)
    return fulfil(wish, member)


@pytest.fixture
def tree(platform_admin):
    admin = platform_admin
    street = OrganizationFactory(name="和平街道党工委", type=Organization.Type.WORKING_COMMITTEE)
    xingfu = OrganizationFactory(name="幸福里社区党委", type=Organization.Type.COMMITTEE, parent=street)
    changqing = OrganizationFactory(name="长青社区党委", type=Organization.Type.COMMITTEE, parent=street)
    first = OrganizationFactory(name="幸福里社区第一党支部", parent=xingfu)
    second = OrganizationFactory(name="幸福里社区第二党支部", parent=xingfu)
    cq_first = OrganizationFactory(name="长青社区第一党支部", parent=changqing)
    xingfu_community = CommunityFactory(name="幸福里社区", organization=xingfu)
    changqing_community = CommunityFactory(name="长青社区", organization=changqing)

    shequ = MemberFactory(name="李建华", organization=first)
    wang1 = MemberFactory(name="王一", organization=first)
    wang2 = MemberFactory(name="王二", organization=first)
    wang3 = MemberFactory(name="王三", organization=second)
    zhao4 = MemberFactory(name="赵四", organization=cq_first)
    qian5 = MemberFactory(name="钱五", organization=cq_first)
    team = members_services.team_create(
        organization=xingfu, name="银龄先锋服务队", leader=wang3, members=[wang3, wang1], actor=None
    )

    _claim_and_fulfil(xingfu_community, admin, wang1)
    _claim_and_fulfil(xingfu_community, admin, wang3)
    team_wish = _claim_and_fulfil(xingfu_community, admin, wang3, team=team)
    _claim_and_fulfil(xingfu_community, admin, zhao4)
    _claim_and_fulfil(changqing_community, admin, wang1)
    last_year = _claim_and_fulfil(xingfu_community, admin, wang2)
    start_of_year = datetime.combine(
        date(timezone.localdate().year, 1, 1), time.min, tzinfo=timezone.get_current_timezone()
    )
    MicroWish.objects.filter(pk=last_year.pk).update(
        claimed_at=start_of_year - timedelta(days=2), fulfilled_at=start_of_year - timedelta(days=1)
    )
    wish_in_state("claimed", xingfu_community, admin, wang2)

    today = timezone.localdate()
    record(wang1, today, "2")
    record(wang1, today, "1", status=ServiceRecord.Status.PENDING)
    record(wang2, today, "4", status=ServiceRecord.Status.VOID)
    record(wang3, today, "3", status=ServiceRecord.Status.CORRECTED)
    record(shequ, today, "2")
    record(zhao4, today, "1.5")
    record(qian5, today, "1")

    incentives_services.adjust(member=wang1, points=50, actor=admin, reason="测试")
    item = incentives_services.catalogue_item_create(stock=5, name="理发", points_cost=30, per_member_limit=None)
    incentives_services.redemption_request(member=wang1, item=item)
    taken_back = incentives_services.adjust(member=wang3, points=15, actor=admin, reason="测试")
    incentives_services.reverse(entry=taken_back, actor=admin, reason="重复发放")
    incentives_services.adjust(member=shequ, points=20, actor=admin, reason="测试")
    incentives_services.adjust(member=zhao4, points=30, actor=admin, reason="测试")
    incentives_services.adjust(member=qian5, points=10, actor=admin, reason="测试")
    Member.objects.filter(pk=qian5.pk).update(status=Member.Status.EXEMPT)
    members_services.organization_update(
        organization=xingfu, actor=None, name=xingfu.name, type=xingfu.type, secretary=shequ
    )

    return SimpleNamespace(
        street=street,
        xingfu=xingfu,
        changqing=changqing,
        first=first,
        second=second,
        cq_first=cq_first,
        team_wish=team_wish,
        admin=admin,
        period=selectors.default_period(),
    )


def _rows(league) -> dict[str, tuple]:
    return {
        row.organization.name + ("（本级）" if row.own else ""): tuple(getattr(row, f) for f in ROW_FIGURES)
        for row in league
    }


# --- The reported bug ---------------------------------------------------------------------------------------------


def test_a_fulfilled_wish_counts_for_the_branch_of_the_member_who_fulfilled_it(tree):
    # The community is served by the 社区党委, never by a branch: counted by community, every branch row said 0.
    league = {row.organization.name: row.wishes_fulfilled for row in selectors.league_table(tree.xingfu, tree.period)}
    assert league["幸福里社区第一党支部"] == 2  # w1 in 幸福里, w5 in 长青
    assert league["幸福里社区第二党支部"] == 1  # w2; the team's w3 is the committee's own
    assert sum(league.values()) == 4 == selectors.member_figures(tree.xingfu, tree.period).wishes_fulfilled


# --- Every subtree's rows add up to its headline ------------------------------------------------------------------


EXPECTED = {
    # organization: {row: (members, participants, hours, wishes fulfilled, points)}
    "和平街道党工委": {
        "幸福里社区党委": (4, 3, Decimal("7.00"), 4, 70),
        "长青社区党委": (1, 1, Decimal("2.50"), 1, 40),
    },
    "幸福里社区党委": {
        "幸福里社区第一党支部": (3, 2, Decimal("4.00"), 2, 70),
        "幸福里社区第二党支部": (1, 1, Decimal("3.00"), 1, 0),
        # Members are homed in branches; the committee's own row holds its team's wish.
        "幸福里社区党委（本级）": (0, 0, Decimal("0.00"), 1, 0),
    },
    "长青社区党委": {"长青社区第一党支部": (1, 1, Decimal("2.50"), 1, 40)},
}


def _assert_rows_add_up(tree, figures_of):
    for organization in (tree.street, tree.xingfu, tree.changqing, tree.first, tree.second, tree.cq_first):
        d = figures_of(organization)
        rows = _rows(d.league)
        headline = tuple(getattr(d.members, f) for f in ROW_FIGURES)
        if organization.name in EXPECTED:
            assert rows == EXPECTED[organization.name], organization.name
            assert tuple(sum(row[i] for row in rows.values()) for i in range(len(ROW_FIGURES))) == headline, (
                organization.name
            )
        else:
            assert rows == {}  # a branch has no rows
    # The residents' wishes stay by community: 幸福里 received w1–w4, w6, w7 this year (and w6 was fulfilled last year).
    wishes = figures_of(tree.xingfu).wishes
    assert (wishes.received, wishes.fulfilled) == (6, 4)


def test_every_subtree_adds_up_live(tree):
    _assert_rows_add_up(tree, lambda organization: selectors.dashboard(organization, tree.period))


def test_every_subtree_adds_up_on_the_yearly_summary(tree):
    year = tree.period.end.year
    for built in (year - 1, year):
        members_services.service_year_rebuild(year=built)
    assert selectors.dashboard(tree.street, tree.period).summary

    _assert_rows_add_up(tree, lambda organization: selectors.dashboard(organization, tree.period))


def test_every_subtree_adds_up_on_the_snapshot(tree, settings):
    settings.DASHBOARD_SNAPSHOT_MIN_MEMBERS = 1
    assert services.dashboard_snapshots_refresh() == 6
    snapshots = {}

    def snapshot(organization):
        snapshots[organization.pk] = selectors.dashboard_snapshot(organization, tree.period)
        return snapshots[organization.pk]

    _assert_rows_add_up(tree, snapshot)
    assert all(s is not None and s.computed_at is not None for s in snapshots.values())


# --- The page, the exports and the digest -------------------------------------------------------------------------


def _cells(html: str, css_class: str) -> list[str]:
    return re.findall(rf'<td class="{css_class}">([^<]*)</td>', html)


@pytest.mark.parametrize("snapshot", [False, True])
def test_the_page_rows_add_up_to_its_headline_and_say_what_is_by_community(client, tree, settings, snapshot):
    if snapshot:
        settings.DASHBOARD_SNAPSHOT_MIN_MEMBERS = 1
        services.dashboard_snapshots_refresh()
    client.force_login(tree.admin)
    html = client.get(f"/dashboard/?org={tree.xingfu.pk}").content.decode()
    assert ('id="snapshot-note"' in html) is snapshot

    assert 'id="fig-member-wishes">4<' in html
    assert 'id="fig-points">70<' in html
    assert 'id="fig-hours">7.00<' in html
    assert [int(n) for n in _cells(html, "league-wishes")] == [1, 2, 1]  # second, first, then the committee itself
    assert [int(n) for n in _cells(html, "league-points")] == [0, 70, 0]
    assert sum(Decimal(h) for h in _cells(html, "league-hours")) == Decimal("7.00")
    assert sum(int(n) for n in _cells(html, "league-members")) == 4
    assert "幸福里社区党委（本级）" in html
    # The residents' wishes of the community are labelled as such, apart from the members' figure.
    assert "辖区居民微心愿（收到/核实/实现/确认）" in html and 'id="fig-wishes">6 / 6 / 4 / 0<' in html


def _sheet(response) -> list[tuple]:
    return list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))


def test_the_exports_say_the_same(client, tree):
    client.force_login(tree.admin)
    query = f"org={tree.xingfu.pk}"
    figures = dict(_sheet(client.get(f"/dashboard/export/figures.xlsx?{query}"))[1:])
    assert (figures["党员实现微心愿"], figures["获得积分"], figures["辖区实现微心愿"]) == (4, 70, 4)

    league = _sheet(client.get(f"/dashboard/export/league.xlsx?{query}"))
    header, rows = league[0], league[1:]
    column = {name: i for i, name in enumerate(header)}
    assert [r[0] for r in rows] == ["幸福里社区第二党支部", "幸福里社区第一党支部", "幸福里社区党委（本级）"]
    for name, total in (
        ("在册党员", figures["在册党员"]),
        ("参加服务的党员", figures["参加服务的党员"]),
        ("服务时长（小时）", figures["服务时长（小时）"]),
        ("党员实现微心愿", figures["党员实现微心愿"]),
        ("获得积分", figures["获得积分"]),
    ):
        assert sum(r[column[name]] for r in rows) == pytest.approx(total), name

    # Each member's hours add up to the headline too: the exempt member's hour counts, so he is listed.
    hours = _sheet(client.get(f"/dashboard/export/member-hours.xlsx?org={tree.changqing.pk}"))
    assert {r[1]: (r[3], r[5]) for r in hours[1:]} == {"赵四": (1.5, "在册"), "钱五": (1, "免除")}
    assert sum(r[3] for r in hours[1:]) == pytest.approx(2.5)
    assert selectors.dashboard(tree.changqing, tree.period).members.hours == Decimal("2.50")


def test_the_monthly_digest_says_what_the_dashboard_of_that_month_says(tree):
    today = timezone.localdate()
    month = selectors.Period.month(today.year, today.month)
    for organization in (tree.street, tree.xingfu, tree.changqing, tree.first, tree.cq_first):
        d = selectors.dashboard(organization, month)
        figures = members_selectors.monthly_figures(organization, today.year, today.month)
        extras = selectors.digest_extras(organization, today.year, today.month)
        assert (figures.members_active, figures.volunteers, figures.services, figures.hours) == (
            d.members.members,
            d.members.participants,  # 钱五 (exempt) served: his hour counts, he is not a participant
            d.members.services,
            d.members.hours,
        ), organization.name
        assert (extras["wishes_received"], extras["wishes_fulfilled"], extras["wishes_fulfilled_by_members"]) == (
            d.wishes.received,
            d.wishes.fulfilled,
            d.members.wishes_fulfilled,
        ), organization.name

    site_services.monthly_digest_send(organization_ids=[tree.xingfu.pk], year=today.year, month=today.month)
    body = render_message(Notification.objects.get(template="members_monthly_digest", channel="inapp")).body
    assert "本月辖区居民微心愿：收到 6 个，实现 4 个" in body  # 幸福里社区: w1–w4 (one fulfilled by 长青's 赵四)
    assert "本月党员实现微心愿：4 个" in body  # w1, w2, w5 by its branches' members, w3 by its team


def test_a_branch_plan_counts_the_wishes_its_own_members_fulfilled(org_tree, east_secretary):
    """A plan's 实现微心愿 target is the dashboard's 党员实现微心愿 — the wishes its members fulfilled, not its
    communities' wishes (communities are served by the committee above, so a branch's figure would never move)."""
    from tests.demands.factories import wish_in_state
    from tests.members.factories import CommunityFactory, MemberFactory
    from volunteer_platform.models import Plan, PlanTarget

    committees_community = CommunityFactory(name="幸福里社区", organization=org_tree.east)  # as in the demo
    wish_in_state("closed", committees_community, east_secretary, MemberFactory(organization=org_tree.branch_a))
    plan = Plan.objects.create(organization=org_tree.branch_a, year=timezone.localdate().year, title="规划")
    PlanTarget.objects.create(plan=plan, metric=PlanTarget.Metric.WISHES_FULFILLED, value=Decimal("2"))
    (target,) = selectors.plan_progress(plan).targets
    assert target.actual == Decimal("1")

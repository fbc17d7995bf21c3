"""Excel exports of the dashboard (Chinese headers), each scoped to one organization's subtree and one period, written
by `core.exports.xlsx_table`: a name that starts like a formula stays text."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.exports import xlsx_table
from core.times import local_naive
from members.models import Member

from . import selectors

KINDS = {
    "figures": gettext_lazy("主要指标"),
    "league": gettext_lazy("下级组织排行"),
    "member-hours": gettext_lazy("党员服务时长"),
    "training": gettext_lazy("培训学时完成情况"),
}


def hours_of(duration: timedelta | None) -> Decimal | None:
    """A duration as hours with one decimal (the medians on the page and in the export)."""
    if duration is None:
        return None
    return (Decimal(duration.total_seconds()) / 3600).quantize(Decimal("0.1"))


def _cell(value):
    """Excel cells hold numbers, not Decimals-as-text, text, not lazy translations, and local wall times (Excel has
    no time zones); None stays empty."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return local_naive(value)
    if isinstance(value, Promise):
        return str(value)
    return value


def figure_rows(d: selectors.Dashboard) -> list[tuple[str, object]]:
    """(label, value) of every dashboard figure — the export's rows, and what the browser test compares."""
    rows: list[tuple[str, object]] = [
        (_("党组织"), d.organization.name),
        (_("开始日期"), d.period.start.isoformat()),
        (_("结束日期"), d.period.end.isoformat()),
    ]
    return rows + period_figure_rows(d) + star_rows(d)


def period_figure_rows(d: selectors.Dashboard) -> list[tuple[str, object]]:
    """(label, value) of the dashboard's figures of its period: the figure export's, and the rows a report compares
    with the period before (reports.py)."""
    m, w, r = d.members, d.wishes, d.redemptions
    return [
        (_("在册党员"), m.members),
        (_("活跃党员（近90天有服务）"), m.active),
        (_("参加服务的党员"), m.participants),
        (_("参与率（%）"), m.participation_rate),
        (_("服务时长（小时）"), m.hours),
        (_("服务次数"), m.services),
        (_("人均服务时长（小时）"), m.hours_per_member),
        (_("党员实现微心愿"), m.wishes_fulfilled),
        (_("获得积分"), m.points),
        # The residents' wishes of the communities the subtree serves: no per-branch rows (selectors.py).
        (_("辖区收到微心愿"), w.received),
        (_("辖区核实微心愿"), w.verified),
        (_("辖区实现微心愿"), w.fulfilled),
        (_("辖区居民确认微心愿"), w.confirmed),
        (_("发布到认领（中位数，小时）"), hours_of(w.median_to_claim)),
        (_("认领到实现（中位数，小时）"), hours_of(w.median_to_fulfil)),
        (_("满意度（平均分）"), w.rating_mean),
        (_("评价数"), w.rating_count),
        (_("活动问卷满意度（平均分）"), d.surveys.mean),
        (_("活动问卷答卷数"), d.surveys.count),
        (_("培训学时达标人数"), d.training.completed),
        (_("培训学时考核人数"), d.training.measured),
        (_("培训学时达标率（%）"), d.training.rate),
        (_("积分兑换申请"), r.requested),
        (_("积分兑换已领取"), r.fulfilled),
        (_("兑换使用积分"), r.points),
    ]


def star_rows(d: selectors.Dashboard) -> list[tuple[str, object]]:
    """(label, members) of the star distribution: the roster now, whatever the period."""
    return [(_("★%(stars)s 人数") % {"stars": stars} if stars else _("未评星人数"), n) for stars, n in d.stars]


def _sheet(title: str, header: list[str], rows) -> bytes:
    # Names in these rows are typed by members and secretaries: core.exports keeps every text cell text.
    return xlsx_table(title=title, header=header, rows=([_cell(v) for v in row] for row in rows))


def build(kind: str, organization, period: selectors.Period) -> bytes:
    title = str(KINDS[kind])
    if kind == "figures":
        d = selectors.dashboard(organization, period)
        return _sheet(title, [_("指标"), _("数值")], figure_rows(d))
    if kind == "league":
        rows = (
            (
                _("%(name)s（本级）") % {"name": row.organization.name} if row.own else row.organization.name,
                row.members,
                row.participants,
                row.participation_rate,
                row.hours,
                row.hours_per_member,
                row.wishes_fulfilled,
                row.points,
            )
            for row in selectors.league_table(organization, period)
        )
        header = [
            _("党组织"),
            _("在册党员"),
            _("参加服务的党员"),
            _("参与率（%）"),
            _("服务时长（小时）"),
            _("人均服务时长（小时）"),
            _("党员实现微心愿"),
            _("获得积分"),
        ]
        return _sheet(title, header, rows)
    if kind == "member-hours":
        header = [_("志愿者编号"), _("姓名"), _("所在支部"), _("服务时长（小时）"), _("服务次数"), _("状态")]
        statuses = dict(Member.Status.choices)
        rows = (
            (*row[:-1], statuses.get(row[-1], row[-1]))
            for row in selectors.member_hours(organization, period).iterator(chunk_size=2000)
        )
        return _sheet(title, header, rows)
    # training: the training app's own completion report, for the year of the period's end
    report = selectors.completion_by_branch(organization, period.end.year)
    training_rows = (
        (
            row.organization.name,
            row.requirement.total_hours if row.requirement else None,
            row.members,
            row.completed,
            row.rate,
            row.hours,
            row.average,
        )
        for row in report.rows
    )
    header = [
        _("党组织"),
        _("年度学时要求"),
        _("在册党员"),
        _("达标人数"),
        _("达标率（%）"),
        _("培训学时"),
        _("人均学时"),
    ]
    return _sheet(title, header, training_rows)

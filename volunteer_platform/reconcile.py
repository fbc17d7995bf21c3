"""`manage.py reconcile`: recompute every derived figure from the records and list each disagreement.

The apps check what they store (members: the yearly summary; incentives: balances, the points of every source,
star ratings), one chunk of members at a time in ascending id order, so memory stays flat however large the tree;
the site gives incentives the sources of the apps above it (training records, wishes) and checks what it stores
itself: the dashboard's snapshot and its headline against its rows and the records. With `fix`, each disagreement
that a service can repair is repaired, in its own transaction, and the chunk is checked again; what still
disagrees, or needs a person (a final star rating whose records changed), is reported.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.db import replica_reads
from demands import reconcile as demands_reconcile
from incentives import reconcile as incentives_reconcile
from members import reconcile as members_reconcile
from members.models import Member, Organization
from members.reconcile import Disagreement
from notifications.services import notify
from training import reconcile as training_reconcile

from . import selectors, services

CHUNK = 2000


@dataclass
class Report:
    members: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)
    fixed: int = 0

    @property
    def left(self) -> list[Disagreement]:
        return self.disagreements


def _member_checks(member_ids: list[int]) -> list[Disagreement]:
    members = members_reconcile.members_in_chunk(member_ids)
    sources = [
        *incentives_reconcile.own_points_sources(member_ids),
        *training_reconcile.points_sources(member_ids),
        *demands_reconcile.points_sources(member_ids),
    ]
    return [
        *members_reconcile.service_year_disagreements(member_ids, members),
        *incentives_reconcile.balance_disagreements(member_ids, members),
        *incentives_reconcile.points_disagreements(member_ids, members, sources),
        *incentives_reconcile.rating_disagreements(member_ids, members),
    ]


def _apply(found: list[Disagreement]) -> int:
    fixed = 0
    # Points and balances first: a rating on points follows the ledger.
    order = {"points": 0, "balance": 1, "service_year": 2, "rating": 3, "dashboard": 4}
    for disagreement in sorted(found, key=lambda d: order.get(d.check, 9)):
        if disagreement.fix is None:
            continue
        with transaction.atomic():
            disagreement.fix()
        fixed += 1
    return fixed


def dashboard_disagreements(organization: Organization) -> list[Disagreement]:
    """The organization's dashboard (this year up to today): its headline against the sum of its rows, the
    yearly summary's figures against the records', and a stored snapshot against the figures computed now."""
    period = selectors.default_period()
    found = []
    live = selectors.dashboard_figures_check(organization, period)
    name = organization.name
    for label, want, have in live:
        found.append(
            Disagreement(
                check="dashboard",
                subject=_("%(organization)s 工作台：%(figure)s") % {"organization": name, "figure": label},
                expected=str(want),
                found=str(have),
                cause=_("工作台的合计与各行之和或与服务记录不一致"),
            )
        )
    snapshot = selectors.dashboard_snapshot(organization, period)
    # A snapshot is computed every 10 minutes: one older than the last write is expected to differ, not wrong.
    if (
        snapshot is not None
        and snapshot.computed_at is not None
        and not selectors.figures_changed_since(snapshot.computed_at)
    ):
        now = selectors.dashboard(organization, period)
        for label, want, have in selectors.dashboard_differences(now, snapshot):
            found.append(
                Disagreement(
                    check="dashboard",
                    subject=_("%(organization)s 工作台快照：%(figure)s") % {"organization": name, "figure": label},
                    expected=str(want),
                    found=str(have),
                    cause=_("快照与服务记录不一致（计算后没有新的记录）"),
                    fix=services.dashboard_snapshots_refresh,
                )
            )
    return found


def run(
    *,
    organization: Organization | None = None,
    fix: bool = False,
    chunk: int = CHUNK,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Check every member of `organization`'s subtree (every member when None) and its dashboard (every top-level
    organization's when None); with `fix`, repair what a service can and check again."""
    report = Report()
    members = Member.objects.all()
    if organization is not None:
        members = members.filter(organization__path__startswith=organization.path)
    ids = members.order_by("pk").values_list("pk", flat=True)
    last = 0
    while True:
        batch = list(ids.filter(pk__gt=last)[:chunk])
        if not batch:
            break
        last = batch[-1]
        found = _member_checks(batch)
        if fix and any(d.fix is not None for d in found):
            report.fixed += _apply(found)
            found = _member_checks(batch)
        report.members += len(batch)
        report.disagreements += found
        if progress is not None:
            progress(
                _("已核对 %(n)d 名党员，发现 %(d)d 处不一致") % {"n": report.members, "d": len(report.disagreements)}
            )
    roots = [organization] if organization is not None else list(Organization.objects.filter(parent=None))
    for root in roots:
        found = dashboard_disagreements(root)
        if fix and any(d.fix is not None for d in found):
            report.fixed += _apply(found[:1])  # one refresh recomputes every snapshot
            found = dashboard_disagreements(root)
        report.disagreements += found
    return report


REPORT_LINES = 20  # lines of a report in the admins' message; the command prints them all


def run_and_tell_admins() -> int:
    """The weekly check (volunteer_platform.tasks.reconcile_weekly): no repair; when anything disagrees, every
    active platform admin gets an in-app message with the count and the first lines (once per day at most: the
    dedupe key names the day). Returns the number of disagreements."""
    report = replica_reads()(run)()  # no repair: a consistent copy of the records may be a few seconds old
    if not report.disagreements:
        return 0
    today = timezone.localdate().isoformat()
    context = {
        "count": len(report.disagreements),
        "members": report.members,
        "lines": [d.line() for d in report.disagreements[:REPORT_LINES]],
        "more": max(len(report.disagreements) - REPORT_LINES, 0),
        "day": today,
    }
    for user in get_user_model().objects.filter(is_superuser=True, is_active=True).order_by("pk"):
        notify(
            template="site_reconciliation",
            channel="inapp",
            user=user,
            dedupe_key=f"site:reconcile:{today}:{user.pk}",
            context=context,
        )
    return len(report.disagreements)

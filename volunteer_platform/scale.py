"""Scale data: a whole city district in PostgreSQL, for the benchmark (`manage.py seed_demo --scale district`).

The site composes it because it is the one layer that may import every app; each app writes its own tables in its
`scale.py` (members: tree, members, roles, records; projects: projects, activities, sign-ups and their records;
demands: wishes and their events; incentives: the points of every counted record and the balances). Every part is
set-based SQL (INSERT … SELECT over generate_series) with all constraints and indexes in place, and the whole seed
is ONE transaction: it either writes everything or nothing, so "already seeded" is simply "the district exists" and
a second run refuses instead of adding a second district. Each part's time is printed; ANALYZE runs at the end so
the planner sees the new sizes at once. What it writes is what the services would have written: `manage.py
reconcile` finds the district in agreement (tests/site/test_scale.py).

Every multi-step INSERT … SELECT materialises its steps (WITH … AS MATERIALIZED): inlined, a column such as a
wish's state — a CASE over hashes — would be computed again at every mention, which made the wishes' insert 100
times slower. Tables filled in the transaction are ANALYZEd before the next part joins them.

Run the normal demo seed first (the command does): the demo sign-ins (admin, shequ, zhibu, dangyuan) live in the
demo street, which stays beside the district; the platform admin's dashboard covers both roots.
"""

import time
from dataclasses import dataclass, replace
from functools import partial

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from demands import scale as demands_scale
from incentives import scale as incentives_scale
from members import scale as members_scale
from members import services as members_services
from members.models import Organization
from projects import scale as projects_scale

DISTRICT = "新城区委"


@dataclass(frozen=True)
class Scale:
    streets: int
    communities_per_street: int
    branches_per_community: int
    grids_per_community: int
    members: int
    records: int  # all service records of the district, the activities' included
    wishes: int
    projects: int
    activities_per_project: int


SCALES = {
    # 10 streets × 10 communities × 10 branches = 1,000 branches; 100 members each.
    "district": Scale(
        streets=10,
        communities_per_street=10,
        branches_per_community=10,
        grids_per_community=5,
        members=100_000,
        records=1_000_000,
        wishes=200_000,
        projects=5_000,
        activities_per_project=10,
    ),
}
# The same shape a thousand times smaller (2 × 2 × 2 branches): the tests' consistency check.
SCALES["tiny"] = replace(
    SCALES["district"],
    streets=2,
    communities_per_street=2,
    branches_per_community=2,
    grids_per_community=2,
    members=100,
    records=1_000,
    wishes=200,
    projects=10,
)


class AlreadySeeded(Exception):
    pass


def district_exists() -> bool:
    return Organization.objects.filter(parent=None, name=DISTRICT).exists()


@transaction.atomic
def seed(*, scale: Scale, password: str, stdout=None) -> dict[str, int]:
    """Write the district of `scale`; every account gets `password` (hashed once). Raises AlreadySeeded when the
    district exists. Returns the row counts written."""
    if district_exists():
        raise AlreadySeeded(DISTRICT)
    started = time.perf_counter()
    counts: dict[str, int] = {}

    def part(label: str, func):
        t0 = time.perf_counter()
        result = func()
        if isinstance(result, dict):
            counts.update(result)
            what = ", ".join(f"{v:,} {k}" for k, v in result.items())
        else:
            what = f"{result:,}" if isinstance(result, int) else ""
            counts[label] = result if isinstance(result, int) else 0
        if stdout is not None:
            stdout.write(f"  {label:<28} {time.perf_counter() - t0:7.1f} s  {what}")
        return result

    with connection.cursor() as cursor:
        # Durability of a seed's own commit is not worth waiting on (the data can be seeded again).
        cursor.execute("SET LOCAL synchronous_commit = off")
        # Room for the hash joins and the materialised steps of the INSERT … SELECTs (this transaction only).
        cursor.execute("SET LOCAL work_mem = '256MB'")
    tree = part(
        "organisations",
        lambda: members_scale.seed_tree(
            name=DISTRICT,
            streets=scale.streets,
            communities=scale.communities_per_street,
            branches=scale.branches_per_community,
            grids=scale.grids_per_community,
        ),
    )
    password_hash = make_password(password)
    part("members", lambda: members_scale.seed_members(tree=tree, count=scale.members, password_hash=password_hash))
    part("secretaries, grid leaders", partial(members_scale.seed_roles, tree=tree))
    activity = part(
        "projects, activities",
        lambda: projects_scale.seed(
            branch_ids=tree.branch_ids, projects=scale.projects, activities_per_project=scale.activities_per_project
        ),
    )
    part(
        "other service records",
        lambda: members_scale.seed_records(tree=tree, count=max(scale.records - activity["activity records"], 0)),
    )
    part("wishes", lambda: demands_scale.seed(community_ids=tree.community_ids, wishes=scale.wishes))
    part(
        "ledger",
        lambda: {"ledger entries": incentives_scale.seed(branch_ids=tree.branch_ids)},
    )
    part("analyze", _analyze)
    # The dashboard's yearly summary (members.ServiceYear) is rebuilt for the years the records cover, as the
    # periodic rebuild would, so the dashboard reads it at once.
    part("dashboard summary", lambda: _summaries())
    if stdout is not None:
        stdout.write(f"  {'total':<28} {time.perf_counter() - started:7.1f} s")
    return counts


def _summaries() -> int:
    this_year = timezone.localdate().year
    rows = sum(members_services.service_year_rebuild(year=year) for year in range(this_year - 2, this_year + 1))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE members_serviceyear")
    return rows


def _analyze() -> None:
    with connection.cursor() as cursor:
        for table in (
            "auth_user",
            "members_organization",
            "members_member",
            "members_servicerecord",
            "projects_serviceproject",
            "projects_activity",
            "projects_signup",
            "demands_microwish",
            "demands_wishevent",
            "incentives_ledgerentry",
            "incentives_pointsbalance",
        ):
            cursor.execute(f"ANALYZE {table}")

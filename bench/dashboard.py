"""Bench: time the secretaries' dashboard for the top organization with 100,000 members and 1,000,000 service
records on PostgreSQL (target: under 500 ms). Not part of the test suite.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/vp_bench_dashboard \\
    .venv/bin/python bench/dashboard.py --members 100000 --records 1000000

The bench database must exist and be migrated; when it has fewer members than `--members`, `seed_demo --members N`
tops it up (about 80 s for 100,000). Service records are topped up to `--records` in one INSERT … SELECT over
generate_series (verified records spread over the last two years, `source_ref` "bench:<n>", so a second run adds
nothing). That INSERT goes around `members.services`, so the yearly service summary (members.ServiceYear) is then
rebuilt for the years concerned, as the nightly task does (`--live` skips that and un-marks the years, to time the
live computation), and the tables are vacuumed and analysed, as autovacuum would. Then the dashboard page is
requested `--runs` times for the platform admin (the top organization, this year), and for one community and one
branch, and the fastest, median and slowest times are printed, with the time of each figure group.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--live", action="store_true", help="time the live computation (no summary)")
    return parser.parse_args()


def setup_django() -> None:
    os.environ["DATABASE_URL"] = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vp_bench_dashboard"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "volunteer_platform.settings_test")
    import django

    django.setup()


def top_up_members(target: int) -> None:
    from django.core.management import call_command

    from members.models import Member

    if Member.objects.count() < target:
        started = time.perf_counter()
        call_command("seed_demo", members=target)
        print(f"seed_demo --members {target}: {time.perf_counter() - started:.0f} s")


def prepare_summary(live: bool, added: bool) -> None:
    """Build the yearly summary where the bench's INSERT went around the services (or drop it for `--live`), then
    VACUUM ANALYZE so the planner knows the new rows and index-only scans work, as autovacuum would see to."""
    from django.db import connection

    from members.models import ServiceYearBuilt
    from members.services import service_years_rebuild_due

    started = time.perf_counter()
    if live:
        ServiceYearBuilt.objects.all().delete()
    elif added or not ServiceYearBuilt.objects.exists():
        ServiceYearBuilt.objects.all().delete()  # every year: the INSERT may have added to any of them
        years = service_years_rebuild_due()
        print(f"service summary rebuilt for {years} in {time.perf_counter() - started:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def top_up_records(target: int) -> bool:
    """Verified records for random members over the last 730 days, 1–4 hours, recorded by the member's branch."""
    from django.db import connection, transaction

    from members.models import ServiceRecord

    missing = target - ServiceRecord.objects.count()
    if missing <= 0:
        return False
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM members_servicerecord")
        offset = cursor.fetchone()[0]
        cursor.execute(
            """
            WITH m AS (SELECT id, organization_id, row_number() OVER (ORDER BY id) AS n FROM members_member),
                 c AS (SELECT count(*) AS total FROM members_member),
                 g AS (
                     SELECT i,
                            1 + (hashtext('m' || i)::bigint & 2147483647) %% (SELECT total FROM c) AS n,
                            ((hashtext('d' || i)::bigint & 2147483647) %% 730)::int AS back,
                            1 + (hashtext('h' || i)::bigint & 2147483647) %% 4 AS h
                     FROM generate_series(%s + 1, %s + %s) AS i
                 )
            INSERT INTO members_servicerecord
                (member_id, date, started_at, ended_at, place, content, beneficiary_summary, hours, organizer,
                 recording_organization_id, source, source_ref, status, verified_at, void_reason,
                 created_at, updated_at)
            SELECT m.id, CURRENT_DATE - g.back,
                   (CURRENT_DATE - g.back) + TIME '09:00',
                   (CURRENT_DATE - g.back) + TIME '09:00' + make_interval(hours => g.h::int),
                   '社区活动中心', '志愿服务（基准测试数据）', '', g.h, '基准', m.organization_id,
                   'manual', 'bench:' || g.i, 'verified', now(), '', now(), now()
            FROM g JOIN m ON m.n = g.n
            ON CONFLICT DO NOTHING
            """,
            [offset, offset, missing],
        )
        cursor.execute("ANALYZE members_servicerecord")
    print(f"added {missing} service records in {time.perf_counter() - started:.0f} s")
    return True


def bench(runs: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from members.models import Member, Organization, ServiceRecord
    from volunteer_platform import selectors

    admin = get_user_model().objects.filter(is_superuser=True).first()
    client = Client()
    client.force_login(admin)
    top = selectors.dashboard_root(admin)
    today = timezone.localdate()
    period = selectors.Period(today.replace(month=1, day=1), today)
    print(
        f"{Member.objects.count()} members, {ServiceRecord.objects.count()} service records; "
        f"dashboard of {top.name} for {period.start} – {period.end}"
    )
    summary = selectors.summary_ready(selectors._summary_years(period, selectors.trend_span(today)))
    print(f"figures over the records from the {'yearly summary' if summary else 'records (live)'}")
    community = Organization.objects.filter(parent=top).order_by("path").first()
    branch = Organization.objects.filter(type=Organization.Type.BRANCH).annotate(n=Count("members"))
    branch = branch.order_by("-n", "path").first()
    pages = (
        (top.name, "/dashboard/"),
        (community.name, f"/dashboard/?org={community.pk}"),
        (branch.name, f"/dashboard/?org={branch.pk}"),
    )

    def measure(label, url, how):
        client.get(url)  # warm the connection, the caches of PostgreSQL and of the templates
        times = []
        for _ in range(runs):
            reset_queries()
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        print(
            f"GET {url} [{label}, {how}] ({len(ctx.captured_queries)} queries): fastest {min(times):.0f} ms, "
            f"median {statistics.median(times):.0f} ms, slowest {max(times):.0f} ms"
        )

    for label, url in pages:
        measure(label, url, "computed now")
    # What beat does every 10 minutes: the snapshots of the organizations with DASHBOARD_SNAPSHOT_MIN_MEMBERS
    # members or more, which the page then reads (volunteer_platform/selectors.py, "Dashboard snapshots").
    from volunteer_platform import services

    started = time.perf_counter()
    made = services.dashboard_snapshots_refresh()
    print(f"dashboard snapshots: {made} organizations in {time.perf_counter() - started:.1f} s")
    for label, url in pages:
        if selectors.dashboard_snapshot(
            selectors.dashboard_organization(admin, url.partition("org=")[2] or top.pk), period
        ):
            measure(label, url, "snapshot")
    groups = {
        "members + league by child": lambda: selectors._figures_by_child(top, period, summary),
        "wishes": lambda: selectors.wish_figures(top, period),
        "redemptions": lambda: selectors.redemption_figures(top, period),
        "stars": lambda: selectors.star_distribution(top),
        "training": lambda: selectors.completion_by_branch(top, period.end.year),
        "trend": lambda: selectors.monthly_trend(top, period.end, summary=summary),
        "league (children, wishes)": lambda: selectors.league_table(top, period, by_child={}),
        "follow-up page": lambda: list(selectors.members_without_service(top, period.end.year, summary)[:26]),
    }
    for name, func in groups.items():
        started = time.perf_counter()
        func()
        print(f"  {name:26s} {(time.perf_counter() - started) * 1000:6.0f} ms")


def main():
    args = parse_args()
    setup_django()
    top_up_members(args.members)
    added = top_up_records(args.records)
    prepare_summary(args.live, added)
    bench(args.runs)


if __name__ == "__main__":
    main()

"""Bench: an export to the national volunteer system (members.services.national) of a whole district — 1,000,000
service records — on PostgreSQL, its time and its peak memory. Not part of the test suite (the suite keeps the
2,000-against-20,000-row memory test, tests/members/test_national.py).

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/vp_bench_national \\
    .venv/bin/python bench/national_export.py --members 20000 --records 1000000

The database must exist and be migrated. Members and records are topped up as bench/dashboard.py does (seed_demo,
then one INSERT … SELECT of verified records over the last two years). Every earlier export batch is deleted first,
so each run exports every record again. Printed: the rows, the seconds, the process's peak resident memory (ru_maxrss)
before and after the export, and the size of the files. `--tracemalloc` also traces Python's allocations (several
times slower; the peak of what Python allocated, without the interpreter and the libraries).
"""

import argparse
import os
import resource
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--tracemalloc", action="store_true")
    return parser.parse_args()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main() -> None:
    args = parse_args()
    os.environ["BENCH_DATABASE_URL"] = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vp_bench_national"
    )
    from bench.dashboard import setup_django, top_up_members, top_up_records

    setup_django()
    from django.db import connection
    from django.utils import timezone

    from members.models import NationalExportBatch, NationalExportItem, Organization, ServiceRecord
    from members.services import national as exchange

    top_up_members(args.members)
    if top_up_records(args.records):
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE members_servicerecord")
    NationalExportItem.objects.all().delete()
    NationalExportBatch.objects.all().delete()
    top = Organization.objects.filter(parent__isnull=True).order_by("pk").first()
    today = timezone.localdate()
    print(f"{ServiceRecord.objects.count()} service records; exporting {top.name}, last 731 days")

    before = peak_rss_mb()
    if args.tracemalloc:
        tracemalloc.start()
    started = time.perf_counter()
    batch = exchange.national_export_create(
        organization=top, period_start=today - timedelta(days=731), period_end=today, actor=None
    )
    seconds = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
    after = peak_rss_mb()
    print(
        f"batch {batch.pk}: {batch.volunteers} volunteers, {batch.records} records in {seconds:.0f} s "
        f"({batch.records / seconds:.0f} records/s)"
    )
    print(f"peak RSS: {before:.0f} MB before the export, {after:.0f} MB after")
    if traced is not None:
        print(f"tracemalloc peak during the export: {traced:.1f} MB")
    sizes = batch.volunteers_file.size / 2**20, batch.records_file.size / 2**20
    print(f"files: volunteers {sizes[0]:.1f} MB, records {sizes[1]:.1f} MB")


if __name__ == "__main__":
    main()

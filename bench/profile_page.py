"""Profile one page against the bench database with pyinstrument (find where the time goes before optimizing).

    .venv/bin/python bench/profile_page.py /me/records/ --user member      # a district member
    .venv/bin/python bench/profile_page.py "/dashboard/?org=district" --user admin
    .venv/bin/python bench/profile_page.py /wishes/ --runs 20

The page is requested through Django's test client with the bench settings (bench/config.py): `--runs` times
after one warm-up request, then the profile of the last run is printed (and the median time of all runs).
"district" in the path is replaced by the district's id. Anonymous requests skip the public page cache.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import config  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path")
    parser.add_argument("--user", choices=["anonymous", "member", "admin"], default="anonymous")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    os.environ.update(config.django_env())
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from pyinstrument import Profiler

    from members.models import Member, Organization
    from volunteer_platform import scale

    district = Organization.objects.get(parent=None, name=scale.DISTRICT)
    path = args.path.replace("district", str(district.pk))
    client = Client(HTTP_HOST=config.HOST)
    if args.user == "admin":
        client.force_login(get_user_model().objects.get(username="admin"))
    elif args.user == "member":
        member = Member.objects.filter(organization__path__startswith=district.path, status="active").order_by("pk")
        client.force_login(member[500].user)
    from django.db import connection

    times = []
    for run in range(args.runs + 1):
        if args.user == "anonymous" and settings.PAGE_CACHES:
            cache.clear()  # the page itself, not what a rendered page keeps (the filters' options)
        profiler = Profiler(interval=0.0005)
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            profiler.start()
            response = client.get(path)
            profiler.stop()
            elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.status_code
        if run:
            times.append(elapsed)
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    slowest = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:5]
    print(f"{path}: median {statistics.median(times):.1f} ms over {args.runs} runs, {len(queries)} queries")
    for q in slowest:
        print(f"  {float(q['time']) * 1000:7.1f} ms  {q['sql'][:160]}")


if __name__ == "__main__":
    main()

"""Profile the sign-up storm's POST in process against the bench database (find where the time goes before optimizing).

    .venv/bin/python bench/profile_storm.py                 # 60 members sign up for a new 20-seat activity
    .venv/bin/python bench/profile_storm.py --members 100 --top 40

A new activity is created as `bench/run.py` creates the storm's, then each member POSTs its sign-up through Django's
test client with the bench settings (bench/config.py), one after another, signed in by a session stored by the
server's engine. It prints the CPU (process time) and wall time per request (median and p90), the queries of one
request, and the cProfile of all requests sorted by cumulative time. Run `bench/run.py` once first: it seeds the
database.
"""

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import config  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=60)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--no-profile", action="store_true", help="time the requests without cProfile's overhead")
    args = parser.parse_args()
    os.environ.update(config.django_env())
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench import run
    from projects.models import SignUp

    fixtures = run.prepare_fixtures(Path(tempfile.mkstemp(suffix=".json")[1]))
    activity_id = fixtures["storm_activity_id"]
    sessions = fixtures["storm_sessions"][: args.members]
    path = f"/activities/{activity_id}/signup/"
    profile = cProfile.Profile()
    cpu, wall = [], []
    for number, key in enumerate(sessions):
        client = Client(HTTP_HOST=config.HOST)
        client.cookies[settings.SESSION_COOKIE_NAME] = key
        with CaptureQueriesContext(connection) as queries:
            started_cpu, started = time.process_time(), time.perf_counter()
            if number and not args.no_profile:  # the first request warms the process up and is not profiled
                profile.enable()
            response = client.post(path)
            profile.disable()
            elapsed_cpu, elapsed = time.process_time() - started_cpu, time.perf_counter() - started
        assert response.status_code == 302, response.status_code
        if number:
            cpu.append(elapsed_cpu * 1000)
            wall.append(elapsed * 1000)
        last = queries
    counts = dict.fromkeys(SignUp.Status.values, 0)
    for status in SignUp.objects.filter(activity_id=activity_id).values_list("status", flat=True):
        counts[status] += 1
    if not args.no_profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
    print(f"{len(cpu)} sign-ups after a warm-up: outcome {counts}")
    print(f"CPU per request: median {statistics.median(cpu):.1f} ms, p90 {statistics.quantiles(cpu, n=10)[-1]:.1f}")
    print(f"wall per request: median {statistics.median(wall):.1f} ms, p90 {statistics.quantiles(wall, n=10)[-1]:.1f}")
    print(f"{len(last)} queries in the last request:")
    for q in last.captured_queries:
        print(f"  {float(q['time']) * 1000:6.2f} ms  {q['sql'][:150]}")


if __name__ == "__main__":
    main()

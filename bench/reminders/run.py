"""Bench: fan out an activity reminder to N members (default 100,000) with W real workers (default 2) and print
how many messages per second are written and delivered. Not part of the test suite.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/vp_bench \\
    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/reminders/run.py --members 100000 --workers 2

The bench database is created and migrated when missing, and its bench rows are deleted at the end (--keep keeps
them). The Redis database's queue is purged: give the bench a Redis database of its own. Each member gets two
messages (in-app and SMS; SMS goes to the in-memory test backend), so 100,000 members are 200,000 messages.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=1, help="processes per worker (prefork when > 1)")
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--timeout", type=int, default=1800, help="seconds before giving up")
    parser.add_argument("--keep", action="store_true", help="keep the bench users and notifications")
    return parser.parse_args()


def prepare_environment() -> dict:
    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vp_bench_reminders")
    if not os.environ.get("REDIS_URL"):
        sys.exit("REDIS_URL is required (a Redis database of the bench's own: its queue is purged)")
    env = {
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "volunteer_platform.settings_test",  # test secrets, locmem email and SMS
        "TEST_CELERY_EAGER": "false",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    _create_database(database_url)
    return {**os.environ, **env}


def _create_database(url: str) -> None:
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    conn = psycopg2.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres", dbname="postgres"
    )
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def start_workers(env: dict, count: int, concurrency: int) -> list[subprocess.Popen]:
    pool = ["--pool=solo"] if concurrency == 1 else [f"--concurrency={concurrency}"]
    return [
        subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "volunteer_platform", "worker", f"--hostname=bench{i}@%h",
                *pool, "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--include=bench.reminders.tasks",
            ],
            env=env,
            cwd=ROOT,
        )
        for i in range(count)
    ]  # fmt: skip


def main():
    sys.stdout.reconfigure(line_buffering=True)  # progress lines show as they come, also into a file
    args = parse_args()
    env = prepare_environment()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from notifications import fanout
    from notifications.models import Notification
    from volunteer_platform.celery import app

    call_command("migrate", verbosity=0)
    User = get_user_model()
    campaign = f"run{int(time.time())}"
    existing = User.objects.filter(username__startswith="bench-").count()
    if existing < args.members:
        started = time.monotonic()
        User.objects.bulk_create(
            [User(username=f"bench-{i:07d}", password="!") for i in range(existing, args.members)], batch_size=5000
        )
        print(f"created {args.members - existing} members in {time.monotonic() - started:.1f} s")
    recipients = User.objects.filter(username__startswith="bench-").order_by("pk")[: args.members]
    last_id = recipients[args.members - 1].pk
    recipients = User.objects.filter(username__startswith="bench-", pk__lte=last_id)
    expected = 2 * args.members

    app.control.purge()
    workers = start_workers(env, args.workers, args.concurrency)
    try:
        deadline = time.monotonic() + 60
        while len(app.control.ping(timeout=0.5)) < args.workers:
            if time.monotonic() > deadline:
                sys.exit("workers did not start")
        print(
            f"{args.workers} worker(s) × {args.concurrency} process(es); {args.members} members → {expected} messages"
        )

        rows = Notification.objects.filter(dedupe_key__startswith=f"bench:{campaign}:")
        started = time.monotonic()
        chunks = fanout.plan(
            "bench.reminders.tasks.remind_chunk", recipients, chunk=args.chunk, kwargs={"campaign": campaign}
        )
        print(f"planned {chunks} chunks of {args.chunk} in {time.monotonic() - started:.2f} s")
        written_done = None
        while True:
            time.sleep(2)
            elapsed = time.monotonic() - started
            written = rows.count()
            sent = rows.filter(status=Notification.Status.SENT).count()
            if written_done is None and written == expected:
                written_done = elapsed
            print(
                f"{elapsed:7.1f} s  written {written:>7} ({written / elapsed:7.0f}/s)"
                f"  sent {sent:>7} ({sent / elapsed:7.0f}/s)"
            )
            if sent == expected or elapsed > args.timeout:
                break
        total = time.monotonic() - started
        print(
            f"\nfan-out: {expected} messages written in {written_done or total:.1f} s "
            f"({expected / (written_done or total):.0f} messages/s)"
        )
        print(f"delivery: {sent} of {expected} delivered in {total:.1f} s ({sent / total:.0f} messages/s)")

        rerun = time.monotonic()
        fanout.plan("bench.reminders.tasks.remind_chunk", recipients, chunk=args.chunk, kwargs={"campaign": campaign})
        time.sleep(5)
        print(f"rerun of the planner: {rows.count() - expected} new messages ({time.monotonic() - rerun:.1f} s)")
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        app.control.purge()
        if not args.keep:
            Notification.objects.filter(dedupe_key__startswith="bench:").delete()


if __name__ == "__main__":
    main()

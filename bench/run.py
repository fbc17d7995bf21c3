"""`make bench`: the platform under load at city-district scale, measured against Django's own ceiling.

1. The dedicated PostgreSQL database (bench/config.py; vp_bench_district) is created and migrated when missing and
   seeded with `seed_demo --scale district` when the district is not there yet (about 4 minutes, printed per part).
2. The fixtures of the run are prepared through Django with the same settings as the server: a new 20-seat
   activity for the sign-up storm and the sessions of 200 members who may sign up for it, 16 members' sessions for
   the member pages, the platform admin's for the dashboard (no sign-in during the run), a brand page and an
   activity page.
3. gunicorn starts on 127.0.0.1 with deploy/gunicorn.conf.py (2 × cores + 1 sync workers), DEBUG off, Redis db 8
   as the broker and db 9 as the shared cache (both flushed first); a thread samples every worker's resident memory
   (psutil) throughout.
4. Each scenario is one headless locust run (a separate process) at concurrency 16 for --seconds, after a short
   warm-up: the ceiling (a fixed short answer through the same middleware), its floors (the same answer from a
   bare WSGI app and from a Django view with no middleware, each on a gunicorn of its own), the pages, the wish
   form's POST, and the sign-up storm — 200 different members POST the sign-up of the 20-seat activity, 16 at a
   time, each once. The storm passes only with exactly 20 confirmed, 180 waitlisted and no error. Its warm-up is
   ten other members signing up for another new activity, so that each worker has served a sign-up before (see
   warm_up).
   Before every other scenario the ceiling is measured again for half as long, and the scenario's share is taken
   of the ceilings around it, the mean of the one measured just before it and the one just after it (before the
   next scenario, or at the end): on this virtual machine the ceiling itself drifted by 75-122 % within one run,
   so a share of the first ceiling measured the drift as much as the page; and one 10-second sample before a page
   was up to 25 % off the samples next to it (2026-12-06: 1196 req/s between 984 and 958), which put a page's
   share under its line alone. The JSON keeps both samples.
5. One table is printed (requests/s, p50/p95/p99 ms, errors, throughput as a share of the ceilings around it,
   verdict against the targets) and written with the machine's core count and git revision to bench/results/ as JSON and
   as a PNG chart.

    make bench                       # or: .venv/bin/python bench/run.py --seconds 20 --only home,ceiling
    BENCH_TRACE=/tmp/trace.txt .venv/bin/python bench/run.py --only signup_storm   # every request's time, too
"""

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import config  # noqa: E402

PY = str(ROOT / ".venv" / "bin" / "python")
CONCURRENCY = 16
STORM_MEMBERS = 200
STORM_SEATS = 20
MEMBER_SESSIONS = 16
# The mixed scenarios' writers: members who sign up and cancel on WRITER_ACTIVITIES activities (the measured one and
# new ones of other projects), and members who claim and release published wishes (each claims once in a bench).
WRITER_MEMBERS = 200
WRITER_ACTIVITIES = 20
CLAIM_MEMBERS = 400
# Before the storm, this many other members sign up for another new activity, five at a time: each gunicorn worker
# serves a sign-up once before the storm, as a worker in production has (see warm_up).
WARMUP_MEMBERS = 10

# scenario, kind ("ceiling", "floor", "anonymous", "member", "post", "storm"), label
SCENARIOS = [
    ("ceiling", "ceiling", "天花板 ceiling (bare view)"),
    ("bare_wsgi", "floor", "bare WSGI app (no Django)"),
    ("bare_django", "floor", "bare Django view (no middleware)"),
    ("home", "anonymous", "/ home"),
    ("wish_wall", "anonymous", "/wishes/ wall"),
    ("projects", "anonymous", "/projects/"),
    ("brand_page", "anonymous", "brand page"),
    ("activity_page", "anonymous", "activity page"),
    ("me", "member", "/me/"),
    ("me_records", "member", "/me/records/"),
    ("me_points", "member", "/me/points/"),
    ("dashboard", "member", "/dashboard/ (district)"),
    ("wish_submit", "post", "POST /wishes/new/"),
    ("signup_storm", "storm", "sign-up storm 200→20"),
]
# Each page also measured rendered (the second server, PAGE_CACHES off: a cache must not hide a slow page) and with
# writes arriving in the same run (sign-ups, cancellations, wish submissions, claims and releases, WRITE_RATE per
# second in all: bench/locustfile.py), where its cache hit rate is counted (X-Page-Cache).
WRITE_RATE = 5.0
WRITERS = 2  # locust users that write, beside the CONCURRENCY readers (bench/locustfile.py: Writer)
_PAGES = [(name, kind, label) for name, kind, label in SCENARIOS if kind in ("anonymous", "member")]
SCENARIOS += [(f"uncached:{name}", f"uncached_{kind}", f"{label} uncached") for name, kind, label in _PAGES]
SCENARIOS += [(f"mixed:{name}", f"mixed_{kind}", f"{label} mixed") for name, kind, label in _PAGES]
# The JSON API's equivalents of three pages: no page cache in front of them, so one pass each, compared with its page
# (Step 17: each at least the share of the ceiling its HTML page reaches, cached and rendered).
API_EQUIVALENTS = {"api_wall": "wish_wall", "api_activities": "projects", "api_me": "me"}
SCENARIOS += [
    ("api_wall", "api", "API /api/v1/wishes/"),
    ("api_activities", "api", "API /api/v1/activities/"),
    ("api_me", "api", "API /api/v1/me/ (token)"),
]
# Targets (bench/RESULTS.md): GET p95 < 150 ms, zero errors; anonymous ≥ 60 % of the ceiling, signed-in ≥ 25 %;
# storm p95 < 250 ms with exactly 20/180; every worker < 200 MB. Rendered (cache off): every page ≥ 20 %; under
# writes: anonymous ≥ 40 %, signed-in ≥ 20 %.
P95_GET_MS = 150
P95_STORM_MS = 250
SHARE = {
    "anonymous": 0.60,
    "member": 0.25,
    "uncached_anonymous": 0.20,  # rendered: every public and member page
    "uncached_member": 0.20,
    "mixed_anonymous": 0.40,  # under writes (bench/RESULTS.md)
    "mixed_member": 0.20,
}
RSS_LIMIT_MB = 200
# The servers besides the site's, by their port's offset from config.PORT: the site with PAGE_CACHES off, and the
# floors' (scenario -> (offset, gunicorn application)). The ceiling (the whole middleware stack) must reach
# CEILING_OF_BARE_DJANGO of the bare Django view's req/s.
UNCACHED_OFFSET = 1
FLOORS = {"bare_wsgi": (2, "bench.bare_wsgi:application"), "bare_django": (3, "bench.bare_django:application")}
CEILING_OF_BARE_DJANGO = 0.80


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20, help="length of each scenario's locust run")
    parser.add_argument("--only", default="", help="comma-separated scenarios (the ceiling always runs)")
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (default: deploy's 2 × cores + 1)")
    return parser.parse_args()


# --- Database and fixtures --------------------------------------------------------------------------------------


def env() -> dict[str, str]:
    return {**os.environ, **config.django_env()}


def ensure_database() -> None:
    import psycopg2

    admin = psycopg2.connect(f"{config.PG}/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config.DATABASE])
        if cursor.fetchone() is None:
            print(f"creating database {config.DATABASE}")
            cursor.execute(f'CREATE DATABASE "{config.DATABASE}"')
    admin.close()
    subprocess.run([PY, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env(), check=True)
    # As in production: hashed static names from the manifest (without it every page logs a warning per file).
    subprocess.run([PY, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=env(), check=True)


def setup_django() -> None:
    os.environ.update(config.django_env())
    import django

    django.setup()


def ensure_scale_data() -> None:
    from volunteer_platform import scale

    if scale.district_exists():
        print(f"scale data present ({scale.DISTRICT}); not seeding")
        return
    started = time.perf_counter()
    subprocess.run([PY, "manage.py", "seed_demo", "--scale", "district"], cwd=ROOT, env=env(), check=True)
    print(f"seed_demo --scale district: {time.perf_counter() - started:.0f} s")
    # Millions of fresh rows have no visibility map yet (no index-only scans) and autovacuum would come for them
    # at some later moment, perhaps in the middle of a measurement: vacuum now, at full speed, before measuring.
    started = time.perf_counter()
    subprocess.run(["psql", f"{config.PG}/{config.DATABASE}", "-qc", "VACUUM (ANALYZE)"], check=True)
    print(f"VACUUM (ANALYZE): {time.perf_counter() - started:.0f} s")


def _session_for(user) -> str:
    """A signed-in session of `user`, stored by the server's own session engine (cached_db: in the database and
    the shared cache), as after the member's last page: a member in the storm has just opened the activity."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def prepare_fixtures(path: Path) -> dict:
    """Ids and sessions of the run (see the module docstring); a new storm activity every run."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db.models import Q
    from django.utils import timezone

    from audit.services import api_token_issue
    from demands.models import MicroWish, WishCategory
    from members.models import Community, Member, Organization
    from projects import services as project_services
    from projects.models import Activity, ServiceProject, SignUp
    from volunteer_platform import scale

    district = Organization.objects.get(parent=None, name=scale.DISTRICT)
    now = timezone.now()
    activity = (
        Activity.objects.filter(
            project__organization__path__startswith=district.path,
            project__status="published",
            status="scheduled",
            starts_at__gt=now,
        )
        .select_related("project")
        .order_by("starts_at", "pk")
        .first()
    )
    project = activity.project
    # The storm: a new activity of a district project at 03:00 some weeks ahead (no member is busy then), 20 seats.
    storm_project = ServiceProject.objects.filter(
        organization__path__startswith=district.path, status="published", course_required=None
    ).order_by("pk")[1]
    taken = set(Activity.objects.filter(project=storm_project).values_list("starts_at", flat=True))
    day = timezone.localdate() + timedelta(days=30)
    while True:
        starts_at = timezone.make_aware(datetime.combine(day, datetime.min.time().replace(hour=3)))
        if starts_at not in taken:
            break
        day += timedelta(days=1)

    def new_activity(starts_at):
        return project_services.activity_create(
            project=storm_project,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=2),
            capacity=STORM_SEATS,
            signup_opens_at=now - timedelta(hours=1),
            signup_closes_at=starts_at - timedelta(hours=1),
            cancel_cutoff_at=starts_at - timedelta(days=1),
        )

    storm = new_activity(starts_at)
    warmup = new_activity(starts_at + timedelta(hours=3))  # 06:00 the same day: no storm member signs up for it
    # Members who may sign up: active, not restricted by recent no-shows; spread over the district.
    recent_no_show = SignUp.objects.filter(status="no_show", activity__starts_at__gte=now - timedelta(days=90))
    eligible = (
        Member.objects.filter(organization__path__startswith=district.path, status="active", user__is_active=True)
        .exclude(pk__in=recent_no_show.values("member_id"))
        .exclude(Q(organizations_as_secretary__isnull=False))
        .select_related("user")
        .order_by("pk")
    )
    wanted = STORM_MEMBERS + MEMBER_SESSIONS + WARMUP_MEMBERS + WRITER_MEMBERS + CLAIM_MEMBERS
    step = max(eligible.count() // wanted, 1)
    picked = iter(eligible[: step * wanted : step])
    storm_members, page_members, warmup_members, writer_members, claim_members = (
        [next(picked) for _ in range(n)]
        for n in (STORM_MEMBERS, MEMBER_SESSIONS, WARMUP_MEMBERS, WRITER_MEMBERS, CLAIM_MEMBERS)
    )
    # The writers' activities: the measured one, and new ones of other district projects (no course required), a
    # day apart at 03:00 a few months ahead (nobody's other activity overlaps), their sign-up open now.
    writer_projects = (
        ServiceProject.objects.filter(
            organization__path__startswith=district.path, status="published", course_required=None
        )
        .exclude(pk__in=[project.pk, storm_project.pk])
        .order_by("pk")[: WRITER_ACTIVITIES - 1]
    )
    writer_day = timezone.localdate() + timedelta(days=90 + int(time.time()) % 200)
    writer_activities = [activity.pk]
    for i, writer_project in enumerate(writer_projects):
        # A project may already hold an activity then (an earlier run's, as the day repeats every 200 seconds):
        # the next free day of that project.
        writer_taken = set(Activity.objects.filter(project=writer_project).values_list("starts_at", flat=True))
        starts_day = writer_day + timedelta(days=i)
        while True:
            starts = timezone.make_aware(datetime.combine(starts_day, datetime.min.time().replace(hour=3)))
            if starts not in writer_taken:
                break
            starts_day += timedelta(days=WRITER_ACTIVITIES)
        writer_activities.append(
            project_services.activity_create(
                project=writer_project,
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                capacity=50,
                signup_opens_at=now - timedelta(hours=1),
                signup_closes_at=starts - timedelta(hours=1),
                cancel_cutoff_at=starts - timedelta(days=1),
            ).pk
        )
    claim_wishes = list(
        MicroWish.objects.filter(
            state="published", offer_pending=False, community__organization__path__startswith=district.path
        )
        .order_by("-published_at", "-pk")
        .values_list("pk", flat=True)[:CLAIM_MEMBERS]
    )
    admin = get_user_model().objects.get(username="admin")
    community = Community.objects.filter(organization__path__startswith=district.path).order_by("pk").first()
    fixtures = {
        "base_url": f"http://{config.HOST}:{config.PORT}",
        "district_id": district.pk,
        "brand_slug": project.slug,
        "activity_id": activity.pk,
        "storm_activity_id": storm.pk,
        "storm_sessions": [_session_for(m.user) for m in storm_members],
        "warmup_activity_id": warmup.pk,
        "warmup_sessions": [_session_for(m.user) for m in warmup_members],
        "member_sessions": [_session_for(m.user) for m in page_members],
        "member_tokens": [api_token_issue(user=m.user, device="bench")[1] for m in page_members],
        "admin_session": _session_for(admin),
        "writer_sessions": [_session_for(m.user) for m in writer_members],
        "writer_activities": writer_activities,
        "claim_sessions": [_session_for(m.user) for m in claim_members],
        "claim_wishes": claim_wishes,
        "wish_category_id": WishCategory.objects.filter(active=True).order_by("pk").first().pk,
        "wish_community_id": community.pk,
    }
    path.write_text(json.dumps(fixtures), encoding="utf-8")
    return fixtures


def refresh_dashboard_snapshots() -> None:
    """What beat's periodic task does in production (no Celery worker runs during the bench): the big
    organizations' default dashboards computed into the shared cache, which was flushed above."""
    from volunteer_platform import services

    started = time.perf_counter()
    count = services.dashboard_snapshots_refresh()
    print(f"dashboard snapshots of {count} organizations: {time.perf_counter() - started:.1f} s")


def storm_outcome(activity_id: int) -> dict[str, int]:
    from django.db import close_old_connections
    from django.db.models import Count

    from projects.models import SignUp

    close_old_connections()
    rows = SignUp.objects.filter(activity_id=activity_id).values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows}


# --- Server and memory ------------------------------------------------------------------------------------------


class RssMonitor(threading.Thread):
    """Peak resident memory of every gunicorn worker (children of the master), sampled every 0.2 s."""

    def __init__(self, master_pid: int):
        super().__init__(daemon=True)
        self.master_pid = master_pid
        self.peaks: dict[int, int] = {}
        self.stop = threading.Event()

    def run(self):
        import psutil

        master = psutil.Process(self.master_pid)
        while not self.stop.is_set():
            try:
                for child in master.children():
                    try:
                        rss = child.memory_info().rss
                    except psutil.Error:
                        continue
                    self.peaks[child.pid] = max(self.peaks.get(child.pid, 0), rss)
            except psutil.Error:
                pass
            self.stop.wait(0.2)


def start_gunicorn(
    workers: int, log: Path, *, port: int = config.PORT, app: str = "volunteer_platform.wsgi", **settings: str
) -> subprocess.Popen:
    """gunicorn serving `app` on `port` with the bench's settings, and `settings` as environment variables
    (PAGE_CACHES)."""
    server_env = {
        **env(),
        **settings,
        "GUNICORN_BIND": f"{config.HOST}:{port}",
        "GUNICORN_ACCESSLOG": "/dev/null",
        "GUNICORN_LOGLEVEL": "warning",
        "GUNICORN_MAX_REQUESTS": "0",  # no recycling: the memory figures are those of long-lived workers
    }
    if workers:
        server_env["GUNICORN_WORKERS"] = str(workers)
    conf = ROOT / "deploy" / "gunicorn.conf.py"
    args = [str(ROOT / ".venv" / "bin" / "gunicorn"), app]
    args += ["-c", str(conf)] if conf.exists() else ["-b", server_env["GUNICORN_BIND"], "-w", str(workers or 5)]
    process = subprocess.Popen(args, cwd=ROOT, env=server_env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://{config.HOST}:{port}/bench/ceiling/", timeout=1).read()
            return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {log}") from None
            time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"gunicorn did not answer; see {log}")


def flush_redis() -> None:
    import redis

    for url in (config.REDIS_URL, config.CACHE_REDIS_URL):  # the broker's queue, the cache's pages and limits
        redis.Redis.from_url(url).flushdb()


# --- Load -------------------------------------------------------------------------------------------------------


def cpu_times() -> tuple[int, int]:
    """(steal, total) jiffies of all CPUs since boot (/proc/stat; (0, 0) where there is none)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0, 0
    values = [int(v) for v in fields]
    return (values[7] if len(values) > 7 else 0), sum(values[:8])


def steal_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of CPU time the hypervisor gave to others between two `cpu_times()` (a virtual machine's steal):
    when it is high the same code runs slower, so absolute rates of two runs cannot be compared, only shares of
    the ceiling measured in the same run."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0


def _process_cpu(process, *, with_reaped_children: bool = False) -> float:
    times = process.cpu_times()
    total = times.user + times.system
    if with_reaped_children:
        total += times.children_user + times.children_system
    return total


def cpu_by_role(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the gunicorn workers, PostgreSQL (the postmaster with its backends, those that
    ended included) and Redis. With the load process's own (`resource`, around its run), a scenario's CPU per
    request shows where a page's cost over the ceiling goes: on two shared cores the load generator's share
    counts too."""
    import psutil

    totals = {"django": 0.0, "postgres": 0.0, "redis": 0.0}
    try:
        master = psutil.Process(server_pid)
        totals["django"] = sum(_process_cpu(p) for p in [master, *master.children()])
    except psutil.Error:
        pass
    for process in psutil.process_iter(["name", "ppid"]):
        try:
            name = process.info["name"] or ""
            if name.startswith("postgres") and process.info["ppid"] == 1:  # the postmaster
                totals["postgres"] += _process_cpu(process, with_reaped_children=True)
                totals["postgres"] += sum(_process_cpu(c) for c in process.children())
            elif name.startswith("redis-server"):
                totals["redis"] += _process_cpu(process)
        except psutil.Error:
            continue
    return totals


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


_write_runs = iter(range(10**6))


def port_of(scenario: str) -> int:
    """The server a scenario is measured on: the site, the site with PAGE_CACHES off, or a floor's own."""
    if scenario in FLOORS:
        return config.PORT + FLOORS[scenario][0]
    return config.PORT + UNCACHED_OFFSET if scenario.startswith("uncached:") else config.PORT


def run_locust(scenario: str, seconds: int, fixtures_path: Path, workdir: Path, users: int = CONCURRENCY) -> dict:
    prefix = workdir / scenario.replace(":", "-")
    counts_path = workdir / f"{scenario.replace(':', '-')}-cache.json"
    mixed = scenario.startswith("mixed:")
    port = port_of(scenario)
    locust_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BENCH_SCENARIO": scenario,
        "BENCH_FIXTURES": str(fixtures_path),
        "BENCH_PHONE_START": str(int(time.time()) % 10**7 * 10),
        "BENCH_CACHE_COUNTS": str(counts_path),
        "BENCH_WRITE_RATE": str(WRITE_RATE),
        "BENCH_WRITE_OFFSET": str(next(_write_runs) * 100) if mixed else "0",
    }
    if mixed:
        users += WRITERS
    args = [
        str(ROOT / ".venv" / "bin" / "locust"),
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        "--host",
        f"http://{config.HOST}:{port}",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds}s",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        "5",
    ]
    if scenario != "signup_storm":
        args.append("--reset-stats")
    subprocess.run(args, cwd=ROOT, env=locust_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(f"{prefix}_stats.csv", encoding="utf-8") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    row = rows.get(scenario) or rows["Aggregated"]
    result = {
        "requests": int(row["Request Count"]),
        "errors": int(row["Failure Count"]),
        "rps": float(row["Requests/s"]),
        "p50": float(row["50%"] or 0),
        "p95": float(row["95%"] or 0),
        "p99": float(row["99%"] or 0),
    }
    counts = json.loads(counts_path.read_text("utf-8")) if counts_path.exists() else {}
    if counts.get("hit") or counts.get("miss"):
        result["cache_hit_rate"] = counts.get("hit", 0) / (counts.get("hit", 0) + counts.get("miss", 0))
    if mixed:
        result["writes"] = {
            name.removeprefix("write:"): {
                "requests": int(w["Request Count"]),
                "errors": int(w["Failure Count"]),
                "p95": float(w["95%"] or 0),
            }
            for name, w in rows.items()
            if name.startswith("write:")
        }
        result["writes_per_second"] = sum(w["requests"] for w in result["writes"].values()) / seconds
        result["errors"] += sum(w["errors"] for w in result["writes"].values())
    return result


def warm_up(scenario: str, fixtures: dict) -> None:
    """A few requests of each GET scenario before measuring (first compilations, the caches' first fill); before
    the storm, the warm-up members sign up for the warm-up activity, five at a time.

    Without it the storm's first sixteen requests were each a worker's first sign-up since it started: traced per
    request (2026-12-06), they took 300-460 ms while every later one took 140-180 ms, and those sixteen were the
    storm's p95. A worker in production has served sign-ups before; the storm measures the queue on one activity.
    """
    if scenario == "signup_storm":
        path = f"/activities/{fixtures['warmup_activity_id']}/signup/"
        with ThreadPoolExecutor(max_workers=5) as pool:
            statuses = list(pool.map(lambda key: _post_signup(fixtures, path, key), fixtures["warmup_sessions"]))
        # A 302 is also what a refused sign-up or a lost session answers: count the sign-ups that were made.
        made = sum(storm_outcome(fixtures["warmup_activity_id"]).values())
        if any(status != 302 for status in statuses) or made != len(fixtures["warmup_sessions"]):
            raise SystemExit(f"the storm's warm-up: answers {statuses}, {made} sign-ups made")
        return
    page = scenario.rpartition(":")[2]
    if page not in config.GETS:
        return
    path, who = config.GETS[page]
    session = {"member": fixtures["member_sessions"][0], "admin": fixtures["admin_session"]}.get(who)
    request = urllib.request.Request(f"http://{config.HOST}:{port_of(scenario)}" + path.format(**fixtures))
    if session:
        request.add_header("Cookie", f"sessionid={session}")
    if who == "app":
        request.add_header("Authorization", f"Bearer {fixtures['member_tokens'][0]}")
    for _ in range(3):
        urllib.request.urlopen(request, timeout=30).read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _post_signup(fixtures: dict, path: str, session: str) -> int:
    """One member's sign-up POST, as the storm's (bench/locustfile.py): the CSRF secret in the cookie and the form."""
    csrf = "w" * 32
    request = urllib.request.Request(
        fixtures["base_url"] + path,
        data=urllib.parse.urlencode({"csrfmiddlewaretoken": csrf}).encode(),
        headers={"Cookie": f"csrftoken={csrf}; sessionid={session}", "Referer": fixtures["base_url"] + path},
    )
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:  # the 302 arrives as an "error" once redirects are not followed
        return error.code


# --- Report -----------------------------------------------------------------------------------------------------


def git_revision() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True)
    return result.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def bracket_ceilings(results: list[dict], ceiling_at_end: float) -> None:
    """Each scenario's ceiling: the mean of the ceiling measured just before it and of the one measured just after
    it, which is the next scenario's "before" or, for the last, the ceiling at the end (see the module docstring)."""
    for r, following in zip(results, [*results[1:], None], strict=True):
        if r["kind"] == "ceiling":
            continue
        after = following["ceiling_before_rps"] if following is not None else ceiling_at_end
        r["ceiling_after_rps"] = after
        r["ceiling_rps"] = (r["ceiling_before_rps"] + after) / 2


def verdicts(results: list[dict]) -> None:
    found = {r["scenario"]: r for r in results}
    for r in results:
        ceiling_rps = r.get("ceiling_rps", 0.0)
        r["share"] = r["rps"] / ceiling_rps if ceiling_rps else 0.0
        problems = []
        if r["errors"]:
            problems.append("errors")
        if r["kind"] in SHARE:
            if r["p95"] >= P95_GET_MS:
                problems.append(f"p95≥{P95_GET_MS}")
            if r["share"] < SHARE[r["kind"]]:
                problems.append(f"<{SHARE[r['kind']]:.0%}")
        if r["scenario"] == "bare_django" and r["rps"] and r["ceiling_rps"] / r["rps"] < CEILING_OF_BARE_DJANGO:
            problems.append(f"ceiling <{CEILING_OF_BARE_DJANGO:.0%} of it")
        if r["kind"] == "api":
            if r["p95"] >= P95_GET_MS:
                problems.append(f"p95≥{P95_GET_MS}")
            page = API_EQUIVALENTS[r["scenario"]]
            for measured in (found.get(page), found.get(f"uncached:{page}")):
                if measured is not None and r["share"] < measured["rps"] / measured.get("ceiling_rps", 1):
                    problems.append(f"< {measured['label']}")
        if r["kind"] == "storm":
            if r["p95"] >= P95_STORM_MS:
                problems.append(f"p95≥{P95_STORM_MS}")
            if r.get("outcome") != {"confirmed": STORM_SEATS, "waitlisted": STORM_MEMBERS - STORM_SEATS}:
                problems.append(f"outcome {r.get('outcome')}")
        r["ok"] = not problems
        r["verdict"] = "ok" if not problems else ", ".join(problems)


def table(results: list[dict]) -> str:
    lines = [
        f"{'scenario':<28} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6} {'ceil/s':>7} "
        f"{'÷ceil':>6} {'steal':>6}  verdict",
        "-" * 105,
    ]
    for r in results:
        lines.append(
            f"{r['label']:<28} {r['rps']:>8.1f} {r['p50']:>7.0f} {r['p95']:>7.0f} {r['p99']:>7.0f} "
            f"{r['errors']:>6} {r['ceiling_rps']:>7.0f} {r['share']:>6.0%} {r.get('steal', 0.0):>6.0%}  {r['verdict']}"
        )
    return "\n".join(lines)


def by_page(results: list[dict], report: dict) -> str:
    """Markdown for bench/RESULTS.md: each page's share of the ceiling (and p95) from the cache, rendered (the cache
    off), and under writes with its cache hit rate, from this one run."""
    found = {r["scenario"]: r for r in results}

    def cell(r: dict | None) -> str:
        if r is None:
            return "—"
        text = f"{r['share']:.0%} · {r['p95']:.0f} ms"
        if "cache_hit_rate" in r:
            text += f" · hits {r['cache_hit_rate']:.0%}"
        return text + ("" if r["ok"] else " ✗")

    load = os.getloadavg()
    lines = [
        f"Run {report['when']}, revision {report['git_revision']}, {report['cores']} cores, load average "
        f"{load[0]:.1f} at the end, writes {WRITE_RATE:g}/s in the mixed column; share of the ceiling · p95 (✗: a "
        "target missed).",
        "",
        "| page | cached | rendered (cache off) | under writes |",
        "|---|---|---|---|",
    ]
    for name, _kind, label in _PAGES:
        if any(f in found for f in (name, f"uncached:{name}", f"mixed:{name}")):
            lines.append(
                f"| {label} | {cell(found.get(name))} | {cell(found.get(f'uncached:{name}'))} "
                f"| {cell(found.get(f'mixed:{name}'))} |"
            )
    api = [r for r in results if r["kind"] == "api"]
    if api:
        lines += ["", "| the API's call | its share · p95 | its page cached | its page rendered |", "|---|---|---|---|"]
        for r in api:
            page = API_EQUIVALENTS[r["scenario"]]
            rendered = found.get(f"uncached:{page}")
            lines.append(f"| {r['label']} | {cell(r)} | {cell(found.get(page))} | {cell(rendered)} |")
    if floor_line(results):
        lines += ["", floor_line(results)]
    writes = [r["writes"] for r in results if "writes" in r]
    if writes:
        totals: dict[str, int] = {}
        for w in writes:
            for kind, figures in w.items():
                totals[kind] = totals.get(kind, 0) + figures["requests"]
        lines += ["", "Writes during the mixed runs: " + ", ".join(f"{k} {n}" for k, n in sorted(totals.items()))]
    return "\n".join(lines)


def floor_line(results: list[dict]) -> str:
    """The ceiling (the whole middleware stack) as a share of each floor measured in the run ("" without one)."""
    floors = [r for r in results if r["kind"] == "floor" and r["rps"]]
    if not floors:
        return ""
    return (
        "The ceiling (whole middleware stack) reaches "
        + "; ".join(f"{r['ceiling_rps'] / r['rps']:.0%} of the {r['label']} ({r['rps']:.0f} req/s)" for r in floors)
        + f" (target: {CEILING_OF_BARE_DJANGO:.0%} of the bare Django view)."
    )


def chart(results: list[dict], report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r["scenario"] for r in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 6))
    colors = ["#888" if r["kind"] == "ceiling" else ("#2a7" if r["ok"] else "#c33") for r in results]
    left.barh(labels, [r["share"] * 100 for r in results], color=colors)
    left.invert_yaxis()
    left.set_xlabel("throughput at concurrency 16, % of the ceilings measured just before and after")
    for share in (0.25, 0.60):
        left.axvline(share * 100, color="#555", linestyle=":", linewidth=1)
        left.text(share * 100, len(labels) - 0.4, f"{share:.0%}", fontsize=8)
    right.barh(labels, [r["p95"] for r in results], color=colors)
    right.invert_yaxis()
    for limit in (P95_GET_MS, P95_STORM_MS):  # the pages' and the storm's p95 targets
        right.axvline(limit, color="#555", linestyle=":", linewidth=1)
    right.set_xlabel("p95 latency (ms)")
    fig.suptitle(
        f"make bench — {report['cores']} cores, {report['workers']} gunicorn workers, rev {report['git_revision']}, "
        f"peak worker RSS {report['worker_rss_peak_mb']:.0f} MB"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    args = parse_args()
    chosen = {s.strip() for s in args.only.split(",") if s.strip()}
    scenarios = [s for s in SCENARIOS if not chosen or s[0] in chosen or s[0] == "ceiling"]
    ensure_database()
    setup_django()
    ensure_scale_data()
    flush_redis()
    config.RESULTS.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    fixtures_path = workdir / "fixtures.json"
    fixtures = prepare_fixtures(fixtures_path)
    refresh_dashboard_snapshots()
    cores = os.cpu_count() or 1
    workers = args.workers or cores * 2 + 1
    server = start_gunicorn(args.workers, workdir / "gunicorn.log")
    # The same pages rendered every time, for the uncached pass (idle while the other server is measured).
    uncached = None
    if any(kind.startswith("uncached_") for _s, kind, _l in scenarios):
        uncached = start_gunicorn(
            args.workers, workdir / "gunicorn-uncached.log", port=config.PORT + UNCACHED_OFFSET, PAGE_CACHES="false"
        )
    floors = {
        name: start_gunicorn(args.workers, workdir / f"gunicorn-{name}.log", port=config.PORT + offset, app=app)
        for name, (offset, app) in FLOORS.items()
        if any(s == name for s, _k, _l in scenarios)
    }
    monitor = RssMonitor(server.pid)
    monitor.start()
    results = []
    try:
        for scenario, kind, label in scenarios:
            if kind == "ceiling":
                adjacent = None
            else:  # the ceiling just before, for this scenario's share (see the module docstring)
                adjacent = run_locust("ceiling", max(args.seconds // 2, 3), fixtures_path, workdir)["rps"]
            warm_up(scenario, fixtures)
            users = CONCURRENCY
            seconds = args.seconds if kind != "storm" else 60
            # whose CPU the figures count
            measured = floors.get(scenario) or (uncached if scenario.startswith("uncached:") else server)
            before, roles_before, locust_before = cpu_times(), cpu_by_role(measured.pid), children_cpu()
            result = run_locust(scenario, seconds, fixtures_path, workdir, users=users)
            result.update(scenario=scenario, kind=kind, label=label, steal=steal_share(before, cpu_times()))
            result["ceiling_rps"] = result["ceiling_before_rps"] = result["rps"] if adjacent is None else adjacent
            roles = cpu_by_role(measured.pid)
            cpu = {role: roles[role] - roles_before[role] for role in roles}
            cpu["locust"] = children_cpu() - locust_before
            # Over the whole run, warm-up and ramp included: a little more than the measured window's requests.
            result["cpu_ms_per_request"] = {
                role: round(seconds_used * 1000 / max(result["requests"], 1), 2) for role, seconds_used in cpu.items()
            }
            if kind == "storm":
                result["outcome"] = storm_outcome(fixtures["storm_activity_id"])
            results.append(result)
            extra = f"  hits {result['cache_hit_rate']:.0%}" if "cache_hit_rate" in result else ""
            if "writes_per_second" in result:
                extra += f"  writes {result['writes_per_second']:.1f}/s"
            print(
                f"  {label:<28} {result['rps']:8.1f} req/s  p95 {result['p95']:5.0f} ms"
                f"  errors {result['errors']}{extra}"
                f"  steal {result['steal']:.0%}  CPU ms/request: "
                + ", ".join(f"{role} {ms:.2f}" for role, ms in result["cpu_ms_per_request"].items()),
                flush=True,
            )
        # The ceiling once more at the end: how far the machine's speed drifted during the run.
        before = cpu_times()
        ceiling_end = run_locust("ceiling", args.seconds, fixtures_path, workdir)
        ceiling_end["steal"] = steal_share(before, cpu_times())
        print(f"  ceiling again at the end     {ceiling_end['rps']:8.1f} req/s  steal {ceiling_end['steal']:.0%}")
        bracket_ceilings(results, ceiling_end["rps"])
    finally:
        monitor.stop.set()
        monitor.join()
        for process in filter(None, (server, uncached, *floors.values())):
            process.terminate()
            process.wait(timeout=30)
    verdicts(results)
    peaks = {pid: rss / 2**20 for pid, rss in monitor.peaks.items()}
    report = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "git_revision": git_revision(),
        "cores": cores,
        "machine": platform.platform(),
        "workers": workers,
        "concurrency": CONCURRENCY,
        "seconds_per_scenario": args.seconds,
        "database": config.DATABASE,
        "worker_rss_peak_mb": max(peaks.values(), default=0.0),
        "worker_rss_peaks_mb": {str(pid): round(mb, 1) for pid, mb in sorted(peaks.items())},
        "worker_rss_median_peak_mb": statistics.median(peaks.values()) if peaks else 0.0,
        "results": results,
        "ceiling_at_end": ceiling_end,
        "steal_mean": statistics.mean(r["steal"] for r in results) if results else 0.0,
        "storm_outcome": next((r.get("outcome") for r in results if r["kind"] == "storm"), None),
    }
    report["ok"] = all(r["ok"] for r in results) and report["worker_rss_peak_mb"] < RSS_LIMIT_MB
    print()
    print(table(results))
    print(
        "\ngunicorn workers' peak RSS (MB): "
        + ", ".join(f"{mb:.0f}" for _pid, mb in sorted(peaks.items()))
        + f" — limit {RSS_LIMIT_MB} MB"
    )
    if report["storm_outcome"] is not None:
        print(f"sign-up storm outcome: {report['storm_outcome']}")
    if floor_line(results):
        print(floor_line(results))
    drift = ceiling_end["rps"] / results[0]["rps"] if results[0]["rps"] else 0.0
    print(
        f"ceiling at the end: {ceiling_end['rps']:.0f} req/s ({drift:.0%} of the first); CPU steal during the run: "
        f"{report['steal_mean']:.0%} on average (a virtual machine's CPU given to others; see bench/run.py)"
    )
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    json_path = config.RESULTS / f"bench-{stamp}.json"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    png_path = config.RESULTS / f"bench-{stamp}.png"
    chart(results, report, png_path)
    pages = by_page(results, report)
    (config.RESULTS / f"bench-{stamp}.md").write_text(pages + "\n", encoding="utf-8")
    print("\n" + pages)
    print(f"\nwritten: {json_path.relative_to(ROOT)}, {png_path.relative_to(ROOT)}")
    print("all targets met" if report["ok"] else "SOME TARGETS MISSED")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

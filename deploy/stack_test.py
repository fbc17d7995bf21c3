"""The stack test (`make stack-test`): the production set-up in miniature on 127.0.0.1, and a failure in the middle.

It builds a fresh database (vp_stack, dropped and recreated), migrates, seeds the demo, collects static files and
syncs the schedules, then starts with the production settings (volunteer_platform.settings, DEBUG off):

  web A, web B   two gunicorn instances (deploy/gunicorn.conf.py) on two free ports — two "web machines"
  worker 1, 2    two Celery workers of the queues interactive and notify
  heavy          one Celery worker of the heavy queue (queues by kind: settings.TASK_QUEUE_OF)
  beat           one Celery beat (django-celery-beat's database scheduler)

all sharing PostgreSQL and Redis (database 7 the broker, database 6 the cache: two instances in production). It
then drives the main journeys through both instances, one request here, the next there, with the session cookie
shared as a load balancer would see it: a resident submits a 微心愿 and tracks it, the community secretary verifies
and publishes it, a member claims it and signs up for an activity. Half-way it SIGKILLs web B and worker 2 and
shows the journeys finishing on the survivors: a second wish goes all the way through web A, and beat's reminder
reaches the member. At the end every notification in the outbox must be sent, once: the SMS "provider"
(deploy/stack_sms.py) records each delivery under the message's dedupe key in the same transaction as the outbox
row, and refuses a second one.

Everything it starts runs in its own process group and is stopped in `finally`, also when a check fails. Logs of
each process are in var/stack/logs/. The database is kept for inspection until the next run.

Only for a developer's or CI's machine: it drops the database `vp_stack` and flushes Redis databases 7 and 6.
"""

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DB_NAME = os.environ.get("STACK_DB_NAME", "vp_stack")
PG = os.environ.get("STACK_PG", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("STACK_REDIS_URL", "redis://127.0.0.1:6379/7")
CACHE_REDIS_URL = os.environ.get("STACK_CACHE_REDIS_URL", "redis://127.0.0.1:6379/6")
STACK_DIR = ROOT / "var" / "stack"
LOGS = STACK_DIR / "logs"
PASSWORD = "demo12345"  # volunteer_platform/demo.py
DEADLINE_SECONDS = 60  # for each wait (processes up, reminder, outbox drained)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stack_environment(port_a: int) -> dict[str, str]:
    """The production settings with generated secrets, for plain HTTP on 127.0.0.1."""
    from cryptography.fernet import Fernet

    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "volunteer_platform.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": REDIS_URL,
        "CACHE_REDIS_URL": CACHE_REDIS_URL,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "FIELD_HMAC_KEY": secrets.token_urlsafe(32),
        "EMAIL_URL": "consolemail://",
        "SMS_BACKEND": "deploy.stack_sms.RecordingSMSBackend",
        "SITE_URL": f"http://127.0.0.1:{port_a}",
        # No TLS here (nginx terminates it in production): no redirect to https. The cookies stay Secure; the
        # client below sends them to 127.0.0.1 as browsers do for a loopback address.
        "SECURE_SSL_REDIRECT": "false",
        "VAR_DIR": str(STACK_DIR),
        "STATIC_ROOT": str(STACK_DIR / "static"),
        "MEDIA_ROOT": str(STACK_DIR / "media"),
        "LOG_LEVEL": "INFO",
        # A message a killed worker held comes back after 20 s instead of an hour; a row the sweeper queued and
        # the killed worker lost is queued again after 15 s instead of 5 min. Both only shorten this test's wait.
        "CELERY_VISIBILITY_TIMEOUT": "20",
        "NOTIFICATION_SWEEP_REQUEUE_SECONDS": "15",
        "STACK_SMS_DELAY_MS": "20",
        "GUNICORN_WORKERS": "2",
        "PYTHONUNBUFFERED": "1",
    }


# --- Processes --------------------------------------------------------------------------------------------------


class Processes:
    """Started processes, each the leader of its own process group (gunicorn's and Celery's children included)."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str], **env) -> subprocess.Popen:
        LOGS.mkdir(parents=True, exist_ok=True)
        out = open(LOGS / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process's lifetime, by the OS
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**self.env, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        """SIGKILL the whole group: no graceful shutdown, no chance to acknowledge or finish anything."""
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            _signal_group(proc, signal.SIGKILL)  # the group's children too, even when the leader has exited
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


def group_pids(pgid: int) -> list[int]:
    """The processes of a process group (Celery's main process and its pool children), from /proc."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited meanwhile
        if int(fields[2]) == pgid:  # state, ppid, pgrp
            pids.append(int(stat.parent.name))
    return pids


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def manage(env: dict[str, str], *args: str, name: str | None = None) -> subprocess.Popen:
    LOGS.mkdir(parents=True, exist_ok=True)
    out = open(LOGS / f"{name or args[0]}.log", "wb")  # noqa: SIM115
    return subprocess.Popen([PYTHON, "manage.py", *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen, what: str, timeout: float = 300) -> None:
    if proc.wait(timeout=timeout) != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}); see {LOGS}")


def wait_until(predicate, what: str, timeout: float = DEADLINE_SECONDS, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# --- A browser without a browser ---------------------------------------------------------------------------------


class _Forms(HTMLParser):
    """The forms of a page: action and the values a browser would submit (checked boxes, selected options)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self._first_option: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "fields": {}, "options": {}})
            return
        if not self.forms:
            return
        fields, name = self.forms[-1]["fields"], a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            fields[name] = a.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select" and name:
            self._select = name
            self.forms[-1]["options"][name] = []
        elif tag == "option" and self._select:
            value = a.get("value", "")
            self.forms[-1]["options"][self._select].append(value)
            if "selected" in a or self._select not in fields:
                fields[self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            fields[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data


class Visitor:
    """One person with one set of cookies, talking to whichever instance they are sent to.

    Cookies are kept by hand: the session and CSRF cookies are Secure, which browsers send to http://127.0.0.1 (a
    loopback address counts as a secure context) but requests' cookie jar does not. Cookies do not depend on the
    port, so a session made on one instance goes with the visitor to the other, as behind a load balancer."""

    def __init__(self, name: str):
        import requests

        self.name = name
        self.http = requests.Session()
        self.cookies: dict[str, str] = {}
        self.last_request_id = ""

    def _send(self, method: str, url: str, data: dict | None = None):
        """One request and the redirects after it (GET), like a browser; returns (final response, first response)."""
        first = None
        for _hop in range(5):
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
            response = self.http.request(method, url, data=data, headers=headers, allow_redirects=False, timeout=20)
            for cookie in response.cookies:
                self.cookies[cookie.name] = cookie.value
            first = first or response
            if response.status_code not in (301, 302, 303):
                return response, first
            method, data, url = "GET", None, urljoin(url, response.headers["Location"])
        raise AssertionError(f"{self.name}: too many redirects from {url}")

    def get(self, base: str, path: str):
        response, _first = self._send("GET", urljoin(base, path))
        self._check(response, f"GET {path}")
        return response

    def form(self, base: str, path: str, action_pattern: str) -> tuple[str, dict, dict]:
        """The form on `path` whose action matches `action_pattern`: (action path, fields, select options)."""
        parser = _Forms()
        parser.feed(self.get(base, path).text)
        for form in parser.forms:
            action = form["action"] or path  # action="" posts back to the page
            if re.search(action_pattern, action):
                return action, form["fields"], form["options"]
        raise AssertionError(f"{self.name}: no form with action ~ {action_pattern!r} on {path}")

    def post(self, base: str, path: str, data: dict, *, expect_redirect: bool = True):
        """POST a form; a redirect means the form was accepted (Django's post/redirect/get)."""
        response, first = self._send("POST", urljoin(base, path), data)
        self._check(response, f"POST {path}")
        if expect_redirect and first is response:
            errors = re.findall(
                r'class="[^"]*(?:invalid-feedback|alert-danger|errorlist)[^"]*"[^>]*>\s*([^<]*)', response.text
            )
            raise AssertionError(f"{self.name}: POST {path} was not accepted: {errors[:5]}")
        self.last_request_id = first.headers.get("X-Request-ID", "")
        return response

    def sign_in(self, base: str, username: str) -> None:
        action, fields, _ = self.form(base, "/accounts/login/", r"/accounts/login/")
        self.post(base, action, {**fields, "username": username, "password": PASSWORD})

    def _check(self, response, what: str) -> None:
        if response.status_code != 200:
            raise AssertionError(f"{self.name}: {what} answered {response.status_code}")


# --- The test ---------------------------------------------------------------------------------------------------


def prepare_database(env: dict[str, str]) -> None:
    import redis

    maintenance = f"--maintenance-db={PG}/postgres"
    for command in (["dropdb", "--if-exists", "--force", maintenance, DB_NAME], ["createdb", maintenance, DB_NAME]):
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: {result.stderr.strip()}")
    redis.Redis.from_url(REDIS_URL).flushdb()  # broker queues and unacked messages of a last run
    redis.Redis.from_url(CACHE_REDIS_URL).flushdb()  # its cached pages and rate limits
    # Static files and the catalogue need no database: build them while the migrations run.
    static = manage(env, "collectstatic", "--no-input", "--clear")
    # --allow-incomplete: this test is about the running stack; CI checks the catalogue strictly on its own.
    messages = manage(env, "compiletranslations", "--allow-incomplete")
    finish(manage(env, "migrate", "--no-input"), "migrate")
    seed = manage(env, "seed_demo")
    schedules = manage(env, "sync_schedules")
    for proc, what in ((static, "collectstatic"), (messages, "compiletranslations"), (seed, "seed_demo")):
        finish(proc, what)
    finish(schedules, "sync_schedules")


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def stage_the_scene():
    """What an operator and a secretary would have done through the admin: a table for the SMS provider's record,
    an activity starting in 90 minutes, and two schedules made frequent so that the test need not wait for them."""
    from django.db import connection
    from django.utils import timezone
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from deploy.stack_sms import TABLE
    from projects import services as project_services
    from projects.models import ServiceProject

    with connection.cursor() as cursor:
        cursor.execute(TABLE)
    project = ServiceProject.objects.filter(status="published", course_required=None).order_by("pk").first()
    start = (timezone.now() + timedelta(minutes=90)).replace(second=0, microsecond=0)
    activity = project_services.activity_create(
        project=project,
        starts_at=start,
        ends_at=start + timedelta(minutes=45),
        capacity=20,
        place="社区活动室",
        title="上线演练：楼道清扫",
    )
    every_5s, _ = IntervalSchedule.objects.get_or_create(every=5, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name="activity reminders T-2h").update(interval=every_5s, crontab=None)
    PeriodicTask.objects.filter(name="outbox sweeper").update(
        interval=every_5s, crontab=None, kwargs='{"older_than_seconds": 10}'
    )
    connection.close()  # the processes below must not share this connection's transaction state
    return activity


def start_stack(processes: Processes, port_a: int, port_b: int) -> dict[str, str]:
    gunicorn = [PYTHON, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "volunteer_platform.wsgi"]
    celery = [PYTHON, "-m", "celery", "-A", "volunteer_platform"]
    host = socket.gethostname()
    workers = {"worker1": f"stack-w1@{host}", "worker2": f"stack-w2@{host}", "heavy": f"stack-heavy@{host}"}
    processes.start("web-a", gunicorn, GUNICORN_BIND=f"127.0.0.1:{port_a}")
    processes.start("web-b", gunicorn, GUNICORN_BIND=f"127.0.0.1:{port_b}")
    # Queues by kind, as deploy/systemd/volunteer-worker@.service runs them: workers 1 and 2 for the messages and
    # what people wait for, one worker for the heavy queue alone.
    for name, hostname in workers.items():
        queues = "heavy" if name == "heavy" else "interactive,notify"
        processes.start(
            name,
            [*celery, "worker", f"--hostname={hostname}", f"--queues={queues}", "--concurrency=2", "--loglevel=INFO"],
        )
    processes.start("beat", [*celery, "beat", "--loglevel=INFO", f"--pidfile={STACK_DIR / 'celerybeat.pid'}"])
    return workers


def wait_for_stack(processes: Processes, bases: list[str], workers: dict[str, str]) -> None:
    import requests

    from volunteer_platform.celery import app

    def up(base):
        try:
            return requests.get(f"{base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def alive():
        dead = [name for name, proc in processes.procs.items() if proc.poll() is not None]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited at start; see {LOGS}")
        return True

    for base in bases:
        wait_until(lambda base=base: alive() and up(base), f"{base}/healthz")
    pending = set(workers.values())
    wait_until(
        lambda: alive() and not pending.difference(*[set(r) for r in app.control.ping(timeout=0.5)]),
        "the workers to answer a ping",
    )


def submit_wish(resident: Visitor, base: str, *, title: str, phone: str):
    from demands.models import MicroWish
    from members.models import Community

    action, fields, options = resident.form(base, "/wishes/new/", r"/wishes/new/")
    # A community of the secretary `shequ` (幸福里社区党委, volunteer_platform/demo.py), offered by the form.
    community = str(Community.objects.filter(name__startswith="幸福里").values_list("pk", flat=True).first())
    assert community in options["community"], "the form does not offer 幸福里社区"
    resident.post(
        base,
        action,
        {
            **fields,
            "community": community,
            "title": title,
            "description": "家里水龙头一直漏水，老人自己修不了，想请志愿者帮忙看看。",
            "contact_name": "王阿姨",
            "phone": phone,
            "preferred_time": "周末上午",
            "consent_processing": "on",
        },
    )
    return MicroWish.objects.get(title=title)


def track_wish(resident: Visitor, base: str, wish, phone: str) -> None:
    action, fields, _ = resident.form(base, "/wishes/track/", r"/wishes/track/$")
    response = resident.post(base, action, {**fields, "code": wish.tracking_code, "last4": phone[-4:]})
    assert "/wishes/track/status/" in response.url, f"tracking {wish.tracking_code} did not open the timeline"


def verify_and_publish(secretary: Visitor, base: str, wish) -> None:
    action, fields, _ = secretary.form(base, f"/wishes/review/{wish.pk}/", rf"/wishes/review/{wish.pk}/save/")
    secretary.post(base, action, {**fields, "action": "verify_publish"})
    wish.refresh_from_db()
    assert wish.state == "published", f"wish {wish.pk} is {wish.state} after verify_publish"


def claim(member: Visitor, base: str, wish, member_row) -> None:
    action, fields, _ = member.form(base, f"/wishes/{wish.pk}/", rf"/wishes/{wish.pk}/claim/")
    member.post(base, action, fields)
    wish.refresh_from_db()
    assert wish.state == "claimed" and wish.claimed_by_id == member_row.pk, f"wish {wish.pk}: {wish.state}"


def sign_up(member: Visitor, base: str, activity, member_row) -> None:
    from projects.models import SignUp

    action, fields, _ = member.form(base, f"/activities/{activity.pk}/", rf"/activities/{activity.pk}/signup/")
    member.post(base, action, fields)
    assert SignUp.objects.filter(activity=activity, member=member_row, status="confirmed").exists()


def announce(count: int, tag: str) -> tuple[str, int]:
    """A burst of `count` SMS to members (like a notice to every branch), written in one transaction and dispatched
    in batches of 100 after the commit, so that the worker killed next has messages half-sent."""
    from django.contrib.auth import get_user_model

    from notifications.services import Message, notify_many

    prefix = f"stack-notice:{tag}:"
    users = list(get_user_model().objects.filter(member__isnull=False).order_by("pk").values_list("pk", flat=True))
    users = users[:count]
    notify_many(
        Message(
            template="welcome",
            channel="sms",
            dedupe_key=f"{prefix}{user_id}",
            user_id=user_id,
            phone=f"137{user_id:08d}",
            context={"name": "同志"},
        )
        for user_id in users
    )
    return prefix, len(users)


def main() -> int:
    started = time.monotonic()
    port_a, port_b = free_port(), free_port()
    web_a, web_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    env = stack_environment(port_a)
    STACK_DIR.mkdir(parents=True, exist_ok=True)
    (STACK_DIR / "celerybeat.pid").unlink(missing_ok=True)
    summary: list[str] = []

    log(f"fresh database {DB_NAME}: migrate, seed_demo, collectstatic, sync_schedules")
    prepare_database(env)
    setup_django(env)
    activity = stage_the_scene()
    summary.append(f"setup (database, demo, static files, schedules): {time.monotonic() - started:.0f} s")

    processes = Processes(env)
    # A CI timeout or `kill` ends the test through `finally` too, so nothing it started outlives it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        workers = start_stack(processes, port_a, port_b)
        wait_for_stack(processes, [web_a, web_b], workers)
        log(f"up: web A {web_a}, web B {web_b}, {', '.join(workers.values())}, beat")

        import requests
        from django.conf import settings
        from django.db import connection
        from django.utils import timezone

        from members.models import Member
        from notifications.models import Notification
        from volunteer_platform.celery import app
        from volunteer_platform.models import JobFailure

        journeys_started, journeys_began = time.monotonic(), timezone.now()
        member_row = Member.objects.get(user__username="dangyuan")
        resident1, resident2 = Visitor("resident 1"), Visitor("resident 2")
        secretary, member = Visitor("secretary shequ"), Visitor("member dangyuan")
        phone1, phone2 = f"139{secrets.randbelow(10**8):08d}", f"138{secrets.randbelow(10**8):08d}"
        tag = secrets.token_hex(3)

        # --- both web instances and both workers up ---
        wish1 = submit_wish(resident1, web_a, title=f"修理水龙头 {tag}-1", phone=phone1)
        submit_request_id = resident1.last_request_id
        log(f"A: resident 1 submitted wish {wish1.pk} (tracking code sent by SMS; request id {submit_request_id})")
        track_wish(resident1, web_b, wish1, phone1)
        log("B: resident 1 opened the timeline with the code and the phone's last four digits")
        secretary.sign_in(web_b, "shequ")
        verify_and_publish(secretary, web_a, wish1)
        log("B→A: secretary signed in on B, verified and published wish 1 on A")
        member.sign_in(web_a, "dangyuan")
        claim(member, web_b, wish1, member_row)
        log("A→B: member signed in on A, claimed wish 1 on B")
        wish2 = submit_wish(resident2, web_b, title=f"陪同就医 {tag}-2", phone=phone2)
        log(f"B: resident 2 submitted wish {wish2.pk}")
        sign_up(member, web_b, activity, member_row)
        log(f"B: member signed up for activity {activity.pk} (starts in 90 min: T-2h reminder due)")

        # --- a web machine and a worker die, the worker with messages half-sent ---
        notice, notice_size = announce(300, tag)

        def worker2_busy():
            in_hand = app.control.inspect(destination=[workers["worker2"]], timeout=0.5).active() or {}
            return sum(len(tasks) for tasks in in_hand.values())

        # Usually at once; should worker 1 have taken every batch, worker 2 is killed idle (the summary says so).
        try:
            busy = wait_until(worker2_busy, "worker 2 to take a batch of the notice", timeout=10, interval=0.1)
        except AssertionError:
            busy = 0
        if busy:
            time.sleep(1.0)  # half-way through its batch (100 SMS at 20 ms each)
        worker2_pids = group_pids(processes.procs["worker2"].pid)
        processes.kill("web-b")
        processes.kill("worker2")
        sent_before = Notification.objects.filter(dedupe_key__startswith=notice, status="sent").count()
        log(
            f"SIGKILL web B and worker 2 (worker 2 had {busy} batch task(s) in hand; "
            f"{sent_before}/{notice_size} notice SMS sent)"
        )

        try:
            requests.get(f"{web_b}/healthz", timeout=2)
        except requests.ConnectionError:
            pass  # gone, as a dead machine behind the load balancer
        else:
            raise AssertionError("web B still answers after SIGKILL")

        # --- the survivors finish the journeys; the sessions made on B work on A ---
        verify_and_publish(secretary, web_a, wish2)
        log("A: secretary (session from B) verified and published wish 2")
        claim(member, web_a, wish2, member_row)
        log("A: member claimed wish 2")
        track_wish(resident2, web_a, wish2, phone2)
        log("A: resident 2 tracked wish 2")

        reminder_key = f"projects:activity-reminder:2h:{activity.pk}:{member_row.pk}:"
        reminder = wait_until(
            lambda: Notification.objects.filter(dedupe_key__startswith=reminder_key, status="sent").first(),
            "beat's T-2h reminder to be delivered",
        )
        log(f"beat → worker 1: reminder delivered ({reminder.get_channel_display()}, {reminder.dedupe_key})")

        # --- the outbox: every message that is due sent, each exactly once ---
        # SMS to residents wait for the end of the quiet hours (22:00-08:00): pending, untried, due at 08:00 —
        # kept, not lost. Everything else must be sent; nothing may have failed.
        def outbox_settled():
            due = Notification.objects.filter(status="pending", next_attempt_at__lte=timezone.now())
            return not due.exists() and not Notification.objects.filter(status="failed").exists()

        wait_until(outbox_settled, "every due notification to be sent", 90)
        journey_elapsed = time.monotonic() - journeys_started
        held = list(Notification.objects.filter(status="pending").values_list("channel", "attempts", "recipient_user"))
        assert all(ch == "sms" and tries == 0 and user is None for ch, tries, user in held), (
            "a held row is not a resident's SMS"
        )
        rows = list(
            Notification.objects.filter(status="sent").values_list("dedupe_key", "channel", "created_at", "attempts")
        )
        keys = [key for key, *_ in rows]
        assert len(keys) == len(set(keys)), "a dedupe key appears twice"
        notice_sent = sum(1 for key in keys if key.startswith(notice))
        assert notice_sent == notice_size, f"{notice_sent} of the {notice_size} notice SMS were sent"
        with connection.cursor() as cursor:
            cursor.execute("SELECT reference, count(*) FROM stack_sms_delivery GROUP BY reference")
            deliveries = dict(cursor.fetchall())
        sms_keys = {key for key, channel, *_ in rows if channel == "sms"}
        assert set(deliveries) == sms_keys, (
            f"SMS sent but not delivered: {sorted(sms_keys - set(deliveries))[:5]}; "
            f"delivered without an outbox row: {sorted(set(deliveries) - sms_keys)[:5]}"
        )
        assert all(n == 1 for n in deliveries.values()), "an SMS was delivered twice"
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM stack_sms_delivery WHERE worker_pid = ANY(%s) AND reference LIKE %s",
                [worker2_pids, notice + "%"],
            )
            by_worker2 = cursor.fetchone()[0]
        journey_rows = Notification.objects.filter(created_at__gte=journeys_began).exclude(
            dedupe_key__startswith=notice
        )
        journey_count = journey_rows.count()
        # submitted ×2, published ×2, claimed ×2 to the residents, the reminder: at least 7
        assert journey_count >= 7, f"too few journey notifications: {list(journey_rows.values_list('dedupe_key'))}"
        retried = sum(1 for *_, attempts in rows if attempts > 1)
        failures = JobFailure.objects.count()
        for wish in (wish1, wish2):
            wish.refresh_from_db()
            assert wish.state == "claimed", f"wish {wish.pk} ended {wish.state}"

        # --- heavy work runs on the heavy queue's worker, never on the message workers ---
        app.send_task("volunteer_platform.tasks.refresh_dashboard_snapshots")

        def ran_on(hostname):
            stats = app.control.inspect(destination=[hostname], timeout=1).stats() or {}
            return stats.get(hostname, {}).get("total", {})

        heavy_name = "volunteer_platform.tasks.refresh_dashboard_snapshots"
        wait_until(lambda: ran_on(workers["heavy"]).get(heavy_name), "the heavy worker to refresh the snapshots")

        def queue_of(name):
            return settings.CELERY_TASK_ROUTES.get(name, {}).get("queue", settings.CELERY_TASK_DEFAULT_QUEUE)

        on_worker1, heavy_tasks = ran_on(workers["worker1"]), ran_on(workers["heavy"])
        assert on_worker1 and all(queue_of(name) != "heavy" for name in on_worker1), on_worker1
        assert all(queue_of(name) == "heavy" for name in heavy_tasks), heavy_tasks
        log(f"heavy worker ran {dict(heavy_tasks)}; worker 1 ran {sum(on_worker1.values())} tasks, none heavy")

        # --- the survivor reports healthy; one request id runs through web, access log and worker ---
        health = member.get(web_a, "/healthz").json()
        assert health["status"] == "ok" and health["outbox"]["oldest_pending_age_seconds"] == 0, health
        access_log = (LOGS / "web-a.log").read_text(errors="replace")
        worker_logs = "".join((LOGS / f"{w}.log").read_text(errors="replace") for w in workers)
        assert f"rid={submit_request_id}" in access_log, "the request id is missing from gunicorn's access log"
        assert submit_request_id in worker_logs, "the request id did not reach the worker's log"

        summary += [
            f"killed web B and worker 2 mid-run: worker 2 had {busy} batch(es) of a {notice_size}-SMS notice in "
            f"hand and had delivered {by_worker2} SMS of it; {sent_before} of the notice were sent at the kill, "
            f"worker 1 sent the rest",
            f"journeys through A and B, then A alone: {journey_elapsed:.0f} s",
            "  wish 1: submitted A, tracked B, verified+published A (secretary signed in on B), claimed B",
            "  wish 2: submitted B; after the kill verified+published, claimed, tracked on A",
            f"  sign-up on B; beat's T-2h reminder delivered after the kill ({reminder.channel})",
            f"outbox: {len(rows)} sent, each dedupe key once ({journey_count} from the journeys, {notice_size} of the "
            f"notice); {len(deliveries)} SMS delivered exactly once each; {retried} needed a second attempt",
            f"  {len(held)} residents' SMS held for the quiet hours (pending, untried, due at 08:00), none failed",
            f"request id {submit_request_id}: in web A's access log and in a worker's log line",
            f"failed Celery tasks recorded (JobFailure): {failures}; /healthz on A: ok, outbox age 0 s",
        ]
    finally:
        processes.stop_all()
        leftovers = [name for name, proc in processes.procs.items() if proc.poll() is None]
        log("stopped everything" + (f" except {leftovers}" if leftovers else ""))

    print("\nstack test passed")
    for line in summary:
        print(f"  {line}")
    print(f"  total: {time.monotonic() - started:.0f} s (logs in {LOGS.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (AssertionError, RuntimeError) as exc:
        print(f"\nstack test FAILED: {exc}\n(logs of every process in {LOGS})", file=sys.stderr)
        sys.exit(1)

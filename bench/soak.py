"""Soak the embedded default of `make run` (SQLite, the filesystem broker): does it run for hours?

    .venv/bin/python bench/soak.py --minutes 30

On demand, never in `make test`. In a fresh folder under var/ it prepares the database as `make run` does (migrate,
schedules, demo data) and starts `manage.py rundev` (web, worker, beat) with the embedded defaults whatever the
environment says, then for --minutes drives it from 127.0.0.1:
  - a resident's wish through the public form, every second or so;
  - the demo member signing up for an open activity and cancelling again;
  - every minute, each scheduled task published at once (reminders, sweeps, planners) next to beat's own;
then lets the outbox drain and reports: requests by answer ("refused": the web process was reloading or being
started again), processes that crashed (rundev's "exited with code" lines), answers of 500
and above, notifications not sent, notifications sent more than once (attempts > 1 on a sent row). It exits 1 if
any of these is not zero. The figures go to stdout and to var/soak-<time>/report.txt; rundev's output is beside it.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.config import wish_form  # noqa: E402

# The embedded defaults: no server of any kind, whatever this shell has set.
DROP = ("DATABASE_URL", "REDIS_URL", "CACHE_REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")
MEMBER = "dangyuan"  # volunteer_platform/demo.py


def _environment(var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROP}
    env.update(
        DEBUG="true",
        VAR_DIR=str(var),
        # One address sends everything: the per-address limits would measure the limiter, not the stack.
        WISH_SUBMIT_IP_LIMIT="1000000,3600",
        WISH_SUBMIT_PHONE_LIMIT="1000000,86400",
    )
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def _wait_for(base: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise SystemExit(f"the stack did not answer {base}/healthz within {seconds:.0f} s")


def _token(session: requests.Session, url: str) -> tuple[str, str]:
    page = session.get(url, timeout=30)
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if match is None:
        raise SystemExit(f"no CSRF token on {url} ({page.status_code})")
    return match.group(1), page.text


class Traffic:
    def __init__(self, base: str, password: str) -> None:
        self.base = base
        self.answers: Counter[str] = Counter()
        self.resident = requests.Session()
        self.member = requests.Session()
        token, _page = _token(self.member, f"{base}/accounts/login/")
        self._post(self.member, "login", "/accounts/login/", {"username": MEMBER, "password": password}, token)
        self.wish_token, form = _token(self.resident, f"{base}/wishes/new/")
        self.category = re.search(r'<select name="category".*?<option value="(\d+)"', form, re.S).group(1)
        self.community = re.search(r'<select name="community".*?<option value="(\d+)"', form, re.S).group(1)
        self.sent = 0

    def _post(self, session: requests.Session, name: str, path: str, data: dict, token: str) -> None:
        try:
            answer = session.post(
                self.base + path,
                data={"csrfmiddlewaretoken": token, **data},
                headers={"Referer": self.base + path},
                allow_redirects=False,
                timeout=60,
            )
        except requests.ConnectionError:
            # runserver reloading after a source file changed, or the web process being started again
            self.answers[f"{name} refused"] += 1
            time.sleep(1)
            return
        self.answers[f"{name} {answer.status_code}"] += 1

    def wish(self) -> None:
        self.sent += 1
        data = wish_form(category=self.category, community=self.community, phone=f"177{self.sent % 10**8:08d}")
        self._post(self.resident, "wish", "/wishes/new/", data, self.wish_token)

    def signup_and_cancel(self, activity_id: int) -> None:
        token = self.member.cookies.get("csrftoken", "")
        self._post(self.member, "signup", f"/activities/{activity_id}/signup/", {}, token)
        self._post(self.member, "cancel", f"/activities/{activity_id}/cancel/", {"reason": "临时有事"}, token)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--port", default="8765")
    options = parser.parse_args()

    var = ROOT / "var" / f"soak-{time.strftime('%Y%m%d-%H%M%S')}"
    var.mkdir(parents=True)
    env = _environment(var)
    for args in (["migrate", "--no-input"], ["sync_schedules"], ["compiletranslations"], ["seed_demo", "--if-empty"]):
        _manage(env, *args)

    # This process reads the same database and publishes to the same broker folder as the stack.
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "volunteer_platform.settings"
    import django

    django.setup()
    from django.utils import timezone

    from notifications.models import Notification
    from projects.models import Activity
    from volunteer_platform.celery import app
    from volunteer_platform.demo import DEMO_PASSWORD
    from volunteer_platform.schedules import SCHEDULES

    log_path = var / "rundev.log"
    with open(log_path, "w", encoding="utf-8") as log:
        stack = subprocess.Popen(
            [sys.executable, "manage.py", "rundev", "--port", options.port],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{options.port}"
        started = time.monotonic()
        try:
            _wait_for(base)
            traffic = Traffic(base, DEMO_PASSWORD)
            now = timezone.now()
            activity = (
                Activity.objects.filter(
                    status=Activity.Status.SCHEDULED, signup_opens_at__lte=now, signup_closes_at__gt=now
                )
                .order_by("starts_at")
                .first()
            )
            deadline = time.monotonic() + options.minutes * 60
            next_tasks = 0.0
            published = 0
            while time.monotonic() < deadline and stack.poll() is None:
                traffic.wish()
                if activity is not None:
                    traffic.signup_and_cancel(activity.pk)
                if time.monotonic() >= next_tasks:
                    for schedule in SCHEDULES:
                        app.send_task(schedule.task, kwargs=schedule.kwargs or {})
                        published += 1
                    next_tasks = time.monotonic() + 60
                time.sleep(0.5)
            # The outbox drains: nothing new is written now; what is due goes out within the sweeper's rounds.
            drain_deadline = time.monotonic() + 300
            while time.monotonic() < drain_deadline:
                due = Notification.objects.filter(
                    status=Notification.Status.PENDING, next_attempt_at__lte=timezone.now()
                )
                if not due.exists():
                    break
                time.sleep(5)
        finally:
            os.killpg(stack.pid, signal.SIGINT)
            try:
                stack.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(stack.pid, signal.SIGKILL)
    ran = time.monotonic() - started

    output = log_path.read_text(encoding="utf-8", errors="replace")
    crashes = re.findall(r"^(\w+) exited with code (-?\d+)", output, re.M)
    statuses = Counter(Notification.objects.values_list("status", flat=True))
    pending_due = Notification.objects.filter(
        status=Notification.Status.PENDING, next_attempt_at__lte=timezone.now()
    ).count()
    sent_twice = Notification.objects.filter(status=Notification.Status.SENT, attempts__gt=1).count()
    server_errors = sum(
        n for key, n in traffic.answers.items() if key.rsplit(" ", 1)[1].isdigit() and int(key.rsplit(" ", 1)[1]) >= 500
    )
    lines = [
        f"soak of the embedded default: {ran / 60:.1f} minutes ({options.minutes:g} of traffic), folder {var}",
        "requests: " + ", ".join(f"{key}: {n}" for key, n in sorted(traffic.answers.items())),
        f"scheduled tasks published by the soak: {published}",
        "notifications: " + ", ".join(f"{status} {n}" for status, n in sorted(statuses.items())),
        f"crashes: {len(crashes)} {crashes if crashes else ''}".rstrip(),
        f"answers >= 500: {server_errors}",
        f"notifications due and not sent after the drain: {pending_due}",
        f"notifications sent with more than one attempt: {sent_twice}",
    ]
    report = "\n".join(lines)
    print(report)
    (var / "report.txt").write_text(report + "\n", encoding="utf-8")
    return 1 if crashes or server_errors or pending_due or sent_twice else 0


if __name__ == "__main__":
    sys.exit(main())

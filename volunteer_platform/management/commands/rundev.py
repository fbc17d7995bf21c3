"""Run the web server, a Celery worker and Celery beat together for development (`make run`).

Ctrl-C stops all three. When one of them dies on its own, it is started again after a pause that doubles with each
crash in a row (1 s up to 60 s; a process that ran for 5 minutes starts the count again), and the terminal says so:
a demo that runs all day must not stop because one worker crashed once.

The web server keeps no database connection between requests (CONN_MAX_AGE=0, whatever the environment says):
runserver answers each client connection in a new thread and never reuses it, and a connection kept for reuse
stays open as long as the client's socket, and after its thread until the garbage collector comes by — enough idle
connections to answer "too many clients" for every database on the server. Persistent connections are for servers
that reuse their threads or processes: gunicorn's sync workers in production, Celery's worker processes.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from volunteer_platform.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

# What each process gets on top of the environment `make run` was started with.
ENVIRONMENT = {"web": {"CONN_MAX_AGE": "0"}, "worker": {}, "beat": {}}


def commands(host: str, port: str) -> dict[str, list[str]]:
    """The three processes of `make run`, by name."""
    python = sys.executable
    return {
        "web": [python, "manage.py", "runserver", f"{host}:{port}"],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "volunteer_platform",
            "worker",
            "--loglevel=INFO",
            "--concurrency=2",
        ],
        # Exactly one beat; its schedules live in the database (django-celery-beat), editable in the admin.
        "beat": [
            python,
            "-m",
            "celery",
            "-A",
            "volunteer_platform",
            "beat",
            "--loglevel=INFO",
            f"--pidfile={settings.VAR_DIR / 'celerybeat.pid'}",
        ],
    }


class Restarts:
    """The pause before starting a crashed process again: 1 s, doubling with each crash in a row, at most 60 s; a
    process that ran for STEADY_SECONDS before it crashed counts as a first crash again."""

    FIRST = 1.0
    LONGEST = 60.0
    STEADY_SECONDS = 300.0

    def __init__(self) -> None:
        self.in_a_row = 0

    def pause_after_crash(self, *, ran_for: float) -> float:
        self.in_a_row = 1 if ran_for >= self.STEADY_SECONDS else self.in_a_row + 1
        return min(self.FIRST * 2 ** (self.in_a_row - 1), self.LONGEST)


def environment(name: str, base: dict[str, str]) -> dict[str, str]:
    """The environment of process `name`: `base` (make run's) with the process's own settings."""
    return {**base, **ENVIRONMENT[name]}


class Command(BaseCommand):
    help = "Start web server, Celery worker and Celery beat; stop all three on Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host, port, **options):
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        beat_pid = settings.VAR_DIR / "celerybeat.pid"
        beat_pid.unlink(missing_ok=True)  # a pid file left by a killed run would stop beat from starting
        cmds = commands(host, port)
        procs = {name: subprocess.Popen(cmd, env=environment(name, dict(os.environ))) for name, cmd in cmds.items()}
        self._banner(host, port, procs)
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        restarts = {name: Restarts() for name in procs}
        started = {name: time.monotonic() for name in procs}
        due: dict[str, float] = {}  # name -> when to start it again
        try:
            while not stopping:
                now = time.monotonic()
                for name, proc in procs.items():
                    if name in due:
                        if now >= due[name]:
                            del due[name]
                            procs[name] = subprocess.Popen(cmds[name], env=environment(name, dict(os.environ)))
                            started[name] = now
                            self.stderr.write(f"{name} started again (pid {procs[name].pid}).")
                    elif proc.poll() is not None:
                        pause = restarts[name].pause_after_crash(ran_for=now - started[name])
                        due[name] = now + pause
                        self.stderr.write(
                            f"{name} exited with code {proc.returncode}; starting it again in {pause:g} s "
                            f"(crash {restarts[name].in_a_row} in a row)."
                        )
                time.sleep(0.5)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.terminate()
            deadline = time.monotonic() + 15
            for proc in procs.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
            self.stdout.write("Stopped web, worker and beat.")

    def _banner(self, host, port, procs):
        db = settings.DATABASES["default"]
        lines = [
            "",
            "党员志愿服务平台 is starting:",
            f"  web      http://{host}:{port}/          admin: http://{host}:{port}/admin/",
            f"  database {db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']}",
            f"  broker   {settings.CELERY_BROKER_URL.split('@')[-1]}",
            "  pids     " + ", ".join(f"{name}={proc.pid}" for name, proc in procs.items()),
            "",
            f"Demo sign-ins (password {DEMO_PASSWORD}):",
            *(f"  {a.username:<16} {a.role}" for a in DEMO_ACCOUNTS),
            "",
            "Press Ctrl-C to stop all three (a process that crashes is started again).",
            "",
        ]
        self.stdout.write("\n".join(lines))

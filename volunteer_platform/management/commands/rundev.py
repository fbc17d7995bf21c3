"""Run the web server, a Celery worker and Celery beat together for development (`make run`).

Ctrl-C stops all three; when one of them dies, the others are stopped too, so nothing is left running.

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
        procs = {
            name: subprocess.Popen(cmd, env=environment(name, dict(os.environ)))
            for name, cmd in commands(host, port).items()
        }
        self._banner(host, port, procs)
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        try:
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with code {proc.returncode}; stopping the others.")
                        exit_code = proc.returncode or 1
                        stopping = True
                        break
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
        if exit_code:
            sys.exit(exit_code)

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
            "Press Ctrl-C to stop all three.",
            "",
        ]
        self.stdout.write("\n".join(lines))

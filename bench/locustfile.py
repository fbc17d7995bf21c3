"""The load of `make bench`: one scenario per locust run, chosen by BENCH_SCENARIO; the fixtures (ids, sessions)
come from the JSON file BENCH_FIXTURES written by bench/run.py. Not imported by Django or the tests.

Signed-in users carry a session the runner created for them (no sign-in during the run, so django-axes and the
password hash stay out of the figures). POSTs carry a CSRF cookie and the same secret in the form, as a browser
does after loading the page.
"""

import json
import os
import secrets
import time
from itertools import count
from pathlib import Path

from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser

from bench.config import GETS, wish_form

SCENARIO = os.environ.get("BENCH_SCENARIO", "ceiling")
FIXTURES = json.loads(Path(os.environ["BENCH_FIXTURES"]).read_text("utf-8")) if "BENCH_FIXTURES" in os.environ else {}
CSRF = secrets.token_hex(16)  # 32 characters: a valid CSRF secret, accepted in the form as it is
_users = count()
_phones = count(int(os.environ.get("BENCH_PHONE_START", "0")))
_storm_next = count()
_storm_done = count(1)


def _cookie(session: str | None) -> str:
    return f"csrftoken={CSRF}" + (f"; sessionid={session}" if session else "")


class Visitor(FastHttpUser):
    wait_time = constant(0)

    def on_start(self):
        self.n = next(_users)
        if SCENARIO in GETS:
            path, who = GETS[SCENARIO]
            self.path = path.format(**FIXTURES)
            session = {"anonymous": None, "admin": FIXTURES.get("admin_session")}.get(who)
            if who == "member":
                sessions = FIXTURES["member_sessions"]
                session = sessions[self.n % len(sessions)]
            self.headers = {"Cookie": _cookie(session)}

    @task
    def step(self):
        if SCENARIO in GETS:
            self._get()
        elif SCENARIO == "wish_submit":
            self._wish()
        elif SCENARIO == "signup_storm":
            self._signup()

    def _get(self):
        with self.client.get(self.path, headers=self.headers, name=SCENARIO, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")

    def _wish(self):
        n = next(_phones)
        data = {
            "csrfmiddlewaretoken": CSRF,
            **wish_form(
                category=FIXTURES["wish_category_id"],
                community=FIXTURES["wish_community_id"],
                phone=f"177{n % 10**8:08d}",
            ),
        }
        with self.client.post(
            "/wishes/new/",
            data=data,
            headers={"Cookie": _cookie(None), "Referer": FIXTURES["base_url"] + "/wishes/new/"},
            name=SCENARIO,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            # Accepted: a redirect to the confirmation page (a refusal answers the form again with 200).
            if response.status_code != 302 or "/wishes/new/done/" not in response.headers.get("Location", ""):
                response.failure(f"status {response.status_code}")

    def _signup(self):
        """Each POST signs a different member up; the users stop when all members have pressed the button."""
        sessions = FIXTURES["storm_sessions"]
        i = next(_storm_next)
        if i >= len(sessions):
            raise StopUser()
        path = f"/activities/{FIXTURES['storm_activity_id']}/signup/"
        with self.client.post(
            path,
            data={"csrfmiddlewaretoken": CSRF},
            headers={"Cookie": _cookie(sessions[i]), "Referer": FIXTURES["base_url"] + path},
            name=SCENARIO,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302 or "/accounts/login/" in response.headers.get("Location", ""):
                response.failure(f"status {response.status_code}")
        if next(_storm_done) >= len(sessions):
            self.environment.runner.quit()


# BENCH_TRACE=<file>: one line per request appended to the file — the time it ended (epoch seconds), its duration
# in ms and the scenario — to see when in a run the slow requests come (the storm's cold start was found so).
if os.environ.get("BENCH_TRACE"):
    _trace = open(os.environ["BENCH_TRACE"], "a", encoding="utf-8")  # noqa: SIM115 (open for the process's life)

    @events.request.add_listener
    def _trace_request(request_type, name, response_time, **kwargs):
        _trace.write(f"{time.time():.4f} {response_time:.1f} {name}\n")
        _trace.flush()

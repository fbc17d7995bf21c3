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
from collections import Counter, deque
from itertools import count
from pathlib import Path

from locust import FastHttpUser, constant, constant_throughput, events, task
from locust.exception import StopUser

from bench.config import GETS, wish_form

SCENARIO = os.environ.get("BENCH_SCENARIO", "ceiling")
# "mixed:<page>": the page's GET scenario while writers write at BENCH_WRITE_RATE per second in the same run;
# "uncached:<page>": the page's GET on the server started with PAGE_CACHES off (bench/run.py chooses the host).
MODE, _, PAGE = SCENARIO.rpartition(":") if ":" in SCENARIO else ("", "", SCENARIO)
WRITE_RATE = float(os.environ.get("BENCH_WRITE_RATE", "5"))
WRITERS = 2
FIXTURES = json.loads(Path(os.environ["BENCH_FIXTURES"]).read_text("utf-8")) if "BENCH_FIXTURES" in os.environ else {}
CSRF = secrets.token_hex(16)  # 32 characters: a valid CSRF secret, accepted in the form as it is
_users = count()
_phones = count(int(os.environ.get("BENCH_PHONE_START", "0")))
_storm_next = count()
_storm_done = count(1)


def _cookie(session: str | None) -> str:
    return f"csrftoken={CSRF}" + (f"; sessionid={session}" if session else "")


def _submit_wish(user, name: str) -> None:
    """A resident's wish through /wishes/new/ (the wish_submit scenario's request, and the mixed writers')."""
    n = next(_phones)
    data = {
        "csrfmiddlewaretoken": CSRF,
        **wish_form(
            category=FIXTURES["wish_category_id"],
            community=FIXTURES["wish_community_id"],
            phone=f"177{n % 10**8:08d}",
        ),
    }
    with user.client.post(
        "/wishes/new/",
        data=data,
        headers={"Cookie": _cookie(None), "Referer": FIXTURES["base_url"] + "/wishes/new/"},
        allow_redirects=False,
        catch_response=True,
        name=name,
    ) as response:
        # Accepted: a redirect to the confirmation page (a refusal answers the form again with 200).
        if response.status_code != 302 or "/wishes/new/done/" not in response.headers.get("Location", ""):
            response.failure(f"status {response.status_code}")


class Visitor(FastHttpUser):
    wait_time = constant(0)

    def on_start(self):
        self.n = next(_users)
        if PAGE in GETS:
            path, who = GETS[PAGE]
            self.path = path.format(**FIXTURES)
            session = {"anonymous": None, "admin": FIXTURES.get("admin_session")}.get(who)
            if who == "member":
                sessions = FIXTURES["member_sessions"]
                session = sessions[self.n % len(sessions)]
            self.headers = {"Cookie": _cookie(session)}
            if who == "app":  # an app: its device token, no cookie
                tokens = FIXTURES["member_tokens"]
                self.headers = {"Authorization": f"Bearer {tokens[self.n % len(tokens)]}"}

    @task
    def step(self):
        if PAGE in GETS:
            self._get()
        elif SCENARIO == "wish_submit":
            _submit_wish(self, SCENARIO)
        elif SCENARIO == "signup_storm":
            self._signup()

    def _get(self):
        with self.client.get(self.path, headers=self.headers, name=SCENARIO, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
            page_cache[response.headers.get("X-Page-Cache", "none")] += 1

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


# What the page caches answered to the measured GETs (X-Page-Cache: hit, miss, or none for a page no cache serves),
# written at the end of the run to BENCH_CACHE_COUNTS for bench/run.py (the hit rate under writes).
page_cache: Counter = Counter()


@events.quitting.add_listener
def _write_cache_counts(environment, **kwargs):
    if os.environ.get("BENCH_CACHE_COUNTS"):
        Path(os.environ["BENCH_CACHE_COUNTS"]).write_text(json.dumps(page_cache), encoding="utf-8")


if MODE == "mixed":
    # The writes of a district's day, in the same run as the reads: sign-ups and their cancellations on the writers'
    # activities (one of them the measured activity, of the measured brand page), wish submissions, and claims of
    # published wishes of the wall's community and their release. Each kind in turn, WRITE_RATE per second in all.
    # Each run starts at its own offset (bench/run.py): no member signs up twice for one activity, or claims a wish
    # another run's writer claimed, across the runs of one bench.
    _offset = int(os.environ.get("BENCH_WRITE_OFFSET", "0"))
    _kinds = count()
    _signup_pairs = count(_offset)
    _claim_pairs = count(_offset)
    _signed_up: deque = deque()
    _claimed: deque = deque()

    class Writer(FastHttpUser):
        fixed_count = WRITERS
        wait_time = constant_throughput(WRITE_RATE / WRITERS)

        @task
        def write(self):
            kind = ("signup", "wish", "claim", "cancel", "signup", "release")[next(_kinds) % 6]
            if kind == "cancel" and not _signed_up:
                kind = "signup"
            if kind == "release" and not _claimed:
                kind = "claim"
            if kind == "signup":
                i = next(_signup_pairs)
                sessions, activities = FIXTURES["writer_sessions"], FIXTURES["writer_activities"]
                session = sessions[i % len(sessions)]
                activity = activities[(i + i // len(sessions)) % len(activities)]  # each in turn, no pair twice
                self._post(f"/activities/{activity}/signup/", session, "write:signup")
                _signed_up.append((session, activity))
            elif kind == "cancel":
                session, activity = _signed_up.popleft()
                self._post(f"/activities/{activity}/cancel/", session, "write:cancel")
            elif kind == "claim":
                i = next(_claim_pairs)
                session = FIXTURES["claim_sessions"][i % len(FIXTURES["claim_sessions"])]
                wish = FIXTURES["claim_wishes"][i % len(FIXTURES["claim_wishes"])]
                self._post(f"/wishes/{wish}/claim/", session, "write:claim")
                _claimed.append((session, wish))
            elif kind == "release":
                session, wish = _claimed.popleft()
                self._post(f"/wishes/{wish}/release/", session, "write:release")
            else:
                _submit_wish(self, "write:wish")

        def _post(self, path: str, session: str, name: str):
            with self.client.post(
                path,
                data={"csrfmiddlewaretoken": CSRF},
                headers={"Cookie": _cookie(session), "Referer": FIXTURES["base_url"] + path},
                name=name,
                allow_redirects=False,
                catch_response=True,
            ) as response:
                if response.status_code != 302 or "/accounts/login/" in response.headers.get("Location", ""):
                    response.failure(f"status {response.status_code}")

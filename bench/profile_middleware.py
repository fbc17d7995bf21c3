"""What each middleware costs a request, measured in this process (no server, no load tool, no network).

    .venv/bin/python bench/profile_middleware.py                      # /bench/ceiling/, anonymous
    .venv/bin/python bench/profile_middleware.py --member              # the same, signed in (a session cookie)
    .venv/bin/python bench/profile_middleware.py --profile             # and cProfile of the whole stack

The request goes through Django's WSGI handler with the bench settings (bench/config.py), as gunicorn calls it:
first with the whole stack (settings.MIDDLEWARE), then with no middleware at all, then once without each middleware
in turn. Each figure is the best of three rounds of `--requests` requests. A middleware's cost is the whole stack's
time minus the time without it. The signed-in variant needs the bench database (`make bench` seeds it).
"""

import argparse
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import config  # noqa: E402

PATH = "/bench/ceiling/"


def _environ(cookie: str) -> dict:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": PATH,
        "QUERY_STRING": "",
        "SERVER_NAME": config.HOST,
        "SERVER_PORT": str(config.PORT),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": f"{config.HOST}:{config.PORT}",
        "HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9,en;q=0.8",
        "HTTP_USER_AGENT": "Mozilla/5.0 (Linux; Android 14) bench",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
    }
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    return environ


def _per_request_us(middleware: list[str], cookie: str, requests: int) -> float:
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    settings.MIDDLEWARE = middleware
    handler = WSGIHandler()

    def one():
        response = handler(_environ(cookie), lambda status, headers: None)
        b"".join(response)
        response.close()  # sends request_finished, as gunicorn does
        return response.status_code

    if one() != 200:  # a middleware that another one needs (sessions for authentication)
        return float("nan")
    for _ in range(min(requests, 200)):
        one()
    best = float("inf")
    for _round in range(3):
        started = time.perf_counter()
        for _ in range(requests):
            one()
        best = min(best, (time.perf_counter() - started) / requests * 1e6)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--member", action="store_true", help="signed in as a member (a session in the bench DB)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true", help="also print cProfile's view of the whole stack")
    args = parser.parse_args()
    os.environ.update(config.django_env())
    import logging

    import django

    django.setup()
    from django.conf import settings

    logging.disable(logging.ERROR)  # the runs without a needed middleware answer 500 (skipped, not logged)
    cookie = ""
    if args.member:
        from django.contrib.auth import get_user_model
        from django.test import Client

        client = Client()
        client.force_login(get_user_model().objects.filter(member__isnull=False, is_staff=False).first())
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    stack = list(settings.MIDDLEWARE)
    whole = _per_request_us(stack, cookie, args.requests)
    bare = _per_request_us([], cookie, args.requests)
    print(f"{PATH} {'signed in' if cookie else 'anonymous'}: whole stack {whole:.0f} µs, no middleware {bare:.0f} µs")
    for name in stack:
        without = _per_request_us([m for m in stack if m != name], cookie, args.requests)
        cost = f"{whole - without:7.0f} µs" if without == without else "  (needed by a later one)"
        print(f"{cost}  {name}")
    if args.profile:
        import cProfile
        import pstats

        settings.MIDDLEWARE = stack
        profiler = cProfile.Profile()
        profiler.enable()
        _per_request_us(stack, cookie, args.requests)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()

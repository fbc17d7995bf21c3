"""The environment of `make bench`: production settings (DEBUG off) on plain http at 127.0.0.1, the dedicated
PostgreSQL database, Redis db 8 (the broker) and db 9 (the cache; two instances in production). The keys below
encrypt only generated bench data; they are not secrets and are never used outside the bench database.

Throttles: the wish form's per-IP and per-phone limits (WISH_SUBMIT_IP_LIMIT / WISH_SUBMIT_PHONE_LIMIT) are raised
so the load process (one IP) measures the page rather than the limiter, and django-axes is left on (the bench
signs members in once through the form, then reuses sessions, so no lockout can occur).
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

DATABASE = os.environ.get("BENCH_DATABASE", "vp_bench_district")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
CACHE_REDIS_URL = os.environ.get("BENCH_CACHE_REDIS_URL", "redis://127.0.0.1:6379/9")
HOST = "127.0.0.1"
PORT = int(os.environ.get("BENCH_PORT", "8100"))

# The GET scenarios of bench/locustfile.py: scenario -> (path, who): anonymous, a member (one of the runner's
# member sessions), the platform admin, or an app (one of the same members' device tokens)
GETS = {
    "ceiling": ("/bench/ceiling/", "anonymous"),
    # The floors under the ceiling, each on a gunicorn of its own (bench/run.py: FLOORS): the same answer from a WSGI
    # app with no framework (bench/bare_wsgi.py) and from a Django view with no middleware (bench/bare_django.py).
    "bare_wsgi": ("/bench/ceiling/", "anonymous"),
    "bare_django": ("/bench/ceiling/", "anonymous"),
    "home": ("/", "anonymous"),
    "wish_wall": ("/wishes/", "anonymous"),
    "projects": ("/projects/", "anonymous"),
    "brand_page": ("/projects/{brand_slug}/", "anonymous"),
    "activity_page": ("/activities/{activity_id}/", "anonymous"),
    "me": ("/me/", "member"),
    "me_records": ("/me/records/", "member"),
    "me_points": ("/me/points/", "member"),
    "dashboard": ("/dashboard/?org={district_id}", "admin"),
    # The JSON API's equivalents of three pages (an app's calls: a member sends a device token, no cookie).
    "api_wall": ("/api/v1/wishes/", "anonymous"),
    "api_activities": ("/api/v1/activities/", "anonymous"),
    "api_me": ("/api/v1/me/", "app"),
}


def wish_form(*, category, community, phone: str) -> dict[str, str]:
    """What a resident types into /wishes/new/ (the load test and the soak send the same), without the CSRF token."""
    return {
        "category": str(category),
        "title": "想请人帮忙换灯泡",
        "description": "客厅吊灯的灯泡坏了，太高换不了，想请党员帮忙。",
        "community": str(community),
        "preferred_time": "周末上午",
        "contact_name": "王桂兰",
        "phone": phone,
        "consent_processing": "on",
        "website": "",
    }


def django_env() -> dict[str, str]:
    """What gunicorn, the seed and the bench's own Django code run with."""
    return {
        "DJANGO_SETTINGS_MODULE": "volunteer_platform.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-not-a-secret-" + "b" * 40,
        "FIELD_ENCRYPTION_KEYS": "g-I3Pavo5GL_TrCZWgl2JcMTKO1hYS7d2VxrgonnhiA=",
        "FIELD_HMAC_KEY": "bench-only-hmac-key",
        "DATABASE_URL": f"{PG}/{DATABASE}",
        "REDIS_URL": REDIS_URL,
        "CACHE_REDIS_URL": CACHE_REDIS_URL,
        "ALLOWED_HOSTS": f"{HOST},localhost",
        "CSRF_TRUSTED_ORIGINS": f"http://{HOST}:{PORT}",
        "SITE_URL": f"http://{HOST}:{PORT}",
        # Plain http on the loopback: no redirect to https, no HSTS, cookies without the Secure flag.
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        # One load process from one IP submits hundreds of wishes: lift the form's limits (count, seconds).
        "WISH_SUBMIT_IP_LIMIT": "1000000,3600",
        "WISH_SUBMIT_PHONE_LIMIT": "1000000,86400",
        # The bench-only ceiling view (volunteer_platform/urls.py): a fixed short answer through the same middleware.
        "BENCH_CEILING_VIEW": "true",
        "LOG_LEVEL": "WARNING",
        "STATIC_ROOT": str(ROOT / "var" / "bench-static"),
        # No broker traffic from the requests' notifications: the outbox keeps them (the sweeper would send them).
        "CELERY_BROKER_CONNECTION_TIMEOUT": "0.5",
    }

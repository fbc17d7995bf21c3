"""gunicorn settings for the web machines (`gunicorn -c deploy/gunicorn.conf.py volunteer_platform.wsgi`).

Every value can be changed through a GUNICORN_* environment variable (the systemd unit reads /etc/volunteer-platform/
env), so an operator tunes a machine without editing this file. See docs/deploy.md.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# Behind nginx on the same machine: listen on loopback only (nginx adds TLS, buffering and the rate limits).
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Sync workers: the views are short and database-bound, and a sync worker holds one PostgreSQL connection
# (CONN_MAX_AGE keeps it). The classic 2 × cores + 1 keeps the CPUs busy while some workers wait for the database.
# Check the sum over all web machines against PostgreSQL's max_connections (docs/deploy.md, "Adding machines").
workers = _int("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"

# A request still running after `timeout` seconds (a PDF certificate of a long record, an Excel export) is killed
# and logged; 60 s is well above the slowest page. nginx's proxy_read_timeout is a little longer, so nginx never
# gives up first and leaves an orphan request behind.
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)  # a restart lets requests in flight finish
keepalive = 5  # nginx keeps upstream connections open (keepalive in the upstream block)

# Recycle workers now and then, so a slow leak in any library never grows without bound; the jitter keeps them from
# all restarting at the same moment.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)

# Load the application in each worker, not in the master: a `systemctl reload` (HUP) then starts workers on the
# new code after an upgrade, and no database connection is ever shared across a fork.
preload_app = False

# nginx sets X-Forwarded-Proto; Django reads it (SECURE_PROXY_SSL_HEADER). Only nginx on this machine may connect.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")

# Logs go to stdout/stderr, i.e. journald under systemd. The access line ends with the request id (the one
# nginx generated, answered by RequestIdMiddleware in X-Request-ID), the same id the application's log lines and
# the Celery tasks of that request carry; %(M)s is the duration in milliseconds.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(f)s" "%(a)s" rid=%({x-request-id}o)s'

proc_name = "volunteer-platform-web"


def _no_server_header() -> None:
    """gunicorn sends "Server: gunicorn" on every response and has no setting to leave it out; what runs the site
    is nobody's business. Its Response builds the header in `default_headers`: drop that one line."""
    from gunicorn.http import wsgi

    if getattr(wsgi.Response.default_headers, "_no_server", False):
        return
    headers = wsgi.Response.default_headers

    def default_headers(self):
        return [h for h in headers(self) if not h.lower().startswith("server:")]

    default_headers._no_server = True
    wsgi.Response.default_headers = default_headers


_no_server_header()

"""Settings for a developer's checkout: the real settings with DEBUG on unless the environment says otherwise.

`manage.py` uses this module by default, so `python manage.py shell` works in a fresh clone with the embedded
defaults (SQLite, filesystem broker, keys derived from the development secret). The web server (wsgi/asgi) and
Celery default to the strict `volunteer_platform.settings`; in production set
DJANGO_SETTINGS_MODULE=volunteer_platform.settings for management commands too.
"""

import os

os.environ.setdefault("DEBUG", "true")
# runserver answers each client connection in a thread of its own and never reuses it: a database connection kept
# for reuse would outlive its thread (rundev.py). Persistent connections are for gunicorn and Celery, which reuse
# theirs, under the production settings.
os.environ.setdefault("CONN_MAX_AGE", "0")

from .settings import *  # noqa: F403

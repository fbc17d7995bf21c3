"""Settings for a developer's checkout: the real settings with DEBUG on unless the environment says otherwise.

`manage.py` uses this module by default, so `python manage.py shell` works in a fresh clone with the embedded
defaults (SQLite, filesystem broker, keys derived from the development secret). The web server (wsgi/asgi) and
Celery default to the strict `volunteer_platform.settings`; in production set
DJANGO_SETTINGS_MODULE=volunteer_platform.settings for management commands too.
"""

import os

os.environ.setdefault("DEBUG", "true")

from .settings import *  # noqa: F403

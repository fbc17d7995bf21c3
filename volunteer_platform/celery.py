"""The Celery app. Configuration lives in settings (namespace CELERY_); see DESIGN.md, "Celery"."""

import os
from pathlib import Path

from celery import Celery, signals

from . import observability

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "volunteer_platform.settings")

app = Celery("volunteer_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The request id of the web request (or task) that publishes a task travels with it into the worker's log lines,
# and a task's final failure is stored for the admin (volunteer_platform/observability.py). Connected here because
# web processes, workers and beat all import this module; weak=False since the handlers are module functions.
signals.before_task_publish.connect(observability.add_request_id_to_headers, weak=False)
signals.task_prerun.connect(observability.restore_request_id, weak=False)
signals.task_postrun.connect(observability.clear_request_id, weak=False)
signals.task_failure.connect(observability.record_task_failure, weak=False)


def ensure_broker_folders() -> None:
    """Create the folders of kombu's filesystem transport; it fails on a missing folder instead of making it."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)

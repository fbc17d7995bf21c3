"""Settings are strict: production values have no defaults, and the Celery app is configured as DESIGN.md says."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def import_settings(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import volunteer_platform.settings"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_start_without_secret_key_fails():
    result = import_settings(DEBUG="false")
    assert result.returncode != 0
    assert "Set the SECRET_KEY environment variable" in result.stderr


def test_production_start_with_short_secret_key_fails():
    result = import_settings(DEBUG="false", SECRET_KEY="short")
    assert result.returncode != 0
    assert "SECRET_KEY must be at least 50 characters" in result.stderr


def test_production_start_without_encryption_keys_fails():
    result = import_settings(DEBUG="false", SECRET_KEY="k" * 60)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS" in result.stderr


def test_development_defaults_need_no_environment():
    result = import_settings(DEBUG="true")
    assert result.returncode == 0, result.stderr


def test_manage_py_works_in_a_bare_checkout_environment():
    """A developer's `manage.py <command>` uses the development settings; the web server and Celery stay strict."""
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    for entry_point in ("volunteer_platform/wsgi.py", "volunteer_platform/asgi.py", "volunteer_platform/celery.py"):
        assert '"volunteer_platform.settings")' in (ROOT / entry_point).read_text()


def test_language_and_time_zone(settings):
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert [code for code, _ in settings.LANGUAGES] == ["zh-hans", "en"]
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ is True
    assert "core.middleware.LocaleMiddleware" in settings.MIDDLEWARE  # Django's, without path lookups


def test_celery_app_configuration():
    from volunteer_platform.celery import app

    conf = app.conf
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit and conf.task_soft_time_limit < conf.task_time_limit
    assert conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"


@pytest.mark.django_db
def test_filesystem_broker_folders_are_created(tmp_path):
    from volunteer_platform.celery import app, ensure_broker_folders

    options = {
        "data_folder_in": str(tmp_path / "q"),
        "data_folder_out": str(tmp_path / "q"),
        "processed_folder": str(tmp_path / "done"),
    }
    saved = app.conf.broker_transport_options
    app.conf.broker_transport_options = options
    try:
        ensure_broker_folders()
    finally:
        app.conf.broker_transport_options = saved
    assert (tmp_path / "q").is_dir()
    assert (tmp_path / "done").is_dir()

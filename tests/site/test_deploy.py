"""deploy/: the example environment is complete and passes `check --deploy`; nginx and the application agree on
the upload size; media storage switches by MEDIA_STORAGE; the gunicorn and systemd files say what docs/deploy.md
says. Settings are imported in a subprocess with a clean environment, as a server starts them."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ENV_EXAMPLE = DEPLOY / "env.example"
# Read by deploy/ (the units, gunicorn.conf.py), not by settings.py.
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE", "CELERY_CONCURRENCY", "GUNICORN_BIND", "GUNICORN_WORKERS", "GUNICORN_TIMEOUT"}


def settings_variables() -> set[str]:
    """Every environment variable volunteer_platform/settings.py reads (env.str(...), env.int(...), env.db(...)…)."""
    source = (ROOT / "volunteer_platform" / "settings.py").read_text(encoding="utf-8")
    return set(re.findall(r"""\benv(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]*)["']""", source)) | set(
        re.findall(r"""Env\(\)\.\w+\(\s*["']([A-Z][A-Z0-9_]*)["']""", source)
    )


def example_entries() -> dict[str, str | None]:
    """NAME -> value for `NAME=value` lines, NAME -> None for documented optional `# NAME=default` lines."""
    entries: dict[str, str | None] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if match := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line):
            entries[match[1]] = match[2]
        elif match := re.fullmatch(r"# ([A-Z][A-Z0-9_]*)=.*", line):
            entries.setdefault(match[1], None)
    return entries


def operator_environment(**overrides) -> dict[str, str]:
    """deploy/env.example with its change-me values replaced, as docs/deploy.md tells the operator to."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    for name, value in example_entries().items():
        if value is not None:
            env[name] = value
    env["SECRET_KEY"] = "generated-" + "Kq3v9ZrT1mXw" * 6
    env["FIELD_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    env["FIELD_HMAC_KEY"] = "generated-hmac-" + "p8Lk2Qs" * 6
    env["DATABASE_URL"] = "postgres://volunteer:s3cret@127.0.0.1:5432/volunteer_platform"
    env["EMAIL_URL"] = "smtp+tls://noreply%40volunteer.example.cn:s3cret@smtp.example.cn:587"
    env.update(overrides)
    return env


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_the_example_lists_every_setting_read_from_the_environment():
    documented = set(example_entries())
    missing = settings_variables() - documented
    assert not missing, f"deploy/env.example does not list: {sorted(missing)}"
    stale = documented - settings_variables() - NOT_SETTINGS
    assert not stale, f"deploy/env.example lists variables nothing reads: {sorted(stale)}"


def test_every_entry_says_what_it_means():
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if re.fullmatch(r"(# )?[A-Z][A-Z0-9_]*=.*", line):
            # A comment line (not itself an entry) above the entry or its group of entries.
            above = [ln for ln in lines[:index] if ln.startswith("#") and not re.fullmatch(r"# [A-Z][A-Z0-9_]*=.*", ln)]
            assert above, f"{line!r} has no explanation above it"


def test_check_deploy_is_clean_with_the_example_environment():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=operator_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_a_change_me_value_left_in_place_stops_the_start():
    env = operator_environment(FIELD_HMAC_KEY=example_entries()["FIELD_HMAC_KEY"])
    result = run_python("import django; django.setup()", env)
    assert result.returncode != 0
    assert "Replace the example values (change-me…) of: FIELD_HMAC_KEY" in result.stderr


STORAGE_PROBE = """
from django.core.files.storage import storages
from django.conf import settings
storage = storages["default"]
print(type(storage).__module__ + "." + type(storage).__name__)
names = ("bucket_name", "endpoint_url", "addressing_style")
print(*(getattr(storage, name, "") for name in names))
print(getattr(storage, "default_acl", "-"), getattr(storage, "file_overwrite", "-"), getattr(storage, "location", ""))
"""


def probe_storage(**env) -> list[str]:
    result = run_python("import django; django.setup()\n" + STORAGE_PROBE, operator_environment(**env))
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_media_is_on_the_local_disk_by_default():
    kind, *_ = probe_storage(MEDIA_STORAGE="local", MEDIA_ROOT="/var/lib/volunteer-platform/media")
    assert kind == "django.core.files.storage.filesystem.FileSystemStorage"


def test_media_storage_s3_switches_to_a_private_s3_compatible_bucket():
    """No network: the storage object is only configured, nothing is fetched."""
    kind, where, how = probe_storage(
        MEDIA_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="volunteer-media",
        AWS_ACCESS_KEY_ID="AKIAEXAMPLE",
        AWS_SECRET_ACCESS_KEY="s3cret",
        AWS_S3_ENDPOINT_URL="https://minio.internal:9000",
        AWS_S3_ADDRESSING_STYLE="path",
    )
    assert kind == "storages.backends.s3.S3Storage"
    assert where.split() == ["volunteer-media", "https://minio.internal:9000", "path"]
    assert how.split()[:2] == ["None", "False"]  # no public ACL; an upload never replaces another's file


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MEDIA_STORAGE": "s3"}, "AWS_STORAGE_BUCKET_NAME"),  # no bucket: no silent fallback to the disk
        ({"MEDIA_STORAGE": "ftp"}, "MEDIA_STORAGE must be 'local' or 's3'"),
        (
            {
                "MEDIA_STORAGE": "s3",
                "AWS_STORAGE_BUCKET_NAME": "b",
                "AWS_ACCESS_KEY_ID": "k",
                "AWS_SECRET_ACCESS_KEY": "change-me",
            },
            "AWS_SECRET_ACCESS_KEY",
        ),
    ],
)
def test_a_wrong_media_storage_setting_stops_the_start(env, message):
    result = run_python("import django; django.setup()", operator_environment(**env))
    assert result.returncode != 0
    assert message in result.stderr


def test_nginx_accepts_exactly_the_largest_upload_the_application_takes(settings):
    from demands.models import MAX_PHOTOS
    from demands.photos import MAX_PHOTO_BYTES
    from projects.validators import MAX_LOGO_BYTES
    from training.files import MAX_EVIDENCE_BYTES, MAX_MATERIAL_BYTES

    nginx = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert re.findall(r"client_max_body_size (\d+)m;", nginx) == [str(settings.MAX_REQUEST_BODY_MB)]
    limit = settings.MAX_REQUEST_BODY_MB * 1024 * 1024
    form_overhead = 256 * 1024  # the other fields and the multipart boundaries
    for largest in (MAX_PHOTOS * MAX_PHOTO_BYTES, MAX_MATERIAL_BYTES, MAX_EVIDENCE_BYTES, MAX_LOGO_BYTES):
        assert largest + form_overhead <= limit


def test_nginx_limits_the_public_wish_form_and_never_serves_media():
    nginx = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    for path, zone in (("/wishes/new/", "wish_submit"), ("/wishes/track/", "wish_track")):
        block = re.search(rf"location = {re.escape(path)} \{{(.*?)\}}", nginx, re.S)
        assert block and f"limit_req zone={zone}" in block[1], path
        assert f"zone={zone}:" in nginx
    assert "location /media" not in nginx and "MEDIA_ROOT" not in nginx.replace("Never serve MEDIA_ROOT", "")
    proxy = (DEPLOY / "nginx-proxy.conf").read_text(encoding="utf-8")
    for header in (
        "X-Forwarded-Proto $scheme",
        "X-Forwarded-For $proxy_add_x_forwarded_for",
        "X-Request-ID $request_id",
    ):
        assert f"proxy_set_header {header};" in proxy


def test_gunicorn_config_sizes_workers_from_cores_and_logs_the_request_id():
    code = (
        "import runpy, multiprocessing; c = runpy.run_path('deploy/gunicorn.conf.py');"
        "print(c['workers'] == multiprocessing.cpu_count() * 2 + 1, c['timeout'], c['bind']);"
        "print(c['access_log_format'])"
    )
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    first, access = run_python(code, env).stdout.splitlines()
    assert first == "True 60 127.0.0.1:8000"
    assert "rid=%({x-request-id}o)s" in access
    assert run_python(code, {**env, "GUNICORN_WORKERS": "3"}).stdout.startswith("False")


def test_systemd_units_share_one_environment_and_beat_is_a_single_unit():
    units = {path.name: path.read_text(encoding="utf-8") for path in (DEPLOY / "systemd").glob("*.service")}
    assert set(units) == {"volunteer-web.service", "volunteer-worker@.service", "volunteer-beat.service"}
    for text in units.values():
        assert "EnvironmentFile=/etc/volunteer-platform/env" in text
        assert "User=volunteer" in text
    assert "deploy/gunicorn.conf.py volunteer_platform.wsgi" in units["volunteer-web.service"]
    assert " beat " in units["volunteer-beat.service"] and "@" not in units["volunteer-beat.service"].split("\n")[0]
    worker = units["volunteer-worker@.service"].split("ExecStart=")[1].split("\n")[0]
    assert " beat" not in worker  # no embedded -B
    assert "--queues=%i " in worker  # one queue per instance: volunteer-worker@heavy …


def test_the_heavy_queue_s_time_limit_stays_under_the_visibility_timeout():
    """Redis hands a task still unacknowledged after the visibility timeout to another worker: a heavy task must
    end (or be killed) before that, or it would run twice at once."""
    heavy = dict(
        line.split("=", 1)
        for line in (DEPLOY / "systemd" / "worker-heavy.env").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    env = operator_environment(**heavy)
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.CELERY_TASK_TIME_LIMIT, s.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'])"
    )
    limit, visibility = map(int, run_python(code, env).stdout.split())
    assert limit == int(heavy["CELERY_TASK_TIME_LIMIT"]) and limit < visibility


def test_static_names_are_hashed_after_collectstatic_and_plain_before(tmp_path):
    """A page never fails over a static URL: before collectstatic the plain name, after it the hashed one."""
    probe = (
        "import django; django.setup()\nfrom django.templatetags.static import static\nprint(static('css/site.css'))\n"
    )
    env = operator_environment(STATIC_ROOT=str(tmp_path / "static"), LOG_LEVEL="ERROR")
    assert run_python(probe, env).stdout.strip() == "/static/css/site.css"

    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collect.returncode == 0, collect.stderr
    assert re.fullmatch(r"/static/css/site\.[0-9a-f]{12}\.css", run_python(probe, env).stdout.strip())

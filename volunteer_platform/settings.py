"""Settings for the 党员志愿服务平台, read strictly from the environment.

Every value comes from an environment variable (or a `.env` file beside manage.py). The embedded defaults are
for a developer's machine only: SQLite under `var/`, kombu's filesystem broker under `var/`, console email and
SMS. With DEBUG off there is no default secret key, so a production start without one fails loudly.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from core.redis_urls import next_redis_database

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-never-use-in-production")
else:
    SECRET_KEY = env.str("SECRET_KEY")  # no default: a production start without it must fail
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_celery_beat",
    "simple_history",
    "import_export",
    "axes",  # sign-in lockout (see "Sign-in, headers and audit" below)
    "csp",  # Content-Security-Policy (its system checks catch settings in the old format)
    # Second factor: TOTP apps and recovery codes (volunteer_platform/second_factor.py; their admins are removed)
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # The JSON API /api/v1/ (volunteer_platform/api_urls.py) and its OpenAPI schema; the docs' scripts from static.
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Project apps, lowest layer first (see DESIGN.md: each imports only those listed before it).
    "audit",  # the trail every app writes to, so below them all (audit/__init__.py)
    "notifications",
    "members",
    "incentives",
    "training",
    "demands",
    "projects",
    "news",  # 通知公告, 活动风采, broadcasts: above members and notifications, below the site
    "volunteer_platform",
]

MIDDLEWARE = [
    # First, so that every log line of a request, even a redirect's, carries its id (observability.py).
    "volunteer_platform.observability.RequestIdMiddleware",
    "volunteer_platform.middleware.AllowedMethodsMiddleware",  # TRACE, PUT, … answer 405 before any view
    "django.middleware.security.SecurityMiddleware",
    "volunteer_platform.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.LocaleMiddleware",  # Django's, without its path lookups (our URLs carry no language)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # With a read replica: a person who wrote reads from the primary for a few seconds (takes itself out without).
    "core.middleware.ReadYourWritesMiddleware",
    # An account that owes its second factor sees only the second-factor pages until it gives it (a session flag
    # set at sign-in: no query on other requests).
    "volunteer_platform.middleware.SecondFactorMiddleware",
    "core.middleware.NulInQueryMiddleware",  # a NUL in a query parameter is a 400, not a 500 from PostgreSQL
    "audit.middleware.AuditMiddleware",
    "core.middleware.LazyMessageMiddleware",  # Django's, the storage made only when a message is read or added
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "volunteer_platform.middleware.SignInAddressLimitMiddleware",  # password spraying from one address
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: turns a lockout into the lockout page
]
# The methods the site answers; any other is 405 (middleware.AllowedMethodsMiddleware).
ALLOWED_HTTP_METHODS = ("GET", "HEAD", "POST")

ROOT_URLCONF = "volunteer_platform.urls"
WSGI_APPLICATION = "volunteer_platform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat write at the same time on a developer's machine: WAL lets readers run beside the
    # writer, and IMMEDIATE transactions take the write lock at BEGIN, so no transaction fails half-way with
    # "database is locked" when it upgrades from reading to writing; it waits up to `timeout` seconds instead.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
else:
    # A new PostgreSQL connection costs several milliseconds: keep connections, and check them before reuse.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # An unreachable database host must fail fast (e.g. /healthz), not hang on the OS's TCP timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
# A streaming read replica for the figures (docs/deploy.md, "Primary and replica"): only reads wrapped in
# core.db.replica_reads() go there (dashboard, exports, reconcile, reports), and not when the person wrote a moment
# ago, the replica lags more than REPLICA_MAX_LAG_SECONDS or does not answer (then the primary; /healthz says so).
# Unset, there is one database and nothing of this is installed.
_replica_url = env.str("DATABASE_REPLICA_URL", default="")
if _replica_url:
    DATABASES["replica"] = env.db_url_config(_replica_url)
    if not DATABASES["replica"]["ENGINE"].endswith("postgresql"):
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must be a PostgreSQL streaming replica of DATABASE_URL.")
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"].get("CONN_MAX_AGE", 0)
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    # A replica that went away must cost a second, not the OS's TCP timeout: then the primary serves the reads.
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_REPLICA_CONNECT_TIMEOUT", default=2)
    )
    # Never created or migrated as a test database: it is a copy of the primary (the router's allow_migrate).
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["core.db.ReplicaRouter"]
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=30.0)
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=5.0)  # per process: lag and reachability
REPLICA_STICKY_SECONDS = env.int("REPLICA_STICKY_SECONDS", default=10)  # a person's reads after their write
REPLICA_STICKY_COOKIE = "vp_primary"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits must be shared by every process: Redis when present, a file cache otherwise) -----------
REDIS_URL = env.str("REDIS_URL", default="")  # Celery's broker (below)
# The cache's own Redis. In production another instance, which evicts when full (allkeys-lru) while the broker's
# must not (docs/deploy.md, "3. Redis"). Unset: REDIS_URL's next database (…/0 → …/1, …/15 → …/0), so one Redis
# serves a developer's machine with the cache and the queue apart.
CACHE_REDIS_URL = env.str("CACHE_REDIS_URL", default=next_redis_database(REDIS_URL))
if CACHE_REDIS_URL:
    CACHES = {"default": {"BACKEND": "volunteer_platform.redis_cache.RedisCache", "LOCATION": CACHE_REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Auth -----------------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env.int("PASSWORD_MIN_LENGTH", default=12)},  # ASVS 2.1.1
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Members sign in with their username or their mobile number (members/backends.py; permissions as ModelBackend).
# django-axes' backend goes first: it refuses a locked-out username+IP before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "members.backends.PhoneOrUsernameBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# --- Internationalisation: Simplified Chinese first, English second ----------------------------------------------
LANGUAGE_CODE = "zh-hans"
# Languages are listed by their own names. Source strings are written in Chinese (the primary language);
# locale/en holds the English catalogue.
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and media files (no CDN: Bootstrap is served from static/vendor) --------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

MESSAGE_TAGS = {10: "secondary", 40: "danger"}  # DEBUG, ERROR -> Bootstrap's alert classes

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Email and SMS ----------------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="noreply@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
SMS_BACKEND = env.str("SMS_BACKEND", default="notifications.sms.ConsoleSMSBackend")
# A real gateway (SMS_BACKEND = "notifications.sms_gateways.AliyunSMSBackend" or "…TencentSMSBackend"; see that
# module and docs/deploy.md): credentials, the approved signature, {our template key: the vendor's template id}, the
# Tencent SDK app and region; the endpoint and protocol are the vendor's unless a test points them at a fake.
SMS_ACCESS_KEY_ID = env.str("SMS_ACCESS_KEY_ID", default="")
SMS_ACCESS_KEY_SECRET = env.str("SMS_ACCESS_KEY_SECRET", default="")
SMS_SIGN_NAME = env.str("SMS_SIGN_NAME", default="")
SMS_TEMPLATE_IDS = env.json("SMS_TEMPLATE_IDS", default={})
SMS_SDK_APP_ID = env.str("SMS_SDK_APP_ID", default="")
SMS_REGION = env.str("SMS_REGION", default="ap-guangzhou")
SMS_ENDPOINT = env.str("SMS_ENDPOINT", default="")
SMS_ENDPOINT_PROTOCOL = env.str("SMS_ENDPOINT_PROTOCOL", default="https")
SMS_TIMEOUT_SECONDS = env.float("SMS_TIMEOUT_SECONDS", default=10)
# The secret in the address the gateway pushes delivery receipts to (/sms/receipts/<vendor>/<token>/); unset, the
# address answers 404 and rows stay without a receipt.
SMS_RECEIPT_TOKEN = env.str("SMS_RECEIPT_TOKEN", default="")

# --- WeChat sign-in (members/wechat.py; docs/security.md, "WeChat sign-in") -------------------------------------
# The official account (公众号: 网页授权 inside WeChat's browser) and the open platform's website app
# (网站应用: 扫码登录 on a PC). An app whose id or secret is unset is off: its button is not shown, and with
# neither set the WeChat pages answer 404.
WECHAT_MP_APP_ID = env.str("WECHAT_MP_APP_ID", default="")
WECHAT_MP_APP_SECRET = env.str("WECHAT_MP_APP_SECRET", default="")
WECHAT_OPEN_APP_ID = env.str("WECHAT_OPEN_APP_ID", default="")
WECHAT_OPEN_APP_SECRET = env.str("WECHAT_OPEN_APP_SECRET", default="")
# The mini-program (小程序): it signs in through the API (POST /api/v1/auth/wechat/), which answers 404 when unset.
WECHAT_MINI_APP_ID = env.str("WECHAT_MINI_APP_ID", default="")
WECHAT_MINI_APP_SECRET = env.str("WECHAT_MINI_APP_SECRET", default="")
# WeChat's addresses: the sign-in pages and the API (a test points them at a fake on 127.0.0.1).
WECHAT_OAUTH_URL = env.str("WECHAT_OAUTH_URL", default="https://open.weixin.qq.com")
WECHAT_API_URL = env.str("WECHAT_API_URL", default="https://api.weixin.qq.com")
WECHAT_TIMEOUT_SECONDS = env.float("WECHAT_TIMEOUT_SECONDS", default=5)

# --- Celery -----------------------------------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A task whose worker died unacknowledged is handed out again after this many seconds.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    }
else:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
    if CELERY_BROKER_URL.startswith("filesystem://"):
        # kombu's own transport lets a worker read a message still being written and die on it (core/broker.py).
        CELERY_BROKER_TRANSPORT = "core.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),  # kombu's default is ./control in the working directory
        "store_processed": False,
        # kombu polls the folder once a second by default; with prefetch 1 that drains about two messages a second,
        # too slow for the demo seed's few hundred notifications (a backlog the sweeper would keep adding to).
        "polling_interval": 0.1,
    }
CELERY_RESULT_BACKEND = None  # tasks report through the database rows they change, never through results
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing happens after a commit inside a request: when the broker is down, give up quickly; the outbox
# sweeper sends the row later, so the request must not hang.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Queues by kind of work (Step 19), so that a long export or report never holds up a sign-in code or a reminder.
# Each queue has its own workers in production (deploy/systemd/volunteer-worker@.service, docs/deploy.md); a worker
# started without -Q (`make run`, the tests) consumes all three. Every task is named here: tests/config/
# test_celery_queues.py fails on a task missing from this table. A task not named would go to the default queue.
#   interactive  someone is waiting for it: a sign-in code, the single message of a person's action (notify()'s
#                dispatch), a waitlist promotion, a resident's feedback.
#   notify       reminders and notifications sent to many (fan-outs, notify_many's batches) and the outbox sweeper.
#   heavy        minutes of work: snapshots, reconcile, star-rating recomputation, purges, recurring activities,
#                reports and exports. Its workers take a longer time limit (CELERY_TASK_TIME_LIMIT in their unit).
CELERY_TASK_QUEUE_NAMES = ("interactive", "notify", "heavy")
CELERY_TASK_QUEUES = tuple(Queue(name, Exchange(name), routing_key=name) for name in CELERY_TASK_QUEUE_NAMES)
CELERY_TASK_DEFAULT_QUEUE = "interactive"
CELERY_TASK_DEFAULT_EXCHANGE = "interactive"
CELERY_TASK_DEFAULT_ROUTING_KEY = "interactive"
TASK_QUEUE_OF = {
    "interactive": (
        "members.tasks.create_sign_in_code",
        "members.tasks.send_sign_in_code",
        "notifications.tasks.dispatch_notification",
        "projects.tasks.promote_waitlists",
        "demands.tasks.process_wish_feedback",
    ),
    "notify": (
        "notifications.tasks.dispatch_notifications",
        "notifications.tasks.sweep_outbox",
        "projects.tasks.plan_activity_reminders",
        "projects.tasks.send_activity_reminders",
        "projects.tasks.plan_activity_surveys",
        "projects.tasks.send_activity_surveys",
        "training.tasks.plan_session_reminders",
        "training.tasks.send_session_reminders",
        "training.tasks.plan_training_shortfall",
        "training.tasks.send_training_shortfall",
        "incentives.tasks.plan_publicity_notices",
        "incentives.tasks.send_publicity_last_day",
        "news.tasks.plan_broadcast",
        "news.tasks.send_broadcast_chunk",
        "members.tasks.plan_service_cards",
        "members.tasks.send_service_cards",
        "volunteer_platform.tasks.plan_monthly_digest",
        "volunteer_platform.tasks.send_monthly_digest",
        "demands.tasks.escalate_wishes",
    ),
    "heavy": (
        "members.tasks.rebuild_service_years",
        "volunteer_platform.tasks.refresh_dashboard_snapshots",
        "volunteer_platform.tasks.reconcile_weekly",
        "volunteer_platform.tasks.build_report",
        "members.tasks.national_export",
        "incentives.tasks.recompute_draft_ratings",
        "audit.tasks.purge_audit_events",
        "demands.tasks.purge_resident_contacts",
        "projects.tasks.generate_recurring_activities",
    ),
}
CELERY_TASK_ROUTES = {task: {"queue": queue} for queue, tasks in TASK_QUEUE_OF.items() for task in tasks}

# --- Security (strict unless DEBUG) ---------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_HTTPONLY = True  # the language switcher is a form: no script reads the cookie
LANGUAGE_COOKIE_SAMESITE = "Lax"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    # Preloading asks browsers to use HTTPS for the domain before the first visit; an operator whose domain
    # cannot commit to HTTPS on every subdomain sets SECURE_HSTS_PRELOAD=false (check --deploy then warns).
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    # Off only for the bench, which serves plain http on 127.0.0.1 (never behind real https).
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    # Every cookie the site sets is Secure behind https (the language cookie follows the session's).
    LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Sign-in, headers and audit (docs/security.md) -----------------------------------------------------------------
# Reverse proxies in front of Django that append to X-Forwarded-For; 0 trusts none (REMOTE_ADDR). One answer for
# the audit trail and for django-axes: core.net.client_ip.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "core.net.client_ip"
# Lockout: AXES_FAILURE_LIMIT failed sign-ins for one username from one address lock that pair out for
# AXES_COOLOFF_MINUTES (a new failure during the lockout starts the period again). Phone spellings count as one.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Axes keeps (tables, log lines) a keyed hash of the identifier typed, never the identifier — members sign in with
# their phone numbers; the audit trail keeps it masked beside the same hash (audit/sign_in.py).
AXES_USERNAME_CALLABLE = "members.backends.sign_in_identifier"
# Query and form fields axes writes as ******** in its records: `next` may carry a searched phone (?q=…).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "next"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are in the audit trail (audit.AuditEvent)
# The audit trail is kept a year, then deleted (audit.tasks.purge_audit_events, daily): the Cybersecurity Law
# (art. 21) asks for network logs of at least six months (audit.E001 refuses less), and a year covers the annual
# cycle of reviews (star ratings, plans, 年度考核) in which a secretary asks who changed or exported what.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)
# Sessions: a working day, cookie not readable by scripts, not sent on cross-site POSTs, HTTPS-only unless DEBUG.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
# Kept in the database and read through the shared cache: a signed-in page costs no session query while the cache
# holds it (otherwise one of the two queries left on a cached member page), and a flushed cache loses
# no one's sign-in. Ending sessions (audit.services.user_sessions_end) goes through SessionStore and clears both.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "audit.views.csrf_failure"
# Headers: no inline script or style anywhere (the admin alone may use style attributes, see
# volunteer_platform/middleware.py); Bootstrap's CSS draws its icons from data: URLs; nobody may frame a page.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# --- Logging ----------------------------------------------------------------------------------------------------
# Every record carries `request_id` (the web request's, or the task's in a worker: volunteer_platform/observability.py);
# LOG_FORMAT=json writes one JSON object per line for a log collector, "plain" is for reading in a terminal.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be 'plain' or 'json'.")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "volunteer_platform.observability.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "volunteer_platform.observability.JSONFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # "audit": one line per audit event (also stored in audit.AuditEvent), with the fields in record.audit.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "audit": {"level": "INFO"},
        # The SMS vendors' SDKs and their HTTP library log whole requests at DEBUG, template values (a sign-in
        # code, a phone number) included: never below WARNING, whatever the root level
        # (tests/notifications/test_sms_gateways.py::test_a_sign_in_code_is_never_logged_in_clear).
        "tencentcloud_sdk_common": {"level": "WARNING"},
        "alibabacloud-tea": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}

# --- Personal data at rest (see core/crypto.py) ------------------------------------------------------------------
# FIELD_ENCRYPTION_KEYS: comma-separated Fernet keys, the first encrypts, all decrypt (rotation: put the new key
# first). FIELD_HMAC_KEY: the key of the lookup hashes; changing it needs a re-index. No production default.
if DEBUG:
    import base64
    import hashlib

    _dev_key = base64.urlsafe_b64encode(hashlib.sha256(f"fernet:{SECRET_KEY}".encode()).digest()).decode()
    FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[_dev_key])
    FIELD_HMAC_KEY = env.str("FIELD_HMAC_KEY", default=f"hmac:{SECRET_KEY}")
else:
    FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")
    FIELD_HMAC_KEY = env.str("FIELD_HMAC_KEY")

# Every change goes through a service; the history admin shows it but never writes it back.
SIMPLE_HISTORY_REVERT_DISABLED = True

# --- Platform ---------------------------------------------------------------------------------------------------
# The public address, for absolute links in SMS and email sent from Celery tasks (no request at hand there).
# The deployed revision (e.g. the git commit), if the deploy sets it: the page caches store it with each page and
# miss after a deploy (core.public_cache.release, which otherwise digests the code and templates).
RELEASE = env.str("RELEASE", default="")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000" if DEBUG else "")
# Micro-wishes (demands): a published wish waits WISH_CLAIM_DAYS for a claim unless the secretary sets a deadline;
# a member holds at most WISH_MAX_OPEN_CLAIMS claimed wishes unfulfilled; the resident's rating link lasts
# WISH_FEEDBACK_DAYS, then the wish closes unconfirmed (DESIGN.md), with a reminder WISH_FEEDBACK_REMINDER_DAYS after
# fulfilment; residents' contact data of finished wishes is erased after WISH_CONTACT_RETENTION_DAYS (PIPL).
WISH_CLAIM_DAYS = env.int("WISH_CLAIM_DAYS", default=14)
WISH_MAX_OPEN_CLAIMS = env.int("WISH_MAX_OPEN_CLAIMS", default=5)
WISH_FEEDBACK_DAYS = env.int("WISH_FEEDBACK_DAYS", default=14)
WISH_FEEDBACK_REMINDER_DAYS = env.int("WISH_FEEDBACK_REMINDER_DAYS", default=3)
WISH_CONTACT_RETENTION_DAYS = env.int("WISH_CONTACT_RETENTION_DAYS", default=180)
# Rate limits as (count, seconds), fixed windows counted in the shared cache (core/ratelimit.py).
# Submissions of the public wish form from one address (every POST counts, valid or not), and wishes accepted from
# one mobile number; both may be raised from the environment ("count,seconds"), as the bench does.
WISH_SUBMIT_IP_LIMIT = tuple(env.list("WISH_SUBMIT_IP_LIMIT", cast=int, default=[10, 3600]))
WISH_SUBMIT_PHONE_LIMIT = tuple(env.list("WISH_SUBMIT_PHONE_LIMIT", cast=int, default=[3, 86400]))
# Tracking look-ups from one address; wrong phone digits for one tracking code (known or not, so the answer never
# tells which).
WISH_TRACK_IP_LIMIT = (20, 900)
WISH_TRACK_CODE_LIMIT = (5, 3600)
# Rating-link POSTs, and opened links that match no wish, from one address (guessing tokens).
WISH_FEEDBACK_IP_LIMIT = (30, 900)
# Check-in attempts of one member at one activity, right or wrong (a 6-digit code must not be guessable while
# check-in is open).
CHECKIN_ATTEMPT_LIMIT = (10, 3600)
# Failed sign-ins from one address, whatever the usernames (password spraying; django-axes locks one username per
# address after AXES_FAILURE_LIMIT). High enough for a community centre's shared address.
SIGN_IN_IP_LIMIT = (30, 900)
# Second factor (TOTP, with recovery codes): required of platform admins (superusers) when this is on, which it is
# unless DEBUG; offered to everyone who manages an organization, and required of whoever has set one up.
SECOND_FACTOR_FOR_ADMINS = env.bool("SECOND_FACTOR_FOR_ADMINS", default=not DEBUG)
OTP_TOTP_ISSUER = "党员志愿服务平台"
SECOND_FACTOR_RECOVERY_CODES = 10
SECOND_FACTOR_IP_LIMIT = (30, 900)  # second-factor entries from one address (each device also slows down its own)
# SMS codes for signing in and for setting a new password (members.services.sign_in_codes): how long a code works,
# codes sent to one number (the first limit also spaces them: one a minute), codes asked for from one address
# (whatever the numbers: walking a list of numbers), and code entries from one address (each code also ends after
# SignInCode.MAX_ATTEMPTS wrong entries).
SIGN_IN_CODE_TTL_SECONDS = 300
SIGN_IN_CODE_RESEND_LIMIT = (1, 60)
SIGN_IN_CODE_PHONE_LIMIT = (5, 3600)
SIGN_IN_CODE_IP_LIMIT = (20, 3600)
SIGN_IN_CODE_CHECK_IP_LIMIT = (30, 900)
# The JSON API (README, "For client developers"). A device token (audit.ApiToken) lives API_TOKEN_DAYS unless
# rotated or revoked. Every rule of the site holds in the API: the views call the same services, selectors and
# limits (core/api.py holds only the plumbing: the error format, cursor pages, ETags, the token header).
API_TOKEN_DAYS = env.int("API_TOKEN_DAYS", default=30)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "audit.api_auth.DeviceTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # the site's own pages, with CSRF
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],  # each view says who may call it
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "党员志愿服务平台 API",
    "DESCRIPTION": "The JSON API for mini-programs, H5 pages and apps: the same rules, scopes and limits as the site.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Choice sets several models call "status", named by their model (drf-spectacular's check warns otherwise).
    "ENUM_NAME_OVERRIDES": {"SignUpStatusEnum": "projects.models.SignUp.Status"},
}
# WeChat sign-in: callbacks from one address (each asks WeChat's API), and how long a WeChat identity that no
# account has yet waits in the session for the member to bind it with an SMS code.
WECHAT_CALLBACK_IP_LIMIT = (30, 900)
WECHAT_BIND_SECONDS = 600
# Service projects: this many no-shows among the activities that started within the last 90 days refuse new
# sign-ups and post claims (DESIGN.md: "repeated no-shows restrict new sign-ups").
NO_SHOW_LIMIT = env.int("NO_SHOW_LIMIT", default=3)
# Dashboards of organizations with at least this many members are computed every 10 minutes by Celery and read
# from the cache (volunteer_platform/selectors.py, "Dashboard snapshots"); smaller ones are computed when opened.
DASHBOARD_SNAPSHOT_MIN_MEMBERS = env.int("DASHBOARD_SNAPSHOT_MIN_MEMBERS", default=5000)
DASHBOARD_SNAPSHOT_SECONDS = 600  # the schedule's interval ("dashboard snapshots", every 10 minutes)
# How often a pending notification is retried before it is marked failed, and the base of the backoff.
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=5)
NOTIFICATION_RETRY_BASE_SECONDS = env.int("NOTIFICATION_RETRY_BASE_SECONDS", default=30)
# A row the outbox sweeper queued again is left to that task this long before a later pass queues it once more.
NOTIFICATION_SWEEP_REQUEUE_SECONDS = env.int("NOTIFICATION_SWEEP_REQUEUE_SECONDS", default=300)

# --- Deployment: media storage, static files, task failures (docs/deploy.md) ------------------------------------
# Media (wish photos, project logos, training materials) are personal or internal data: no URL serves them, views
# stream them after checking access, so nginx never exposes MEDIA_ROOT and an S3 bucket stays private.
# MEDIA_STORAGE=local keeps them under MEDIA_ROOT (one web machine, or a shared mount such as NFS);
# MEDIA_STORAGE=s3 puts them on S3-compatible storage (AWS, MinIO, 阿里云 OSS, 腾讯云 COS) so that any number of web
# and worker machines see the same files.
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="local")
_media_storage: dict[str, Any]
if MEDIA_STORAGE == "local":
    _media_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
elif MEDIA_STORAGE == "s3":
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            # No defaults for the bucket and its keys: a typo must stop the start, not scatter files elsewhere.
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "access_key": env.str("AWS_ACCESS_KEY_ID"),
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,  # empty: AWS itself
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            # "path" for MinIO and most self-hosted stores; "virtual" for OSS/COS, which refuse path-style requests.
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="path"),
            "signature_version": "s3v4",
            "default_acl": None,  # the bucket's own policy (private); never public-read
            "querystring_auth": True,  # were a URL ever built, it would be signed and expire
            "querystring_expire": 300,
            "file_overwrite": False,  # two uploads with one name get two objects, as on the local disk
        },
    }
else:
    raise ImproperlyConfigured("MEDIA_STORAGE must be 'local' or 's3'.")
STORAGES = {
    "default": _media_storage,
    # Hashed file names (site.3f2a….css) after `collectstatic`, so nginx lets browsers cache static files for a
    # year; plain names before it (volunteer_platform/staticfiles.py). With DEBUG on, Django serves plain names.
    "staticfiles": {"BACKEND": "volunteer_platform.staticfiles.HashedStaticFilesStorage"},
}
# The largest request body the application accepts: the fulfilment form's MAX_PHOTOS (3) photos of at most 8 MB
# (demands/photos.py) plus the form fields. nginx's client_max_body_size (deploy/nginx.conf) is this value, so a
# too-large upload is refused by nginx at once instead of being buffered (tests/site/test_deploy.py ties them).
MAX_REQUEST_BODY_MB = 25
# deploy/env.example marks what an operator must replace with "change-me": a value still holding it is refused.
if not DEBUG:
    _placeholders = [
        name
        for name, value in (
            ("SECRET_KEY", SECRET_KEY),
            ("FIELD_ENCRYPTION_KEYS", ",".join(FIELD_ENCRYPTION_KEYS)),
            ("FIELD_HMAC_KEY", FIELD_HMAC_KEY),
            ("DATABASE_URL", env.str("DATABASE_URL", default="")),
            ("EMAIL_URL", env.str("EMAIL_URL", default="")),
            ("AWS_SECRET_ACCESS_KEY", _media_storage.get("OPTIONS", {}).get("secret_key", "")),
        )
        if "change-me" in value
    ]
    if _placeholders:
        raise ImproperlyConfigured(f"Replace the example values (change-me…) of: {', '.join(_placeholders)}.")
# Workers log through LOGGING above (request id, LOG_FORMAT) instead of Celery replacing the root logger's handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Failed Celery tasks (volunteer_platform.JobFailure, in the admin) are kept this many days.
JOB_FAILURE_RETENTION_DAYS = env.int("JOB_FAILURE_RETENTION_DAYS", default=90)

# --- Benchmark (bench/, `make bench`) ------------------------------------------------------------------------------
# The bench serves plain http on 127.0.0.1 with DEBUG off: it sets SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE
# to false, and raises the wish form's limits (WISH_SUBMIT_*_LIMIT) so one load process from one address measures
# the form, not the limiter. BENCH_CEILING_VIEW mounts /bench/ceiling/, a fixed short answer through the whole
# middleware stack (the ceiling the pages are measured against); off by default.
BENCH_CEILING_VIEW = env.bool("BENCH_CEILING_VIEW", default=False)
# The whole-page caches of the public pages and the member portal (core/public_cache.py, core/member_cache.py). Off,
# every page is rendered: the bench's uncached pass measures the pages so (a cache must not hide a slow page).
PAGE_CACHES = env.bool("PAGE_CACHES", default=True)

# The column map of the files exchanged with the national system (members/national.py, docs/national-exchange.md): a
# JSON file an operator edits to the national template's headers; the default ships with the code.
NATIONAL_EXPORT_COLUMNS = env.str(
    "NATIONAL_EXPORT_COLUMNS", default=str(BASE_DIR / "members" / "data" / "national_columns.json")
)

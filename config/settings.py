"""Settings, read from the environment.

Every variable is optional: without any, the project runs on the embedded default (SQLite in WAL
mode and kombu's filesystem broker under ``DATA_DIR``). ``.env.example`` lists them all.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from alerts.email_config import email_url_settings
from config.env import env_bool, env_float, env_int, env_list, env_mapping, env_str
from integrations.keyfile import key_file_load_or_create

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# --- Core -----------------------------------------------------------------------------------------

# "production" refuses to start without the secrets the embedded default would make up.
DJANGO_ENV = env_str("DJANGO_ENV", "development")
if DJANGO_ENV not in ("development", "production"):
    raise ImproperlyConfigured(f"DJANGO_ENV must be development or production, got {DJANGO_ENV!r}")
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-set-SECRET_KEY-in-production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Where this site is reached from outside: links in alerts and notifications start with it.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "integrations",
    "workflows",
    "versioning",
    "alerts",
    "orchestration",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# PostgreSQL in production (DATABASE_URL); SQLite otherwise. SQLite runs in WAL mode with IMMEDIATE
# transactions and a busy timeout, so the web process, the worker and Beat wait for each other's
# writes instead of failing with "database is locked".

SQLITE_PATH = DATA_DIR / "db.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{SQLITE_PATH}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests that run a real worker process share the test database through a file.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
else:
    # Names this process's connections in pg_stat_activity (an operator can tell who is who).
    DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = env_str(
        "DB_APPLICATION_NAME", "workflows"
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------------
# Rate limits count in the cache: give every process the same one (Redis) in production.

CACHE_URL = env_str("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Auth, i18n, static ---------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Request bodies above this size are answered with 413.
REQUEST_BODY_MAX_BYTES = env_int("REQUEST_BODY_MAX_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES

# --- REST API -------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "workflows.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["workflows.api.permissions.IsStaff"],
    "DEFAULT_PAGINATION_CLASS": "workflows.api.pagination.StandardPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "workflows.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"webhook": env_str("WEBHOOK_RATE_LIMIT", "600/minute")},
    "PAGE_SIZE": 50,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Workflow Orchestration API",
    "DESCRIPTION": "Workflows, executions, triggers, alerts, content versions, orchestration.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Celery ---------------------------------------------------------------------------------------
# The database holds the truth; the broker only wakes workers. Messages are acknowledged after the
# task ran (acks_late) and re-queued when a worker dies mid-task; every task is idempotent.

BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "control_folder": str(BROKER_DIR / "control"),
        # The worker looks for new message files this often (kombu's default is once a second).
        "polling_interval": 0.05,
    }
    (BROKER_DIR / "control").mkdir(exist_ok=True)
else:
    # Above the hard time limit, so a long task is never delivered twice while it still runs.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "workflows")
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 1800)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# --- The engine -----------------------------------------------------------------------------------

# A running execution owns a lease; the sweep re-queues executions whose lease expired.
EXECUTION_LEASE_S = env_float("EXECUTION_LEASE_S", 60.0)
# How often Beat runs the sweep, and how long a queued execution may wait before it is re-sent.
EXECUTION_SWEEP_INTERVAL_S = env_float("EXECUTION_SWEEP_INTERVAL_S", 5.0)
EXECUTION_REQUEUE_AFTER_S = env_float("EXECUTION_REQUEUE_AFTER_S", 30.0)
# An execution taken by a worker more often than this is failed instead of looping forever.
EXECUTION_MAX_DELIVERIES = env_int("EXECUTION_MAX_DELIVERIES", 5)
EXECUTION_RETENTION_DAYS = env_int("EXECUTION_RETENTION_DAYS", 90)

CELERY_BEAT_SCHEDULE = {
    "workflows-sweep": {"task": "workflows.sweep", "schedule": EXECUTION_SWEEP_INTERVAL_S},
    "workflows-prune": {"task": "workflows.prune", "schedule": 3600.0},
}
STEP_DEFAULT_TIMEOUT_S = env_float("STEP_DEFAULT_TIMEOUT_S", 30.0)
# Action types of this installation beside the built-in ones: "type=dotted.path.Class,…".
ACTION_TYPES_EXTRA = env_mapping("ACTION_TYPES_EXTRA")
# Schedule triggers: a fire later than this after its slot (Beat was down) is skipped, unless
# the latest missed slot should run once when Beat comes back.
SCHEDULE_MISFIRE_GRACE_S = env_float("SCHEDULE_MISFIRE_GRACE_S", 300.0)
SCHEDULE_CATCH_UP_LAST = env_bool("SCHEDULE_CATCH_UP_LAST", False)
# Webhook triggers: how long a replaced signing secret stays valid, and the signature tolerance.
WEBHOOK_SECRET_OVERLAP_S = env_int("WEBHOOK_SECRET_OVERLAP_S", 86400)
WEBHOOK_SIGNATURE_TOLERANCE_S = env_int("WEBHOOK_SIGNATURE_TOLERANCE_S", 300)
WEBHOOK_SECRET_MIN_CHARS = 16
# Workflows that trigger workflows (publish → publish-triggered → …) stop at this depth.
TRIGGER_MAX_DEPTH = env_int("TRIGGER_MAX_DEPTH", 5)
# Retry waits up to this long ride on a broker countdown; longer ones are sent by the sweep.
RETRY_COUNTDOWN_MAX_S = env_float("RETRY_COUNTDOWN_MAX_S", 60.0)

# Templates: limits on what one template may be and produce.
TEMPLATE_MAX_SOURCE_CHARS = env_int("TEMPLATE_MAX_SOURCE_CHARS", 20_000)
TEMPLATE_MAX_OUTPUT_CHARS = env_int("TEMPLATE_MAX_OUTPUT_CHARS", 1_000_000)

# --- Outbound HTTP --------------------------------------------------------------------------------
# Private, loopback, link-local and metadata addresses are refused unless named here: host names
# (matched as written), IP addresses or CIDR ranges (matched against the resolved address).

OUTBOUND_ALLOWED_HOSTS = env_list("OUTBOUND_ALLOWED_HOSTS", [])
OUTBOUND_MAX_RESPONSE_BYTES = env_int("OUTBOUND_MAX_RESPONSE_BYTES", 5 * 1024 * 1024)
OUTBOUND_MAX_REDIRECTS = 3
OUTBOUND_USER_AGENT = "workflow-orchestration/0.1"

# --- Integrations ---------------------------------------------------------------------------------
# Connection secrets are encrypted at rest with these Fernet keys: the first encrypts, all decrypt.
# Rotate: put a new key first, run `manage.py rotate_encryption_keys`, then drop the old key.
# Unset, the embedded default keeps one generated key in DATA_DIR/encryption.key (mode 0600).

FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", [])
if not FIELD_ENCRYPTION_KEYS:
    if DJANGO_ENV == "production":
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is required when DJANGO_ENV=production (comma-separated Fernet"
            " keys; make one with: python -c 'from cryptography.fernet import Fernet;"
            " print(Fernet.generate_key().decode())')"
        )
    FIELD_ENCRYPTION_KEYS = [key_file_load_or_create(DATA_DIR / "encryption.key")]

# --- Content --------------------------------------------------------------------------------------

# Where a published article lives on the public site ({slug} and {id} are filled in); workflows see
# it as ``article.url``.
ARTICLE_URL_TEMPLATE = env_str("ARTICLE_URL_TEMPLATE", "/articles/{slug}/")

# --- API orchestration ----------------------------------------------------------------------------

# How many calls of one parallel run may be in flight at once (threads per run).
ORCHESTRATION_POOL_SIZE = env_int("ORCHESTRATION_POOL_SIZE", 8)
if not 1 <= ORCHESTRATION_POOL_SIZE <= 64:
    raise ImproperlyConfigured(
        f"ORCHESTRATION_POOL_SIZE must be from 1 to 64, got {ORCHESTRATION_POOL_SIZE}"
    )
# Re-sends runs whose message was lost and fails runs whose worker died.
CELERY_BEAT_SCHEDULE["orchestration-sweep"] = {"task": "orchestration.sweep", "schedule": 30.0}

# --- Alerts ---------------------------------------------------------------------------------------

# execution.slow fires for an execution that took longer than this (an alert may set its own).
ALERT_SLOW_THRESHOLD_MS = env_int("ALERT_SLOW_THRESHOLD_MS", 300_000)
# A delivery is tried this many times, waiting BACKOFF_S, then twice as long each time (capped).
ALERT_DELIVERY_MAX_ATTEMPTS = env_int("ALERT_DELIVERY_MAX_ATTEMPTS", 5)
ALERT_DELIVERY_BACKOFF_S = env_float("ALERT_DELIVERY_BACKOFF_S", 10.0)
ALERT_DELIVERY_BACKOFF_MAX_S = env_float("ALERT_DELIVERY_BACKOFF_MAX_S", 600.0)
# A worker sending a delivery holds it this long; after that the sweep may send it again.
ALERT_DELIVERY_LEASE_S = env_float("ALERT_DELIVERY_LEASE_S", 120.0)
if ALERT_DELIVERY_MAX_ATTEMPTS < 1:
    raise ImproperlyConfigured("ALERT_DELIVERY_MAX_ATTEMPTS must be at least 1")
# Sends deliveries whose wait ended (throttle windows, retries) and those whose message was lost.
CELERY_BEAT_SCHEDULE["alerts-sweep"] = {"task": "alerts.sweep", "schedule": 10.0}

# --- Email ----------------------------------------------------------------------------------------
# The email alert channel uses these when it has no smtp connection. EMAIL_URL sets them all at
# once (smtp://user:pass@host:587, smtps://…:465, console://); else the usual EMAIL_* variables.
# With neither, mail is printed to the log (console backend).

EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "workflows@localhost")
if env_str("EMAIL_URL", ""):
    globals().update(email_url_settings(env_str("EMAIL_URL", "")))

# --- Logging --------------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Replaces every connection secret this process has seen with "[redacted]".
    "filters": {"redact_secrets": {"()": "integrations.redaction.SecretsFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

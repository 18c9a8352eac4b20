"""Chainrule settings, read from the environment (every variable is listed in .env.example)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_str
from grader.engine.config import engine_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CHAINRULE_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# pytest-django imports these settings itself; under it the suite supplies its own key.
TESTING = "pytest" in sys.modules

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (see .env.example), "
            "or set DEBUG=1 for local development."
        )
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 - never used in production

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "course",
    "grader",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security_headers.SecurityHeadersMiddleware",
    "config.static_files.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with request.user and request.auser() sharing one look-up.
    "course.middleware.AuthenticationMiddleware",
    # After authentication: a signed-in learner's stored language overrides the browser's.
    "course.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Renders the RequestErrors views and services raise (code, status, Retry-After).
    "course.errors.RequestErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "course.context_processors.notifications",
            ],
        },
    }
]

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'chainrule.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while a grader worker writes a verdict.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif env_bool("DB_POOL", default=False):
    # Under the ASGI server (config/asgi.py turns DB_POOL on) each request's sync code runs in a
    # thread of its own, so a persistent connection per thread would pile up until PostgreSQL
    # refuses more: there connections come from a pool per process instead, and go back to it
    # after each request and while a status request waits (grader.selectors.submission_wait).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A request that finds every connection in use waits for one (up to DB_POOL_TIMEOUT seconds)
    # rather than opening more: under overload, requests queue instead of PostgreSQL refusing.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("DB_POOL_MAX_SIZE", 10),
        "timeout": env_float("DB_POOL_TIMEOUT", 60.0),
    }
if env_str("DATABASE_TEST_NAME"):
    # Lets two test runs share one PostgreSQL server without dropping each other's database.
    DATABASES["default"]["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "course.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"

# English unless the browser (Accept-Language), the header's switcher (a cookie) or a signed-in
# learner's stored preference asks for Chinese. URLs carry no language prefix.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Templates name date formats (|date:"DATE_FORMAT"); config/formats/<language>/ defines them.
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not (DEBUG or TESTING)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Chainrule <noreply@localhost>")
# The site's address as learners reach it, for links in e-mails sent outside a request (digests).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)

# Security: HTTPS-only cookies, redirects and HSTS are on whenever DEBUG is off.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG and not TESTING)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG and not TESTING)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG and not TESTING)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG or TESTING else 31536000)
# Subdomains of the site's own host name stay on: without it `check --deploy` warns (W005).
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preload asks browsers to hard-code HTTPS for the domain, which takes months to undo, so it is
# the operator's decision; the deploy check's reminder about it (W021) is silenced while it is off.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_HTTPS_PROXY") else None
)
# Reverse proxies in front of the site that append the client to X-Forwarded-For (0: none; the
# client address is then REMOTE_ADDR). Sign-in throttling per address reads it.
PROXY_COUNT = env_int("PROXY_COUNT", 0)
SECURE_REFERRER_POLICY = "same-origin"
# Serve the Content-Security-Policy as report-only (to trial a change to it); default: enforced.
CSP_REPORT_ONLY = env_bool("CSP_REPORT_ONLY", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Django's database sessions, read with SQL compiled once (course/sessions.py).
SESSION_ENGINE = "course.sessions"
# The switcher's choice lives in a cookie too (for visitors, and after logging out).
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SAMESITE = "Lax"

# --- Celery -----------------------------------------------------------------------------------
REDIS_DEFAULT_URL = "redis://127.0.0.1:6379/0"
_broker_from_env = env_str("CELERY_BROKER_URL")


def _redis_answers(url: str, timeout: float = 0.3) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout
        ):
            return True
    except OSError:
        return False


if _broker_from_env:
    CELERY_BROKER_URL = _broker_from_env
elif _redis_answers(REDIS_DEFAULT_URL):
    CELERY_BROKER_URL = REDIS_DEFAULT_URL
else:
    # The embedded default: no Redis on this machine, so queue through files under var/.
    CELERY_BROKER_URL = "filesystem://"
CELERY_FILESYSTEM_DIR = VAR_DIR / "celery-broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_FILESYSTEM_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FILESYSTEM_DIR),
        "data_folder_out": str(CELERY_FILESYSTEM_DIR),
        "control_folder": str(CELERY_FILESYSTEM_DIR / "control"),
        # The transport polls its folder; the default second would add up to a second per answer.
        "polling_interval": env_float("CELERY_FILESYSTEM_POLLING_INTERVAL", 0.05),
    }
    (CELERY_FILESYSTEM_DIR / "control").mkdir(exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600)
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# The database is the record of every submission; the broker only carries ids, so nothing needs
# a result backend, and a lost message is re-sent by the sweeper (grader.tasks.requeue_stuck_submissions).
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Grading tasks are short (tens of milliseconds): each pool process keeps a few more messages at
# hand, so it starts the next without a round trip to the broker. They stay unacknowledged until
# graded (acks_late): when a worker dies they are delivered again, and the sweeper re-sends any
# submission still queued past GRADER_QUEUED_STUCK_SECONDS. A worker for long jobs can take one at
# a time with `--prefetch-multiplier 1`.
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("CELERY_WORKER_PREFETCH_MULTIPLIER", 4)
# A task still running when the broker connection drops finishes and stores its verdict.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 2.0)
# Publishing from a web request gives up quickly; the submission is already stored and the sweeper
# enqueues it once the broker is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# Celery's Django fixup closes the database connection before and after every task unless told to
# reuse it, and a new connection costs the worker and PostgreSQL more than a task's own queries.
# So the fixup never closes it (a count of tasks it will not reach); the workers keep it as the web
# does, for DB_CONN_MAX_AGE seconds, and drop a broken one before the next task (config.celery).
CELERY_DB_REUSE_MAX = 2**62
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False

# --- Grader -----------------------------------------------------------------------------------
EXERCISES_DIR = Path(env_str("EXERCISES_DIR", str(BASE_DIR / "exercises")))
# The engine's limits and sandbox policy (grader/engine/config.py reads its GRADER_* variables):
# the same object the worker, the CLI and the benchmarks grade under.
GRADER_ENGINE = engine_config()
# Queue names: one for the quick symbolic kinds, one for code, so a slow code job never delays a
# one-line answer. Give a second deployment (or a test run) on the same Redis its own names.
GRADER_SYMBOLIC_QUEUE = env_str("GRADER_SYMBOLIC_QUEUE", "symbolic")
GRADER_CODE_QUEUE = env_str("GRADER_CODE_QUEUE", "code")
# Celery kills a grading task after these (the engine keeps its own, shorter deadlines).
GRADER_TASK_SOFT_TIME_LIMIT = env_float(
    "GRADER_TASK_SOFT_TIME_LIMIT",
    max(GRADER_ENGINE.symbolic_timeout_s, GRADER_ENGINE.code_timeout_s) + 10,
)
GRADER_TASK_TIME_LIMIT = env_float("GRADER_TASK_TIME_LIMIT", GRADER_TASK_SOFT_TIME_LIMIT + 10)
# The sweeper runs every GRADER_SWEEP_SECONDS; it re-queues a submission QUEUED for longer than
# GRADER_QUEUED_STUCK_SECONDS or RUNNING for longer than GRADER_RUNNING_STUCK_SECONDS (keep that
# above GRADER_TASK_TIME_LIMIT), and gives up after GRADER_MAX_TRIES times on the queue.
GRADER_SWEEP_SECONDS = env_float("GRADER_SWEEP_SECONDS", 15.0)
GRADER_QUEUED_STUCK_SECONDS = env_float("GRADER_QUEUED_STUCK_SECONDS", 60.0)
GRADER_RUNNING_STUCK_SECONDS = env_float(
    "GRADER_RUNNING_STUCK_SECONDS", GRADER_TASK_TIME_LIMIT + 30
)
GRADER_MAX_TRIES = env_int("GRADER_MAX_TRIES", 3)
# Each learner has a bucket of GRADER_BUDGET_SECONDS seconds of grading (grader.ratelimit), which
# refills completely in GRADER_BUDGET_WINDOW_SECONDS. An accepted answer sets aside its deadline
# and is charged what its grading cost once graded; a refused one (empty, too long) costs nothing.
GRADER_BUDGET_SECONDS = env_float("GRADER_BUDGET_SECONDS", 60.0)
GRADER_BUDGET_WINDOW_SECONDS = env_float("GRADER_BUDGET_WINDOW_SECONDS", 600.0)
# How many code jobs may be on the broker or running at once (grader.fairshare): set it to the
# number of worker processes that take code jobs. The rest wait in their learners' lines, at most
# one running per learner, and the learner who has used the least of their budget goes next.
GRADER_CODE_SLOTS = env_int("GRADER_CODE_SLOTS", 1)
# Message priorities on the Redis broker (0 is taken first): the instructors' bench is a lane
# ahead of learners' answers.
GRADER_LEARNER_PRIORITY = env_int("GRADER_LEARNER_PRIORITY", 6)
GRADER_INSTRUCTOR_PRIORITY = 0
# How long the instructor's bench waits for a worker's verdict before saying none came.
GRADER_BENCH_WAIT_SECONDS = env_float("GRADER_BENCH_WAIT_SECONDS", GRADER_TASK_TIME_LIMIT + 5)

# Live previews per learner and web process: this many at once, then this many a second
# (grader/preview_limit.py).
GRADER_PREVIEW_BURST = env_int("GRADER_PREVIEW_BURST", 20)
GRADER_PREVIEW_PER_SECOND = env_float("GRADER_PREVIEW_PER_SECOND", 4.0)
# The exercise page checks an answer with a request the server holds for up to
# GRADER_STATUS_WAIT_SECONDS, answering the moment the worker announces the verdict on Redis
# (GRADER_NOTIFY_REDIS_URL; default: the broker when it is Redis) or, without Redis, by looking
# first every GRADER_STATUS_CHECK_MS, then less often (at most a second apart). After a held
# request ends pending, the page asks again (held the same way) after
# GRADER_POLL_MS milliseconds. A held request is a coroutine under the ASGI server (no thread, no
# database connection while it waits), so it may wait long: each ask again is a whole request.
GRADER_STATUS_WAIT_SECONDS = env_float("GRADER_STATUS_WAIT_SECONDS", 10.0)
GRADER_STATUS_CHECK_MS = env_int("GRADER_STATUS_CHECK_MS", 50)
GRADER_NOTIFY_REDIS_URL = env_str("GRADER_NOTIFY_REDIS_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else ""
)
GRADER_POLL_MS = env_int("GRADER_POLL_MS", 100)
# How many past submissions the exercise page lists.
GRADER_HISTORY_LENGTH = env_int("GRADER_HISTORY_LENGTH", 20)
# Drafts: the exercise page saves what a learner types (debounced); at most this many saves per
# learner per minute, across exercises (a submission also saves its text, outside this bound).
GRADER_DRAFT_SAVES_PER_MINUTE = env_int("GRADER_DRAFT_SAVES_PER_MINUTE", 60)

CELERY_TASK_DEFAULT_QUEUE = GRADER_SYMBOLIC_QUEUE
CELERY_TASK_ROUTES = {"grader.tasks.requeue_stuck_submissions": {"queue": GRADER_SYMBOLIC_QUEUE}}
# The daily notification digest goes out at this hour (TIME_ZONE) to those who asked for it.
NOTIFICATION_DIGEST_HOUR = env_int("NOTIFICATION_DIGEST_HOUR", 7)
CELERY_BEAT_SCHEDULE = {
    "requeue-stuck-submissions": {
        "task": "grader.tasks.requeue_stuck_submissions",
        "schedule": GRADER_SWEEP_SECONDS,
        "options": {"expires": GRADER_SWEEP_SECONDS},
    },
    "send-notification-digests": {
        "task": "course.tasks.send_notification_digests",
        "schedule": crontab(hour=NOTIFICATION_DIGEST_HOUR, minute=0),
        "options": {"queue": GRADER_SYMBOLIC_QUEUE, "expires": 3600},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}


def describe_backends() -> str:
    """Return the one line printed at start-up naming the database and broker in use."""
    db = DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        database = f"SQLite at {db['NAME']}"
    else:
        database = f"{db['ENGINE'].rsplit('.', 1)[-1]} database {db['NAME']!r} on {db.get('HOST') or 'local socket'}"
    if CELERY_BROKER_URL.startswith("filesystem"):
        broker = f"kombu filesystem transport under {CELERY_FILESYSTEM_DIR} (no Redis answered)"
    else:
        parsed = urlparse(CELERY_BROKER_URL)
        broker = f"{parsed.scheme} at {parsed.hostname}:{parsed.port}"
    return f"Chainrule: database = {database}; broker = {broker}"


# The course app checks kind-specific exercise fields through this, so it never imports the grader.
# "none" leaves structure checks only (an empty variable means the default, like every other).
COURSE_SPEC_VALIDATOR = env_str("COURSE_SPEC_VALIDATOR", "grader.engine.validate_spec")
# How long a process shares its snapshot of the course outline (course/catalogue.py) before reading
# it again; a change made in the same process is seen at once.
COURSE_CATALOGUE_SECONDS = env_float("COURSE_CATALOGUE_SECONDS", 30.0)
if COURSE_SPEC_VALIDATOR.strip().lower() == "none":
    COURSE_SPEC_VALIDATOR = ""

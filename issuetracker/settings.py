"""Settings, read from the environment (or a `.env` file beside manage.py).

Every name is documented in README.md and `.env.example`.
"""

from __future__ import annotations

from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off "
            "(set DJANGO_DEBUG=true for a local run)."
        )
    # Debug runs only: a key that is public on purpose, so no one mistakes it for a secret.
    SECRET_KEY = "insecure-local-debug-key-never-use-in-production"

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# A refused form explains itself and gives back what was typed (see the view).
CSRF_FAILURE_VIEW = "tracker.views.errors.csrf_failure"

# Off: the open API of the original system. On: every write needs an authenticated user.
TRACKER_REQUIRE_AUTH = env.bool("TRACKER_REQUIRE_AUTH", default=False)
TRACKER_IMPORT_MAX_BYTES = env.int("TRACKER_IMPORT_MAX_BYTES", default=50 * 1024 * 1024)
# Where links in e-mails point (this site's address as its users reach it).
TRACKER_BASE_URL = env.str("TRACKER_BASE_URL", default="http://127.0.0.1:8000")

# E-mail: smtp://user:password@host:587 (smtp+tls://, smtp+ssl://), consolemail://,
# filemail:////path/to/dir, memorymail://, dummymail://. Unset: printed to the console in
# debug; off otherwise (notifications are still recorded, no e-mail job is queued).
_EMAIL_URL = env.str("EMAIL_URL", default="consolemail://" if DEBUG else "")
TRACKER_EMAIL_ENABLED = bool(_EMAIL_URL)
vars().update(env.email_url_config(_EMAIL_URL or "dummymail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Tracker <tracker@localhost>")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
# Changes within this many seconds of a person's first unsent notification go into one e-mail.
TRACKER_EMAIL_DELAY_SECONDS = env.float("TRACKER_EMAIL_DELAY_SECONDS", default=60)

# The import page imports files larger than this as a background job, with a progress bar
# (0: every file). Needs a running worker.
TRACKER_IMPORT_JOB_BYTES = env.int("TRACKER_IMPORT_JOB_BYTES", default=1024 * 1024)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "procrastinate.contrib.django",
    "tracker",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tracker.middleware.ContentSecurityPolicy",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tracker.middleware.QueryParametersChecked",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tracker.middleware.NotFoundAsPage404",
    # Last: it sees a view's lost database connection first, and retries reads.
    "tracker.middleware.DatabaseUnavailable",
]

# The API answers at its paths with and without a trailing slash; never redirect a POST.
APPEND_SLASH = False

ROOT_URLCONF = "issuetracker.urls"
WSGI_APPLICATION = "issuetracker.wsgi.application"

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
                "tracker.context_processors.tracker",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/issuetracker"
    ),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The same backend, with a health check that asks the server only when the connection looks
# closed, and prepared statements for the hot paths (issuetracker/postgresql/base.py).
# DATABASE_PREPARE=false where the connection goes through a pooler in transaction mode
# that cannot keep prepared statements (PgBouncer before 1.21).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "issuetracker.postgresql"
    DATABASES["default"]["PREPARE"] = env.bool("DATABASE_PREPARE", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Reports are cached (tracker/reports.py): local memory by default, one cache per process;
# redis://host:6379/0 to share one between several servers.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

AUTH_USER_MODEL = "tracker.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "ui:issue-list"
LOGOUT_REDIRECT_URL = "ui:issue-list"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production serves hashed, compressed files (after `collectstatic`); debug runs and tests
# serve the source files as they are.
STATIC_MANIFEST = env.bool("DJANGO_STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Uploads above this size are streamed to a temporary file rather than held in memory;
# above TRACKER_IMPORT_MAX_BYTES they are not received at all.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "tracker.imports.uploads.UploadSizeLimit",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Form bodies (the pages post a description twice: as read and as edited). JSON bodies have
# their own 1 MB limit (tracker/api/parsers.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

REST_FRAMEWORK = {
    # Token first: an anonymous write then gets 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.BasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tracker.api.permissions.WritesNeedAuthWhenRequired"],
    # JSON within the body limits (tracker/api/parsers.py); forms for the browsable API.
    "DEFAULT_PARSER_CLASSES": [
        "tracker.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_METADATA_CLASS": "tracker.api.metadata.InputMetadata",
    "DEFAULT_SCHEMA_CLASS": "tracker.api.schema.TrackerAutoSchema",
    "EXCEPTION_HANDLER": "tracker.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Issue Tracker API",
    "DESCRIPTION": "Users, issues, comments, labels, bulk changes, CSV import, reports "
    "and the timeline of every issue.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No validator badge: it would send the schema's address to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # PATCH /issues/{id} takes its serializer as it is: `version` required, the rest optional.
    "COMPONENT_SPLIT_PATCH": False,
    "PREPROCESSING_HOOKS": ["tracker.api.schema.drop_trailing_slash_twins"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tracker.api.schema.document_common_responses",
        "tracker.api.schema.document_empty_query_values",
    ],
    "ENUM_NAME_OVERRIDES": {
        "IssueStatusEnum": "tracker.models.Issue.Status",
        "EventEnum": "tracker.models.IssueEvent.Kind",
    },
}

# Content-Security-Policy on every response (django-csp): nothing from another host, and no
# inline script or style unless it carries the request's nonce. Only ReDoc needs the nonce,
# for the <style> elements it writes; see tracker/middleware.py for the browsable API.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        # ReDoc runs its search index in a worker made from a blob.
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Behind TLS: HSTS and the redirect to https are off unless asked for (see README).
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
if env.bool("DJANGO_TRUST_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The queue says at INFO what it registers at every start; its worker's job lines
        # (started, succeeded, failed) are kept.
        "procrastinate.periodic": {"level": "WARNING"},
        "procrastinate.blueprints": {"level": "WARNING"},
        "procrastinate.manager": {"level": "WARNING"},
        "procrastinate.app": {"level": "WARNING"},
    },
}

# Background jobs (procrastinate, in this database): tasks live in tracker/tasks.py; the worker
# is `manage.py procrastinate worker` (Procfile `worker:`).
PROCRASTINATE_ON_APP_READY = "tracker.tasks.on_app_ready"
# Finished jobs are kept this long (hours) for the admin, then pruned by a periodic task.
TRACKER_JOBS_KEEP_HOURS = env.int("TRACKER_JOBS_KEEP_HOURS", default=24 * 7)

# Outgoing webhooks (tracker/services/webhooks.py). Addresses on loopback, private, link-local
# and reserved networks are refused unless this is on (a receiver on the same machine).
TRACKER_WEBHOOK_ALLOW_PRIVATE = env.bool("TRACKER_WEBHOOK_ALLOW_PRIVATE", default=False)
# Each attempt's timeout, and the first wait before a retry (doubled at each of the 8 attempts).
TRACKER_WEBHOOK_TIMEOUT_SECONDS = env.float("TRACKER_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
TRACKER_WEBHOOK_RETRY_SECONDS = env.float("TRACKER_WEBHOOK_RETRY_SECONDS", default=10.0)

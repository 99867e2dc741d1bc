"""Settings for cerisepro, read from the environment (and an optional ``.env`` file).

Every value has a development default so that one command runs the whole app on SQLite and an
embedded Celery broker; production sets ``DATABASE_URL``, ``CELERY_BROKER_URL``, ``SECRET_KEY``…
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

INSECURE_DEV_SECRET_KEY = "django-insecure-development-only-never-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="") or INSECURE_DEV_SECRET_KEY


def _is_weak_secret_key(key: str) -> bool:
    return key.startswith("django-insecure") or len(key) < 50 or len(set(key)) < 5


if not DEBUG and _is_weak_secret_key(SECRET_KEY):
    # Refuse to start: sessions and password-reset tokens would be forgeable.
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters when DEBUG is off."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "cerisepro.apps.StaffAdminConfig",  # django.contrib.admin, with a site that requires the 2nd factor
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
    "establishments",
    "students",
    "transfers",
    "privacy",
    "demo",
    "sso",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise, which answers static files itself: they stay cacheable, nothing else is.
    "cerisepro.security.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified()
    "cerisepro.security_log.SecurityLogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",  # after messages: it says why it logged out
    "sso.middleware.SingleLogoutMiddleware",  # the ENT's logoutRequest ends its session (sso)
    "accounts.middleware.SecondFactorMiddleware",
    # After the second factor: an initial password is replaced before any page (docs/accounts.md).
    "accounts.initial_passwords.InitialPasswordMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cerisepro.urls"

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
            # The admin index's count of manual authorisations waiting (templates/admin/index.html).
            "libraries": {"manual_transfers_admin": "transfers.manual.admin_tags"},
        },
    },
]

WSGI_APPLICATION = "cerisepro.wsgi.application"

# An empty DATABASE_URL= in .env means "the default", not Django's dummy backend.
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections (seconds; 0 = one per request): a page no longer pays PostgreSQL's
# connection set-up, a third of the history page's time under load (BENCHMARKS.md). Checked before
# reuse, so a server restart costs one reconnection, not an error.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("CONN_HEALTH_CHECKS", default=True))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "establishments.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username + IP before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    # Refuses the password of a user whose establishment logs in through the ENT only
    # (docs/connexion.md §Modes); authenticates nobody itself.
    "sso.backends.EntOnlyPasswordPolicy",
    # Django's ModelBackend, refusing a student whose record is inactive (docs/accounts.md).
    "students.accounts.StudentAccountBackend",
    # The sessions opened by the ENT (CAS) or ProConnect (OpenID Connect): no password checked here.
    "sso.backends.ConnectorBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # "loginlogin", "login2026": the login once removed, too little is left.
    {"NAME": "accounts.passwords.LoginSimilarityValidator"},
    # 12 characters at least (CNIL guidance for a password backed by login throttling).
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # The initial password of a fiche de connexion cannot be chosen again (docs/accounts.md).
    {"NAME": "accounts.initial_passwords.NotTheInitialPasswordValidator"},
]

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Uploaded logos and stamps. They are never served from MEDIA_URL directly: a view checks that the
# user belongs to the establishment and sends the file with its content type and nosniff.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
MEDIA_URL = "/media/"
FILE_UPLOAD_PERMISSIONS = 0o640  # never executable
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Establishment images (logo, stamp).
IMAGE_MAX_BYTES = 2 * 1024 * 1024
IMAGE_MAX_PIXELS = 4096 * 4096

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# Seconds an SMTP server may take to answer: a server that hangs frees the e-mail task (it is retried,
# transfers.tasks) instead of holding a worker for ever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="cerisepro <ne-pas-repondre@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Public address of the site, for links in e-mails (e.g. https://cerisepro.example.org).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000" if DEBUG else "").rstrip("/")

# Links to choose a password (welcome e-mail, reset by the administrator, "Mot de passe oublié ?"):
# valid once, for 3 days (a weekend between the account's creation and its first use).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 60 * 60)
# "Mot de passe oublié ?" is throttled in the cache (accounts.password_reset): this many requests per
# e-mail address, and per client address, in each window (docs/accounts.md §Password reset).
PASSWORD_RESET_PER_ADDRESS = env.int("PASSWORD_RESET_PER_ADDRESS", default=3)
PASSWORD_RESET_PER_CLIENT = env.int("PASSWORD_RESET_PER_CLIENT", default=20)
PASSWORD_RESET_WINDOW_MINUTES = env.int("PASSWORD_RESET_WINDOW_MINUTES", default=60)
# The cache holds those counters. Per process by default; with several workers (gunicorn), share
# it: CACHE_URL=redis://127.0.0.1:6379/1.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# Security headers. HTTPS-only settings are on whenever DEBUG is off.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 60 * 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# A session left idle this long ends (accounts.middleware.IdleTimeoutMiddleware).
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=30)
# Sensitive actions (transfer switch, manual authorisation, second-factor changes) need the
# password (and the second factor) typed within this many minutes (accounts.reauth).
REAUTHENTICATION_MINUTES = env.int("REAUTHENTICATION_MINUTES", default=10)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy (django-csp): nothing inline, nothing from elsewhere. Every page of the
# site satisfies it (tests/security/test_csp_browser.py); scripts and styles are static files.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# Login throttling (django-axes), counted per account and per address separately
# (cerisepro.security.LoginThrottleHandler): 5 failures for one username, from any addresses, lock
# that account; 30 failures from one address, over any usernames, lock that address (high enough
# for a school's pupils behind one NAT address, low enough to stop a sweep over many accounts).
# A lock lasts 15 minutes from the failure that set it: attempts during a lock do not extend it.
AXES_HANDLER = "cerisepro.security.LoginThrottleHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_IP_FAILURE_LIMIT = env.int("AXES_IP_FAILURE_LIMIT", default=30)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "cerisepro.security.lockout_response"  # French page, 429
AXES_CLIENT_IP_CALLABLE = "cerisepro.security.client_ip"
# Addresses (or networks) of the reverse proxies whose X-Forwarded-For is believed; from anyone
# else the header is ignored. Behind a TLS proxy on the same machine: the loopback addresses.
TRUSTED_PROXIES = env.list(
    "TRUSTED_PROXIES", default=["127.0.0.1", "::1"] if env.bool("BEHIND_TLS_PROXY", default=False) else []
)

# Second factor (django-otp): TOTP applications and recovery codes (accounts app).
OTP_TOTP_ISSUER = "cerisepro"
# Staff may not read other staff's TOTP secrets or recovery codes in the admin.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Log-in connectors (sso app, docs/connexion.md). The ENTs an administrator picks from in
# *Paramètres › Connexion* (key → name, CAS server address); any other https address may be typed.
# Examples: the project team of each region confirms its address (docs/connexion.md §ENT).
CERISEPRO_KNOWN_ENTS = {
    "monlycee": ("Île-de-France — monlycee.net", "https://ent.iledefrance.fr/cas/"),
    "lyceeconnecte": ("Nouvelle-Aquitaine — Lycée connecté", "https://mon.lyceeconnecte.fr/cas/"),
    "eclat-bfc": ("Bourgogne-Franche-Comté — ECLAT-BFC", "https://cas.eclat-bfc.fr/"),
    "monbureaunumerique": ("Grand Est — Mon Bureau Numérique", "https://cas.monbureaunumerique.fr/"),
    "ent-auvergnerhonealpes": (
        "Auvergne-Rhône-Alpes — ENT Auvergne-Rhône-Alpes",
        "https://cas.ent.auvergnerhonealpes.fr/",
    ),
}
# CAS servers and OpenID providers over plain http: only for development and the test suite's
# fixture servers; production requires https.
SSO_ALLOW_HTTP = env.bool("SSO_ALLOW_HTTP", default=DEBUG)
# Seconds a call to the ENT or to ProConnect may take (a server down must not hang the login).
SSO_HTTP_TIMEOUT = env.int("SSO_HTTP_TIMEOUT", default=10)
# ProConnect (OpenID Connect) for technical staff; off while PROCONNECT_DISCOVERY_URL is empty.
# The discovery address (…/.well-known/openid-configuration) is given with the client id by ProConnect.
PROCONNECT_DISCOVERY_URL = env.str("PROCONNECT_DISCOVERY_URL", default="")
PROCONNECT_CLIENT_ID = env.str("PROCONNECT_CLIENT_ID", default="")
PROCONNECT_CLIENT_SECRET = env.str("PROCONNECT_CLIENT_SECRET", default="")
PROCONNECT_SCOPES = env.str("PROCONNECT_SCOPES", default="openid email given_name usual_name")
# Optional acr_values sent to ProConnect (e.g. "eidas1"); the local second factor applies anyway.
PROCONNECT_ACR_VALUES = env.str("PROCONNECT_ACR_VALUES", default="")

# Celery. Default: kombu's filesystem transport under var/, so no broker server is needed.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    # A Redis that does not answer must not hang the page that enqueues the task after an import.
    else {"socket_connect_timeout": 3}
    if CELERY_BROKER_URL.startswith("redis")
    else {}
)
if CELERY_BROKER_URL.startswith("filesystem"):
    for folder in CELERY_BROKER_TRANSPORT_OPTIONS.values():
        if isinstance(folder, str):
            Path(folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# All periodic jobs, declared here and only here (times are Europe/Paris, CELERY_TIMEZONE).
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # The nightly matching job: decides every pair that meets the conditions and copies the
    # passports. At night, after the usual evening SIECLE exports and before the school day.
    "transfers-nightly-matching": {
        "task": "transfers.run_matching",
        "schedule": crontab(hour=env.int("MATCHING_HOUR", default=2), minute=30),
        "kwargs": {"trigger": "beat"},
        "options": {"expires": 6 * 60 * 60},
    },
    # Reminders about waiting passports (docs/transfers.md §9): daily, after the matching job, so
    # that what it just decided no longer waits; each e-mail is recorded once per week or pair.
    "transfers-reminders": {
        "task": "transfers.send_reminders",
        "schedule": crontab(hour=7, minute=0),
        "options": {"expires": 6 * 60 * 60},
    },
    # GDPR retention: purges the students deactivated more than STUDENT_RETENTION_YEARS years ago.
    # Nightly at 03:30, after the matching job; it only touches students gone for years.
    "students-retention-purge": {
        "task": "students.purge_expired",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": 6 * 60 * 60},
    },
}
# Years (calendar, Paris time) a school keeps a departed student's records (privacy.retention).
STUDENT_RETENTION_YEARS = env.int("STUDENT_RETENTION_YEARS", default=3)
# One SIECLE import that would pull more passports than this from other schools is held for review
# by technical staff instead of copied at once (docs/transfers.md §4, SECURITY.md).
TRANSFER_HOLD_ABOVE = env.int("TRANSFER_HOLD_ABOVE", default=30)
# Days after the copy during which technical staff may undo a transfer (transfers.undo,
# docs/transfers.md "Undoing a transfer").
TRANSFER_UNDO_DAYS = env.int("TRANSFER_UNDO_DAYS", default=30)
# Technical staff alerted of pairs held for review and of errors reported by schools (besides the
# active staff accounts that have an e-mail address).
ADMINS = [("cerisepro support", email) for email in env.list("SUPPORT_EMAILS", default=[])]

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        # 403s and 404s are answers, not errors: their log line stays, their traceback goes.
        "expected_refusals": {"()": "cerisepro.security_log.ExpectedRefusalFilter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        **{
            name: {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}
            for name in ("cerisepro", "accounts", "establishments", "students", "transfers")
        },
        # The security log (cerisepro.security_log): logins, lockouts, refusals, exports, staff
        # reads. User ids, UAIs and paths only, never a name or an INE.
        "cerisepro.security": {
            "handlers": ["console"],
            "level": env.str("SECURITY_LOG_LEVEL", default="INFO"),
            "propagate": False,
        },
        "django.request": {"filters": ["expected_refusals"]},
    },
}

"""dchweb settings: every value comes from an environment variable.

Defaults are for development on the devstack. `DCHWEB_PRODUCTION=1` turns the
unsafe defaults into errors (no secret key: refuse to start) and forces debug
off. The README's configuration table lists the variables users set most.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from dchweb.envfile import load_env_defaults

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

# A process started outside `devstack/exec` still finds the devstack's Redis,
# engine and registry; variables set in the environment win.
load_env_defaults(Path(os.environ.get("DCHWEB_DEVSTACK_ENV", VAR_DIR / "devstack/env")))

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name, default=""):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in TRUE_WORDS:
        return True
    if raw.strip().lower() in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1 or 0)")


def env_int(name, default):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_list(name, default=""):
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


# --- Core -------------------------------------------------------------------

PRODUCTION = env_bool("DCHWEB_PRODUCTION")
DEVELOPMENT_SECRET_KEY = "dchweb-development-only-secret-key-do-not-use-in-production"
SECRET_KEY = env_str("DCHWEB_SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "DCHWEB_PRODUCTION is set but DCHWEB_SECRET_KEY is not: refusing to start"
        )
    SECRET_KEY = DEVELOPMENT_SECRET_KEY

DEBUG = False if PRODUCTION else env_bool("DCHWEB_DEBUG", default=True)
# Django's own error pages (a traceback on a 500, every URL pattern on a 404)
# only when asked for: with DEBUG on and this off, as in `make run`, anyone who
# reaches the dashboard still gets the project's 404, 400 and 500 pages
# (hosts.middleware.ProjectErrorPagesMiddleware). DCHWEB_DEBUG_PAGES=1 is for
# debugging on one's own machine (README, "Debugging").
DCHWEB_DEBUG_PAGES = DEBUG and env_bool("DCHWEB_DEBUG_PAGES")
ALLOWED_HOSTS = env_list("DCHWEB_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DCHWEB_CSRF_TRUSTED_ORIGINS")
# A POST the CSRF check refuses gets the dashboard's 403 page in words, not
# Django's (which, with DEBUG on, explains the project's settings).
CSRF_FAILURE_VIEW = "hosts.web.errors.csrf_failure"

# --- Security headers and HTTPS ------------------------------------------------

# Served over TLS only (design.md §4.4; docs/deploy.md): HSTS, every plain-HTTP
# request redirected to https, cookies marked Secure.
HTTPS = env_bool("DCHWEB_HTTPS")
SESSION_COOKIE_SECURE = env_bool("DCHWEB_SECURE_COOKIES", default=PRODUCTION or HTTPS)
if HTTPS and not SESSION_COOKIE_SECURE:
    raise ImproperlyConfigured(
        "DCHWEB_HTTPS=1 with DCHWEB_SECURE_COOKIES=0: cookies over HTTPS must be secure"
    )
# Behind a reverse proxy that terminates TLS and sets X-Forwarded-Proto
# (docs/deploy.md); only then may the header be believed.
if env_bool("DCHWEB_BEHIND_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = HTTPS
# A load balancer's health check asks the backend over plain HTTP, without the
# proxy's X-Forwarded-Proto: a redirect to https would count as "down".
# /healthz takes no cookie and no credential, so it answers on either scheme.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = 365 * 24 * 3600 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
# Off unless asked: the preload list is built into browsers, covers the whole
# registered domain (every subdomain, other services too) and takes months to
# leave; that is the domain owner's decision, not one dchweb's settings make.
SECURE_HSTS_PRELOAD = HTTPS and env_bool("DCHWEB_HSTS_PRELOAD")
# Django's deploy check asks for preload whenever HSTS is on (security.W021);
# without preload that is the decision above, not an oversight.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Sent on every response by hosts.middleware.ContentSecurityPolicyMiddleware.
# No inline script or style anywhere: htmx runs with allowEval off and no
# injected indicator style (the htmx-config meta in templates/base.html), the
# pages' own code is static/js/dchweb.js, the styles static/css/dchweb.css.
# img-src data: is for the icons Swagger UI's stylesheet (/api/v1/docs) draws
# from data: URLs.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
    ]
)

# Secrets at rest (registry passwords, private keys). A comma-separated list of
# Fernet keys: the first encrypts, all decrypt, so keys can rotate. Empty means
# a key derived from SECRET_KEY (see hosts/crypto.py).
DCHWEB_ENCRYPTION_KEY = env_str("DCHWEB_ENCRYPTION_KEY")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    # Serves the Swagger UI files for /api/v1/docs locally: no CDN.
    "ninja",
    # Login throttling (AXES_* under Auth); its tables hold the failed sign-ins.
    "axes",
    "hosts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outside WhiteNoise and the early refusals, so every answer carries it.
    "hosts.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "hosts.middleware.ApiErrorsAsJsonMiddleware",
    "hosts.middleware.RequestSizeLimitMiddleware",
    "hosts.middleware.NulInQueryRefusedMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before the login check, so an unknown URL is the 404 page for everyone.
    "hosts.middleware.ProjectErrorPagesMiddleware",
    "hosts.middleware.LoginRequiredExceptPublicPathsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After MessageMiddleware, so it sees the messages before they are stored.
    "hosts.middleware.HtmxMessagesMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a sign-in that axes refused into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dchweb.urls"
WSGI_APPLICATION = "dchweb.wsgi.application"

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
                "hosts.context_processors.navigation",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------

SQLITE_PATH = Path(env_str("DCHWEB_SQLITE_PATH", str(VAR_DIR / "dchweb.sqlite3")))
# The test database is a file, not :memory:, because the integration tests'
# Celery worker is another process and must see the same rows. One file per
# test run, so two runs in one checkout never share (and wipe) a database.
TEST_SQLITE_PATH = Path(
    env_str("DCHWEB_TEST_SQLITE_PATH", str(VAR_DIR / f"test-{os.getpid()}.sqlite3"))
)

# A request or task keeps its database connection for up to this many
# seconds (checked before reuse): opening one costs more CPU than a page's
# queries, on SQLite (its PRAGMAs) as on PostgreSQL.
DB_CONN_MAX_AGE = env_int("DCHWEB_DB_CONN_MAX_AGE", 60)

if env_str("DATABASE_URL"):
    DATABASES = {
        "default": dj_database_url.parse(
            env_str("DATABASE_URL"),
            conn_max_age=DB_CONN_MAX_AGE,
            conn_health_checks=True,
        )
    }
else:
    # SQLite refuses to create a database in a folder that does not exist,
    # and on a fresh clone var/ does not.
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    TEST_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "CONN_MAX_AGE": DB_CONN_MAX_AGE,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                # WAL lets the web server read while the worker writes;
                # IMMEDIATE takes the write lock at BEGIN, so two writers wait
                # for each other (up to `timeout` seconds) instead of failing
                # with "database is locked" half-way through a transaction.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            "TEST": {"NAME": TEST_SQLITE_PATH},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -------------------------------------------------------------------

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
# Paths a visitor reaches without a session. The API authenticates each call
# with a bearer token; /metrics accepts a session or a token (hosts/views.py).
LOGIN_EXEMPT_PATH_PREFIXES = (
    "/healthz",
    "/metrics",
    "/accounts/login/",
    "/static/",
    "/api/",
)

# axes first: it refuses a locked-out sign-in before any backend checks the
# password. Programmatic authenticate() calls must pass the request.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Login throttling (django-axes). DCHWEB_LOGIN_FAILURE_LIMIT failed sign-ins
# for one user name from one address (REMOTE_ADDR, as the audit trail reads
# it) lock that name at that address for DCHWEB_LOGIN_LOCKOUT_MINUTES; the
# same name elsewhere and other names at that address still sign in. Every
# failure during the lockout starts the wait again; a good sign-in clears the
# count. The count lives in axes' tables, shared by all web processes. API
# bearer tokens never pass through here. The lockout is the login page with
# the reason (status 429); hosts/accounts/signals.py audits it.
AXES_FAILURE_LIMIT = env_int("DCHWEB_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("DCHWEB_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Sign-ins are audited by dchweb where it matters (lockouts); no second log of
# every successful one in axes' AccessLog table.
AXES_DISABLE_ACCESS_LOG = True
# No "AXES: BEGIN version ..." line at every start: the log goes to stdout,
# where a management command's output (a token, a password) is read.
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# The longest life an API token may be given (days); a new one lives 90 days
# unless asked otherwise (hosts/accounts/commands.py).
DCHWEB_API_TOKEN_MAX_DAYS = env_int("DCHWEB_API_TOKEN_MAX_DAYS", 365)

# --- Directory sign-in (LDAP / Active Directory) -------------------------------

# Off while DCHWEB_LDAP_SERVER_URI is empty. On: hosts.accounts.directory's
# backend (django-auth-ldap) is asked before ModelBackend, so local accounts
# (`admin`) still sign in, also while the directory is down. A person's user
# is made at their first directory sign-in; at every one, the Django groups
# `developers` and `admins` are set to their membership of the two LDAP groups
# below, and someone in neither may not sign in. The groups must be found by
# the group search (under DCHWEB_LDAP_GROUP_BASE). docs/deploy.md has an
# Active Directory example; the devstack runs an OpenLDAP (var/devstack/env).
LDAP_SERVER_URI = env_str("DCHWEB_LDAP_SERVER_URI").strip()
if LDAP_SERVER_URI:
    import ldap
    from django_auth_ldap import config as ldap_config

    def _ldap_bind_password():
        path = env_str("DCHWEB_LDAP_BIND_PASSWORD_FILE")
        if not path:
            return env_str("DCHWEB_LDAP_BIND_PASSWORD")
        try:
            return Path(path).read_text().strip()
        except OSError as error:
            raise ImproperlyConfigured(
                f"DCHWEB_LDAP_BIND_PASSWORD_FILE={path!r}: {error.strerror}"
            ) from None

    LDAP_GROUP_TYPES = {
        "groupOfNames": lambda: ldap_config.GroupOfNamesType(),
        "nestedGroupOfNames": lambda: ldap_config.NestedGroupOfNamesType(),
        "groupOfUniqueNames": lambda: ldap_config.GroupOfUniqueNamesType(),
        "activeDirectory": lambda: ldap_config.ActiveDirectoryGroupType(),
        "nestedActiveDirectory": lambda: ldap_config.NestedActiveDirectoryGroupType(),
        "posixGroup": lambda: ldap_config.PosixGroupType(),
    }
    _ldap_group_type = env_str("DCHWEB_LDAP_GROUP_TYPE", "groupOfNames")
    if _ldap_group_type not in LDAP_GROUP_TYPES:
        raise ImproperlyConfigured(
            f"DCHWEB_LDAP_GROUP_TYPE={_ldap_group_type!r}: use one of "
            + ", ".join(LDAP_GROUP_TYPES)
        )
    _ldap_user_base = env_str("DCHWEB_LDAP_USER_BASE")
    _ldap_group_base = env_str("DCHWEB_LDAP_GROUP_BASE")
    # Django group -> the DN of the LDAP group whose members are in it.
    DCHWEB_LDAP_GROUPS = {
        "developers": env_str("DCHWEB_LDAP_DEVELOPERS_GROUP"),
        "admins": env_str("DCHWEB_LDAP_ADMINS_GROUP"),
    }
    _ldap_missing = [
        name
        for name, value in [
            ("DCHWEB_LDAP_USER_BASE", _ldap_user_base),
            ("DCHWEB_LDAP_GROUP_BASE", _ldap_group_base),
            ("DCHWEB_LDAP_DEVELOPERS_GROUP", DCHWEB_LDAP_GROUPS["developers"]),
            ("DCHWEB_LDAP_ADMINS_GROUP", DCHWEB_LDAP_GROUPS["admins"]),
        ]
        if not value
    ]
    if _ldap_missing:
        raise ImproperlyConfigured(
            "DCHWEB_LDAP_SERVER_URI is set but not " + ", ".join(_ldap_missing)
        )

    AUTH_LDAP_SERVER_URI = LDAP_SERVER_URI
    AUTH_LDAP_BIND_DN = env_str("DCHWEB_LDAP_BIND_DN")
    AUTH_LDAP_BIND_PASSWORD = _ldap_bind_password()
    AUTH_LDAP_USER_SEARCH = ldap_config.LDAPSearch(
        _ldap_user_base,
        ldap.SCOPE_SUBTREE,
        env_str("DCHWEB_LDAP_USER_FILTER", "(uid=%(user)s)"),
    )
    AUTH_LDAP_USER_ATTR_MAP = {
        "first_name": "givenName",
        "last_name": "sn",
        "email": "mail",
    }
    AUTH_LDAP_GROUP_SEARCH = ldap_config.LDAPSearch(
        _ldap_group_base,
        ldap.SCOPE_SUBTREE,
        env_str("DCHWEB_LDAP_GROUP_FILTER", "(objectClass=groupOfNames)"),
    )
    AUTH_LDAP_GROUP_TYPE = LDAP_GROUP_TYPES[_ldap_group_type]()
    AUTH_LDAP_REQUIRE_GROUP = ldap_config.LDAPGroupQuery(
        DCHWEB_LDAP_GROUPS["developers"]
    ) | ldap_config.LDAPGroupQuery(DCHWEB_LDAP_GROUPS["admins"])
    AUTH_LDAP_ALWAYS_UPDATE_USER = True
    AUTH_LDAP_START_TLS = env_bool("DCHWEB_LDAP_START_TLS")
    _ldap_timeout = env_int("DCHWEB_LDAP_TIMEOUT", 5)
    AUTH_LDAP_CONNECTION_OPTIONS = {
        # Active Directory answers with referrals python-ldap would chase.
        ldap.OPT_REFERRALS: 0,
        # A directory that does not answer holds a sign-in this long at most.
        ldap.OPT_NETWORK_TIMEOUT: _ldap_timeout,
        ldap.OPT_TIMEOUT: _ldap_timeout,
    }
    if env_str("DCHWEB_LDAP_CA_FILE"):
        # The CA that signed the directory's certificate (ldaps:// or StartTLS);
        # the last option makes a new TLS context with the ones before it.
        AUTH_LDAP_CONNECTION_OPTIONS |= {
            ldap.OPT_X_TLS_CACERTFILE: env_str("DCHWEB_LDAP_CA_FILE"),
            ldap.OPT_X_TLS_REQUIRE_CERT: ldap.OPT_X_TLS_DEMAND,
            ldap.OPT_X_TLS_NEWCTX: 0,
        }
    # Before ModelBackend; django-axes' backend, when listed, stays first.
    AUTHENTICATION_BACKENDS.insert(
        AUTHENTICATION_BACKENDS.index("django.contrib.auth.backends.ModelBackend"),
        "hosts.accounts.directory.DirectoryBackend",
    )

# --- I18n -------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("DCHWEB_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production serves what `collectstatic` wrote to STATIC_ROOT, with hashed
# names; development serves straight from the source folders (finders), so it
# has no collect step and no STATIC_ROOT.
STATIC_ROOT = BASE_DIR / "staticfiles" if PRODUCTION else None
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Build hosts ---------------------------------------------------------------

# The image a build host runs when neither the request nor the endpoint names
# one; the devstack's env file sets it to its own dch-photon-like image.
DCHWEB_BUILD_HOST_IMAGE = env_str("DCHWEB_BUILD_HOST_IMAGE", "")
DCHWEB_MAX_BUILD_HOSTS_PER_USER = env_int("DCHWEB_MAX_BUILD_HOSTS_PER_USER", 5)
# Labels every engine object; empty: generated once and kept in the database.
DCHWEB_INSTALLATION_ID = env_str("DCHWEB_INSTALLATION_ID", "")
# How long a build host may take to answer /_ping after its start.
DCHWEB_READY_TIMEOUT_SECONDS = env_int("DCHWEB_READY_TIMEOUT", 120)
# The reconciler leaves anything younger than this alone.
DCHWEB_RECONCILE_GRACE_SECONDS = env_int("DCHWEB_RECONCILE_GRACE", 120)
DCHWEB_RECONCILE_INTERVAL_SECONDS = env_int("DCHWEB_RECONCILE_INTERVAL", 60)
# Minutes without activity inside a build host before it is stopped (its
# volumes kept, resumable), unless the host or its endpoint says: 0 = never.
DCHWEB_IDLE_MINUTES = env_int("DCHWEB_IDLE_MINUTES", 60)
# An owner is told (build_host.expiring) this long before their host expires;
# 0: never. Checked by the reconciler's pass, at its interval.
DCHWEB_EXPIRY_NOTICE_MINUTES = env_int("DCHWEB_EXPIRY_NOTICE_MINUTES", 60)

# --- Builds ------------------------------------------------------------------------

# Build contexts and logs live here as files (streamed, never loaded whole).
# Web and workers must share it: on several machines, a shared mount.
DCHWEB_DATA_DIR = Path(env_str("DCHWEB_DATA_DIR", str(VAR_DIR / "data")))
DCHWEB_MAX_CONTEXT_BYTES = env_int("DCHWEB_MAX_CONTEXT_BYTES", 512 * 1024 * 1024)
DCHWEB_MAX_CONTEXT_UNPACKED_BYTES = env_int(
    "DCHWEB_MAX_CONTEXT_UNPACKED_BYTES", 4 * 1024 * 1024 * 1024
)

# --- Volume ledger -----------------------------------------------------------------

DCHWEB_VOLUME_REFRESH_INTERVAL_SECONDS = env_int("DCHWEB_VOLUME_REFRESH_INTERVAL", 300)
# Off (0) unless set: remove this installation's orphaned volumes older than
# this many days, with the same plan and audit trail as an admin's clean-up.
DCHWEB_REAP_ORPHANED_VOLUMES_DAYS = env_int("DCHWEB_REAP_ORPHANED_VOLUMES_DAYS", 0)
# What one person may keep in volumes (cache volumes, and what their removed
# build hosts left), in GB of 10^9 bytes: warned at 80 %, asking to keep more
# refused at 100 % (hosts/volumes/budgets.py). 0: no budget.
DCHWEB_USER_BUDGET_GB = env_int("DCHWEB_USER_BUDGET_GB", 50)
# Warm pool and build cache (issue 13): a pool host older than this many
# hours is replaced; each owner's cache volumes are kept under this many GB
# (the least recently used evicted first; 0 = no limit).
DCHWEB_POOL_MAX_AGE_HOURS = env_int("DCHWEB_POOL_MAX_AGE", 24)
DCHWEB_CACHE_BUDGET_GB = env_int("DCHWEB_CACHE_BUDGET_GB", 20)

# --- Mail (issue 14: notifications) -------------------------------------------

# With an SMTP server named, mail goes there; without one (`make run`), each
# mail is written as a file to var/mail/ so a newcomer can read what would
# have been sent. DCHWEB_EMAIL_BACKEND forces one: smtp, file, console, or a
# backend's dotted path.
EMAIL_HOST = env_str("DCHWEB_EMAIL_HOST", "")
EMAIL_PORT = env_int("DCHWEB_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("DCHWEB_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("DCHWEB_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DCHWEB_EMAIL_USE_TLS")
# An unanswering server fails the try (retried later) instead of hanging a worker.
EMAIL_TIMEOUT = env_int("DCHWEB_EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DCHWEB_EMAIL_FROM", "dchweb <dchweb@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_FILE_PATH = Path(env_str("DCHWEB_EMAIL_FILE_PATH", str(VAR_DIR / "mail")))
_EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
}
_email_backend = env_str("DCHWEB_EMAIL_BACKEND", "smtp" if EMAIL_HOST else "file")
EMAIL_BACKEND = _EMAIL_BACKENDS.get(_email_backend, _email_backend)
# A mail that could not be sent is tried again by the periodic pass, at most
# this many tries in all; a notification not dispatched this long after it
# happened (a broker that was down) is dispatched by that pass.
DCHWEB_MAIL_MAX_TRIES = env_int("DCHWEB_MAIL_MAX_TRIES", 3)
# Where people open dchweb: a mail's links to the object's page start here.
DCHWEB_PUBLIC_URL = env_str("DCHWEB_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
DCHWEB_NOTIFICATION_GRACE_SECONDS = env_int("DCHWEB_NOTIFICATION_GRACE", 60)
# An uploaded certificate this close to its end is announced to the admins, once.
DCHWEB_CERT_EXPIRY_NOTICE_DAYS = env_int("DCHWEB_CERT_EXPIRY_NOTICE_DAYS", 30)

# --- Webhooks (issue 14: notifications) ---------------------------------------

# A receiver gets this long to answer each POST; a failed try waits this long
# before the next, doubling up to 60 times as long (1 minute ... 1 hour).
DCHWEB_WEBHOOK_TIMEOUT_SECONDS = env_int("DCHWEB_WEBHOOK_TIMEOUT", 10)
DCHWEB_WEBHOOK_RETRY_SECONDS = env_int("DCHWEB_WEBHOOK_RETRY_SECONDS", 60)

# --- Celery: where it runs (its task policy is in dchweb/celery.py) ----------

REDIS_URL = env_str("DCHWEB_REDIS_URL", "redis://127.0.0.1:6379/0")


def cache_settings(url):
    """The volume ledger's totals are cached (hosts/volumes.py). Unset: in
    each process's memory, so each web process computes them once per change
    of the ledger. Several web processes or machines: one Redis for all
    (redis://host:6379/1, or a unix socket, unix:///path/redis.sock?db=1 or
    Celery's redis+socket:///path/redis.sock)."""
    if not url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    if url.startswith("redis+socket://"):
        url = "unix://" + url.removeprefix("redis+socket://")
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "dchweb",
            # A cache that does not answer must not hold a page up.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


CACHES = cache_settings(env_str("DCHWEB_CACHE_URL"))
# The one-time keys of form submissions (hosts/web/submissions.py): a double
# click may reach two web processes, so never a process's own memory: the
# shared cache, else the broker's Redis.
CACHES["submissions"] = cache_settings(env_str("DCHWEB_CACHE_URL") or REDIS_URL)[
    "default"
]
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = env_str("DCHWEB_RESULT_BACKEND_URL", REDIS_URL)
CELERY_TASK_DEFAULT_QUEUE = env_str("DCHWEB_TASK_QUEUE", "dchweb")
# Periodic tasks, run by `celery -A dchweb beat`.
ENDPOINT_PROBE_INTERVAL_SECONDS = env_int("DCHWEB_ENDPOINT_PROBE_INTERVAL", 60)
CELERY_BEAT_SCHEDULE = {
    "probe-endpoints": {
        "task": "hosts.tasks.probe_endpoints",
        "schedule": float(ENDPOINT_PROBE_INTERVAL_SECONDS),
        # A probe older than its interval says nothing new: drop, don't pile up.
        "options": {"expires": float(ENDPOINT_PROBE_INTERVAL_SECONDS)},
    },
    # The registry trust matrix (endpoint x registry logins): hourly is
    # plenty, an admin rechecks from /registries/ after changing a VCH.
    "check-registry-trust": {
        "task": "hosts.tasks.check_registry_trust",
        "schedule": float(env_int("DCHWEB_REGISTRY_TRUST_INTERVAL", 3600)),
        "options": {"expires": 3600.0},
    },
    "refresh-volumes": {
        "task": "hosts.tasks.refresh_volumes",
        "schedule": float(DCHWEB_VOLUME_REFRESH_INTERVAL_SECONDS),
        "options": {"expires": float(DCHWEB_VOLUME_REFRESH_INTERVAL_SECONDS)},
    },
    # Per endpoint, one at a time under a lease (hosts/reconciler.py); also
    # reaps expired build hosts and resumes provisions a dead worker left.
    "reconcile-endpoints": {
        "task": "hosts.tasks.reconcile_endpoints",
        "schedule": float(DCHWEB_RECONCILE_INTERVAL_SECONDS),
        "options": {"expires": float(DCHWEB_RECONCILE_INTERVAL_SECONDS)},
    },
}

# --- Logging ----------------------------------------------------------------

LOG_LEVEL = env_str("DCHWEB_LOG_LEVEL", "INFO").upper()
# plain: "… INFO hosts.provisioning [build_host=…] step …"; json: one object
# a line, with the bound ids as fields (hosts/logcontext.py).
LOG_FORMAT = env_str("DCHWEB_LOG_FORMAT", "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "hosts.lib.logcontext.ContextFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(context)s] %(message)s"
        },
        "json": {"()": "hosts.lib.logcontext.JsonFormatter"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
    },
}

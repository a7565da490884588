"""Configuration from the environment (and `.env`), one object per purpose."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The environment does not describe a configuration we may start with."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"STAFF_TIMEZONE {name!r} is not a time zone name such as Europe/Berlin") from exc
    return name


def _psycopg(url: str | None) -> str | None:
    """A postgresql:// URL as SQLAlchemy's name for the psycopg 3 driver (it would pick psycopg2 otherwise)."""
    if url and url.startswith("postgresql://"):
        return url.replace("postgresql://", "postgresql+psycopg://", 1)
    return url


class Config:
    """Settings read once at start-up; production refuses unsafe defaults."""

    def __init__(self) -> None:
        self.KUNDENPULS_ENV = _env("KUNDENPULS_ENV", "development")
        self.production = self.KUNDENPULS_ENV == "production"
        secret = _env("SECRET_KEY")
        if secret is None and self.production:
            raise ConfigError("SECRET_KEY must be set when KUNDENPULS_ENV=production")
        self.SECRET_KEY = secret or secrets.token_hex(32)
        self.SQLALCHEMY_DATABASE_URI = _psycopg(_env("DATABASE_URL")) or (
            f"sqlite:///{ROOT / 'instance' / 'kundenpuls.sqlite3'}"
        )
        # Pooled connections idle longer than this are pinged before use (see kundenpuls/dbpool.py).
        self.DB_PING_IDLE_SECONDS = float(_env("DB_PING_IDLE_SECONDS", "5") or 5)
        self.SMTP_URL = _env("SMTP_URL")
        self.MAIL_FROM = _env("MAIL_FROM", "Kundenpuls <no-reply@localhost>")
        self.BASE_URL = (_env("BASE_URL", "http://127.0.0.1:5000") or "").rstrip("/")
        self.REDIS_URL = _env("REDIS_URL")
        self.SESSION_COOKIE_SECURE = self.production
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_SECURE = self.production
        self.WTF_CSRF_TIME_LIMIT = None
        # Form error messages are our own, translated with Flask-Babel; WTForms would load its catalogs per call.
        self.WTF_I18N_ENABLED = False
        self.BABEL_DEFAULT_LOCALE = "en"
        # Staff pages show times, and count "today", in this time zone (an IANA name).
        self.STAFF_TIMEZONE = _timezone(_env("STAFF_TIMEZONE", "Europe/Berlin") or "Europe/Berlin")
        self.BABEL_DEFAULT_TIMEZONE = self.STAFF_TIMEZONE
        self.BABEL_TRANSLATION_DIRECTORIES = str(ROOT / "translations")
        self.MAX_CONTENT_LENGTH = 2 * 1024 * 1024
        self.OUTBOX_BATCH_SIZE = int(_env("OUTBOX_BATCH_SIZE", "200") or 200)
        self.OUTBOX_CLAIM_TIMEOUT_SECONDS = int(_env("OUTBOX_CLAIM_TIMEOUT_SECONDS", "600") or 600)
        # Accepted mail is recorded in runs of at most this many: what a killed sender may send a second time.
        self.OUTBOX_RECORD_EVERY = max(1, int(_env("OUTBOX_RECORD_EVERY", "10") or 10))
        # Working days per priority until first contact and until resolution (feedback cases).
        self.SLA_FIRST_CONTACT_DAYS = _env("SLA_FIRST_CONTACT_DAYS", "high=1,normal=2,low=5")
        self.SLA_RESOLUTION_DAYS = _env("SLA_RESOLUTION_DAYS", "high=5,normal=10,low=20")
        # Where escalations go besides the managers (a team address); empty: managers only.
        self.ESCALATION_EMAIL = _env("ESCALATION_EMAIL")
        # Sign-in attempts per address and per client IP (Flask-Limiter syntax).
        self.LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "10 per minute;50 per hour")
        # Anonymous survey links: answers per client IP network (/24, /48) and the count per network and link in 24
        # hours beyond which answers are held for a manager's review instead of counted.
        self.ANONYMOUS_RATE_LIMIT = _env("ANONYMOUS_RATE_LIMIT", "10 per minute;60 per hour")
        self.ANONYMOUS_HOLD_AFTER = max(1, int(_env("ANONYMOUS_HOLD_AFTER", "20") or 20))
        self.RATELIMIT_STORAGE_URI = _env("REDIS_URL") or "memory://"
        self.RATELIMIT_HEADERS_ENABLED = True
        self.SMTP_TIMEOUT_SECONDS = float(_env("SMTP_TIMEOUT_SECONDS", "30") or 30)
        # SMTP connections per sender process, each with its own claimed batches (PostgreSQL; SQLite sends over one).
        self.SMTP_CONNECTIONS = min(32, max(1, int(_env("SMTP_CONNECTIONS", "1") or 1)))
        # Connections the nightly segment refresh uses at once on PostgreSQL (slices of 50,000 customers).
        self.SEGMENT_REFRESH_WORKERS = int(_env("SEGMENT_REFRESH_WORKERS", "2") or 2)
        # Webhooks: seconds to wait for a receiver, attempts before a delivery is kept as failed, and how long a
        # claim by a crashed sender blocks a delivery. Plain http:// endpoints only outside production (or if allowed).
        self.WEBHOOK_TIMEOUT_SECONDS = float(_env("WEBHOOK_TIMEOUT_SECONDS", "10") or 10)
        self.WEBHOOK_MAX_ATTEMPTS = int(_env("WEBHOOK_MAX_ATTEMPTS", "12") or 12)
        self.WEBHOOK_CLAIM_TIMEOUT_SECONDS = int(_env("WEBHOOK_CLAIM_TIMEOUT_SECONDS", "300") or 300)
        self.WEBHOOK_ALLOW_HTTP = _env("WEBHOOK_ALLOW_HTTP", "0" if self.production else "1") == "1"
        # Webhook receivers must have public addresses (production default); named hosts may be private (on-premise).
        self.WEBHOOK_BLOCK_PRIVATE = _env("WEBHOOK_BLOCK_PRIVATE", "1" if self.production else "0") == "1"
        self.WEBHOOK_PRIVATE_HOSTS = _env("WEBHOOK_PRIVATE_HOSTS", "") or ""
        # NPS periods with fewer answers are marked "too few answers", and a change between two periods is tested
        # only when both have at least this many.
        self.NPS_MIN_ANSWERS = int(_env("NPS_MIN_ANSWERS", "30") or 30)
        # Purchase-behaviour models: a fit needs this many customers with 2+ purchase days (else it is stored as
        # failed and the previous good fit stays in use); P(alive) below AT_RISK_P_ALIVE makes an active customer
        # "at risk"; the model's CLV looks CLV_HORIZON_MONTHS ahead.
        self.MODEL_MIN_REPEAT_CUSTOMERS = max(1, int(_env("MODEL_MIN_REPEAT_CUSTOMERS", "200") or 200))
        self.AT_RISK_P_ALIVE = float(_env("AT_RISK_P_ALIVE", "0.5") or 0.5)
        self.CLV_HORIZON_MONTHS = max(1, int(_env("CLV_HORIZON_MONTHS", "12") or 12))
        # In production no log line carries a statement's bound values (names, emails, comments): erasure cannot
        # reach log files.
        self.SQLALCHEMY_ENGINE_OPTIONS = {"hide_parameters": self.production}
        # A PostgreSQL streaming replica for report pages and exports (kundenpuls.replica); writes stay on the primary.
        self.REPORTS_DATABASE_URL = _psycopg(_env("REPORTS_DATABASE_URL"))
        self.REPORTS_LAG_WARN_SECONDS = float(_env("REPORTS_LAG_WARN_SECONDS", "5") or 5)
        # Logs: JSON lines with request ids in production (text otherwise), one access line per request there.
        self.LOG_FORMAT = _env("LOG_FORMAT", "json" if self.production else "text")
        self.LOG_LEVEL = (_env("LOG_LEVEL", "INFO") or "INFO").upper()
        self.ACCESS_LOG = _env("ACCESS_LOG", "1" if self.production else "0") == "1"
        # Proxies in front that set X-Forwarded-For/-Proto/-Host (load balancer: 1); their values are then trusted.
        self.PROXY_HOPS = int(_env("PROXY_HOPS", "0") or 0)
        # /metrics asks for this bearer token when set (the metrics name no customer, but need not be public).
        self.METRICS_TOKEN = _env("METRICS_TOKEN")
        # Customers' comments older than this many months are erased by the scheduler (0: kept).
        self.COMMENT_RETENTION_MONTHS = int(_env("COMMENT_RETENTION_MONTHS", "0") or 0)
        # Text responses compressed (Brotli, else gzip) by the app; 0 when the web server in front compresses.
        self.COMPRESS_REGISTER = _env("COMPRESS_RESPONSES", "1") == "1"
        self.COMPRESS_ALGORITHM = ["br", "gzip"]
        self.COMPRESS_ALGORITHM_STREAMING = ["br", "deflate"]
        self.COMPRESS_BR_LEVEL = 4
        self.COMPRESS_LEVEL = 6
        self.COMPRESS_MIMETYPES = [
            "text/html",
            "text/css",
            "text/plain",
            "text/csv",
            "text/javascript",
            "application/javascript",
            "application/json",
            "application/problem+json",
            "image/svg+xml",
            "image/x-icon",
        ]
        if (
            self.production
            and self.SQLALCHEMY_DATABASE_URI.startswith("sqlite")
            and not _env("KUNDENPULS_ALLOW_SQLITE")
        ):
            raise ConfigError(
                "SQLite is not for production: set DATABASE_URL to PostgreSQL "
                "(or KUNDENPULS_ALLOW_SQLITE=1 for a single-machine install)"
            )

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}


def load_config(overrides: dict | None = None) -> dict:
    """Read `.env` (if present) and the environment, then apply explicit overrides."""
    from dotenv import load_dotenv

    load_dotenv(ROOT / ".env", override=False)
    config = Config().as_dict()
    config.update(overrides or {})
    return config

"""Extensions, created unbound and bound to the app inside the factory."""

import functools
from collections.abc import Callable

from flask import Flask, Request, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from kundenpuls.replica import RoutingSession

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Report requests may read from a replica (kundenpuls.replica); every other statement goes to DATABASE_URL.
db = SQLAlchemy(model_class=Base, session_options={"class_": RoutingSession})
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
# Brotli/gzip for text responses: flask-compress is maintained and handles Accept-Encoding, Vary, ETags and
# streamed CSV exports, which a hand-written after_request would have to get right one by one.
compress = Compress()
# Counters live in Redis when REDIS_URL is set (shared by all workers and hosts), else in process memory.
limiter = Limiter(key_func=get_remote_address)
# Survey pages are authorised by 192-bit tokens (nothing to guess) and are the hot path; health checks are
# polled. Flask-Limiter's request hooks (a check before, headers after, a context reset at teardown) skip them.
UNLIMITED_BLUEPRINTS = frozenset({"surveys", "health"})
# Single endpoints as hot (the web widget's check, on every page view of a shop), named by exempt_from_limits.
_UNLIMITED_ENDPOINTS: set[str] = set()


def exempt_from_limits(endpoint: str) -> None:
    """The endpoint skips the limiter's hooks: it takes no limit and costs no more than checking one would."""
    _UNLIMITED_ENDPOINTS.add(endpoint)


def init_limiter(app: Flask) -> None:
    """Bind the limiter; the app-wide hooks it registers do nothing for UNLIMITED_BLUEPRINTS.

    A request filter would still run all three hooks (about a twentieth of an answer's time), so the hooks
    themselves are wrapped: whatever Flask-Limiter registers in init_app is found by comparing the hook lists.
    """
    registries = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
    before = [list(registry.get(None, ())) for registry in registries]
    limiter.init_app(app)
    for registry, old in zip(registries, before, strict=True):
        if None in registry:
            registry[None] = [hook if hook in old else _skipping_unlimited(hook) for hook in registry[None]]


def _skipping_unlimited(hook: Callable) -> Callable:
    """The hook, except for requests to unlimited blueprints: those get their first argument back (the response
    for an after-request hook; nothing for the other two)."""

    @functools.wraps(hook)
    def scoped(*args):
        if request.blueprint in UNLIMITED_BLUEPRINTS or request.endpoint in _UNLIMITED_ENDPOINTS:
            return args[0] if args else None
        return hook(*args)

    return scoped


class CookielessSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, without building the signing serializer for requests that bring no
    session cookie (survey answers, API calls): they get an empty session, exactly what Flask would give them."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)

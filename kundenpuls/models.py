"""Staff accounts and API keys: the shell's own tables."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from kundenpuls.extensions import db
from kundenpuls.timeutil import UTCDateTime

ROLES = ("agent", "manager", "admin")
ROLE_LABELS = {"agent": _l("agent"), "manager": _l("manager"), "admin": _l("admin")}


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Part of the session's user id: a new value at sign-out makes every old session cookie worthless.
    session_token: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_urlsafe(24))

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def end_sessions(self) -> None:
        self.session_token = secrets.token_urlsafe(24)

    def set_password(self, password: str) -> None:
        # werkzeug's scrypt: a maintained, salted, memory-hard hash.
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @staticmethod
    def password_matches(user: User | None, password: str) -> bool:
        """Check the password, spending the same scrypt work when there is no such user: the sign-in's answer
        time must not tell which addresses have an account."""
        if user is None:
            check_password_hash(_unknown_user_hash(), password)
            return False
        return user.check_password(password)

    def has_role(self, role: str) -> bool:
        """Roles are ordered: agent < manager < admin."""
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return self.active


class ApiKey(db.Model):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(12))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @staticmethod
    def hash_key(key: str) -> str:
        # Keys are 256-bit random: a fast hash is enough and keeps lookups indexed.
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def generate() -> str:
        return "kp_" + secrets.token_urlsafe(32)


@functools.cache
def _unknown_user_hash() -> str:
    return generate_password_hash(secrets.token_hex(16), method="scrypt")

"""Staff accounts managed by admins: invite by email, change a role, deactivate, each audited.

An invitation is a set-password link: a token signed with SECRET_KEY (itsdangerous, time-stamped) that names the
account and a fingerprint of its current session token. Setting the password ends every session of the account
and so spends the link: a link works once and for `INVITE_HOURS`. Deactivating ends the account's sessions at
once (its session cookies carry the old session token, which the user loader no longer accepts).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kundenpuls import audit
from kundenpuls.models import ROLES, User
from kundenpuls.passwords import password_problem

INVITE_HOURS = 72
_SALT = "kundenpuls-set-password"


class StaffError(ValueError):
    """A change an admin may not make (the message says why)."""


class LinkInvalid(ValueError):
    """The set-password link is unknown, used or expired (`expired` tells which)."""

    def __init__(self, expired: bool = False):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _fingerprint(user: User) -> str:
    """Names the account's current session token without showing it (the link is readable, only signed)."""
    return hashlib.sha256(user.session_token.encode()).hexdigest()[:32]


def set_password_token(user: User) -> str:
    return _serializer().dumps([user.id, _fingerprint(user)])


def user_for_token(session: Session, token: str) -> User:
    """The account a set-password link is for; LinkInvalid when it was used, is forged or has expired."""
    try:
        user_id, fingerprint = _serializer().loads(token, max_age=INVITE_HOURS * 3600)
    except SignatureExpired as exc:
        raise LinkInvalid(expired=True) from exc
    except (BadSignature, ValueError, TypeError) as exc:
        raise LinkInvalid() from exc
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or not secrets.compare_digest(_fingerprint(user), str(fingerprint)):
        raise LinkInvalid()
    return user


def find_user(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(func.lower(User.email) == email.strip().lower())).one_or_none()


def invite(session: Session, email: str, name: str | None, role: str, actor: User, now: datetime) -> User:
    """A new account without a usable password; the caller mails `set_password_token(user)`. Inviting an
    existing inactive account again reactivates it with the role given."""
    if role not in ROLES:
        raise StaffError("unknown role")
    user = find_user(session, email)
    if user is not None and user.active:
        raise StaffError("exists")
    if user is None:
        user = User(email=email.strip(), created_at=now)
        session.add(user)
    user.name, user.role, user.active = (name or "").strip() or user.name, role, True
    user.set_password(secrets.token_urlsafe(32))  # nobody knows it: the link sets the real one
    user.end_sessions()
    session.flush()
    audit.record(session, "user", user.id, "invited", actor.id, now, after={"email": user.email, "role": role})
    return user


def set_password(session: Session, user: User, password: str, now: datetime) -> None:
    problem = password_problem(password, user.email)
    if problem:
        raise StaffError(problem)
    user.set_password(password)
    user.end_sessions()  # spends the link, signs out everywhere
    audit.record(session, "user", user.id, "password_set", user.id, now)


def _admins_left(session: Session, without: User) -> int:
    return session.scalar(
        select(func.count()).where(User.role == "admin", User.active.is_(True), User.id != without.id)
    )


def change_role(session: Session, user: User, role: str, actor: User, now: datetime) -> None:
    if role not in ROLES:
        raise StaffError("unknown role")
    if role == user.role:
        return
    if user.role == "admin" and not _admins_left(session, user):
        raise StaffError("last admin")
    audit.record(session, "user", user.id, "role_changed", actor.id, now, {"role": user.role}, {"role": role})
    user.role = role


def set_active(session: Session, user: User, active: bool, actor: User, now: datetime) -> None:
    """Deactivating ends the account's sessions at once; an admin cannot deactivate themselves or the last admin."""
    if active == user.active:
        return
    if not active and user.id == actor.id:
        raise StaffError("yourself")
    if not active and user.role == "admin" and not _admins_left(session, user):
        raise StaffError("last admin")
    user.active = active
    if not active:
        user.end_sessions()
    audit.record(session, "user", user.id, "activated" if active else "deactivated", actor.id, now)

"""Bearer API keys for the shop and ERP integrations."""

from __future__ import annotations

from functools import wraps

from flask import g, request
from sqlalchemy import select

from kundenpuls.dbpool import first_statement
from kundenpuls.extensions import db
from kundenpuls.models import ApiKey
from kundenpuls.problems import Problem

# RFC 6750: a 401 names the scheme the client must use.
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kundenpuls"'}
INVALID = {"WWW-Authenticate": 'Bearer realm="kundenpuls", error="invalid_token"'}


def require_api_key(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Problem(401, "Unauthorized", "Send an API key as 'Authorization: Bearer <key>'.", headers=CHALLENGE)
        known = select(ApiKey).where(ApiKey.key_hash == ApiKey.hash_key(key.strip()), ApiKey.revoked_at.is_(None))
        api_key = first_statement(db.session, lambda: db.session.scalars(known).one_or_none())
        if api_key is None:
            raise Problem(401, "Unauthorized", "The API key is unknown or revoked.", headers=INVALID)
        g.api_key = api_key
        return view(*args, **kwargs)

    return wrapper

"""Bearer API keys for the shop and ERP integrations."""

from __future__ import annotations

from functools import wraps

from flask import g, request
from sqlalchemy import select

from kundenpuls.dbpool import first_statement
from kundenpuls.extensions import db
from kundenpuls.models import ApiKey
from kundenpuls.problems import Problem


def require_api_key(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Problem(401, "Unauthorized", "Send an API key as 'Authorization: Bearer <key>'.")
        known = select(ApiKey).where(ApiKey.key_hash == ApiKey.hash_key(key.strip()), ApiKey.revoked_at.is_(None))
        api_key = first_statement(db.session, lambda: db.session.scalars(known).one_or_none())
        if api_key is None:
            raise Problem(401, "Unauthorized", "The API key is unknown or revoked.")
        g.api_key = api_key
        return view(*args, **kwargs)

    return wrapper

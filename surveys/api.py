"""GET /api/v1/responses: answers for export to a data warehouse or CRM, oldest first, in pages."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from customers.models import Customer
from kundenpuls.apiauth import require_api_key
from kundenpuls.extensions import csrf, db
from kundenpuls.problems import Problem
from kundenpuls.replica import from_replica
from kundenpuls.timeutil import parse_instant
from surveys.follow_ups import answers_of
from surveys.kinds import KINDS, NPS
from surveys.models import Response, Survey, nps_class
from surveys.rating_grid import ratings_of

bp = Blueprint("surveys_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


def _since(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        return parse_instant(raw.replace(" ", "+"))
    except ValueError as exc:
        message = f"since: expected an ISO 8601 time ({exc})"
        raise Problem(422, "Invalid parameters", message, [{"field": "since", "message": message}]) from None


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        message = f"{name}: a whole number from {low} to {high}"
        raise Problem(422, "Invalid parameters", message, [{"field": name, "message": message}])
    return value


@bp.get("/responses")
@require_api_key
@from_replica
def responses():
    """Answers created at or after `since`, by id; `next` carries the cursor (`after`) of the following page.

    A keyset on the id, so a page costs the same however far into the export a client is."""
    since = _since(request.args.get("since"))
    after = _int("after", 0, 0, 2**62)
    limit = _int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    query = (
        select(Response, Survey.key, Survey.kind, Customer.external_id)
        .join(Survey, Survey.id == Response.survey_id)
        .outerjoin(Customer, Customer.id == Response.customer_id)
        .where(Response.id > after)
        .options(selectinload(Response.reasons))
        .order_by(Response.id)
        .limit(limit + 1)
    )
    if since is not None:
        query = query.where(Response.created_at >= since)
    rows = db.session.execute(query).all()
    page = rows[:limit]
    follow_ups = answers_of(db.session, [row[0].id for row in page])
    ratings = ratings_of(db.session, [row[0].id for row in page])
    items = [
        {
            "id": response.id,
            "survey": {"key": key, "kind": kind},
            "customer_external_id": external_id,
            "score": response.score,
            "nps_class": nps_class(response.score) if kind == NPS.key else None,
            "class": KINDS[kind].classify(response.score) if KINDS[kind].scored else None,
            "comment": response.comment,
            "comeback": response.comeback,
            "reasons": [{"reason": r.reason.key, "main": r.main} for r in response.reasons],
            "follow_ups": follow_ups.get(response.id, []),
            "ratings": ratings.get(response.id, []),
            "locale": response.locale,
            "channel": response.channel,
            "created_at": response.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for response, key, kind, external_id in page
    ]
    following = None
    if len(rows) > limit:
        args = {"after": page[-1][0].id, "limit": limit}
        if since is not None:
            args["since"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        following = url_for(".responses", **args)
    return jsonify({"responses": items, "next": following})

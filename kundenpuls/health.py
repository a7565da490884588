"""Health endpoints for load balancers and orchestrators, and the Prometheus metrics."""

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from kundenpuls.extensions import db
from kundenpuls.observability import metrics_response

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers (liveness): no database call, so a database outage does not get hosts restarted."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The database answers (readiness): a load balancer stops sending traffic here while it does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        response = jsonify(status="unavailable", database=type(exc.orig or exc).__name__)
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
    finally:
        db.session.remove()
    return jsonify(status="ready", database="ok")


@bp.get("/metrics")
def metrics():
    return metrics_response()

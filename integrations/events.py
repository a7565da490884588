"""Turning domain events into webhook deliveries, in the transaction of the change that caused them.

The active subscriptions are read at most every 10 s per process, so an answer with no endpoint subscribed
costs no query; an endpoint switched on is served within those 10 s, one switched off is skipped by the sender.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from customers.models import Customer
from feedback.models import Case
from integrations.models import WebhookDelivery, WebhookEndpoint
from kundenpuls.dialect import name_of, upsert_insert
from surveys.follow_ups import answers_of
from surveys.kinds import KINDS, NPS
from surveys.models import Response, Survey, nps_class

SUBSCRIPTIONS_TTL = 10.0
_subscriptions: tuple[float, dict[str, list[int]]] | None = None


def forget_endpoints() -> None:
    """Read the subscriptions again on the next event (after an admin changed them, and between tests)."""
    global _subscriptions
    _subscriptions = None


def subscribers(session: Session, event: str) -> list[int]:
    global _subscriptions
    if _subscriptions is None or _subscriptions[0] < time.monotonic():
        table: dict[str, list[int]] = {}
        for endpoint_id, events in session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.events).where(WebhookEndpoint.active.is_(True))
        ):
            for name in events.split(","):
                if name:
                    table.setdefault(name, []).append(endpoint_id)
        _subscriptions = (time.monotonic() + SUBSCRIPTIONS_TTL, table)
    return _subscriptions[1].get(event, [])


def iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def envelope(event_id: str, event: str, data: dict, now: datetime) -> str:
    """The body every receiver gets: {id, type, created_at, data}, as compact, key-sorted JSON."""
    body = {"id": event_id, "type": event, "created_at": iso(now), "data": data}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def emit(session: Session, event: str, event_id: str, data, now: datetime, endpoints: list[int] | None = None) -> int:
    """Queue `event` for each subscribed endpoint, once per event id; `data` may be a callable, built only when
    someone listens."""
    targets = subscribers(session, event) if endpoints is None else endpoints
    if not targets:
        return 0
    payload = envelope(event_id, event, data() if callable(data) else data, now)
    insert = upsert_insert(name_of(session))
    session.execute(
        insert(WebhookDelivery).on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"]),
        [
            {
                "endpoint_id": endpoint_id,
                "event_id": event_id,
                "event": event,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for endpoint_id in targets
        ],
    )
    return len(targets)


def _response_data(session: Session, response: Response) -> dict:
    external_id, survey_name, survey_kind = session.execute(
        select(Customer.external_id, Survey.name, Survey.kind)
        .select_from(Survey)
        .outerjoin(Customer, Customer.id == response.customer_id)
        .where(Survey.id == response.survey_id)
    ).one()
    return {
        "response_id": response.id,
        "survey": {"id": response.survey_id, "name": survey_name, "kind": survey_kind},
        "customer_external_id": external_id,
        "score": response.score,
        "nps_class": nps_class(response.score) if survey_kind == NPS.key else None,
        "class": KINDS[survey_kind].classify(response.score) if KINDS[survey_kind].scored else None,
        "comment": response.comment,
        "locale": response.locale,
        "answered_at": iso(response.created_at),
    }


def _case_data(session: Session, case: Case) -> dict:
    customer = select(Customer.external_id).where(Customer.id == case.customer_id)
    external_id = session.scalar(customer) if case.customer_id else None
    return {
        "case_id": case.id,
        "kind": case.kind,
        "status": case.status,
        "priority": case.priority,
        "score": case.score,
        "title": case.title,
        "root_cause": case.root_cause,
        "response_id": case.response_id,
        "customer_external_id": external_id,
        "opened_at": iso(case.created_at),
        "resolved_at": iso(case.resolved_at),
        "url": f"{current_app.config['BASE_URL']}/cases/{case.id}",
    }


def _answer_endpoints(session: Session, score: int | None, kind: str | None = None) -> tuple[list[int], list[int]]:
    """Endpoints for response.created (every answer) and for detractor.created (an NPS score of 0 to 6; `kind`
    None: a kind not known yet, maybe NPS)."""
    detractor = kind in (None, NPS.key) and NPS.is_in(score, "detractor")
    return subscribers(session, "response.created"), subscribers(session, "detractor.created") if detractor else []


def writes_for_answer(session: Session, score: int | None, comment: str | None, kind: str | None = None) -> bool:
    """surveys.answer_path.add_answer_writer check: an answer with subscribers is stored in its events' transaction."""
    return any(_answer_endpoints(session, score, kind))


def on_response_submitted(response: Response, session: Session, now: datetime, **_: object) -> None:
    """response.created for every answer; detractor.created as well for an NPS score of 0 to 6."""
    created, alerted = _answer_endpoints(session, response.score)
    if not created and not alerted:
        return
    data = _response_data(session, response)
    emit(session, "response.created", f"response.created.{response.id}", data, now, created)
    if data["survey"]["kind"] == "nps":
        emit(session, "detractor.created", f"detractor.created.{response.id}", data, now, alerted)


def on_follow_ups_given(response_id: int, session: Session, now: datetime, **_: object) -> None:
    """response.follow_ups: the answer as in response.created, with the follow-up answers just stored."""

    def data() -> dict:
        response = session.get(Response, response_id)
        return {
            **_response_data(session, response),
            "follow_ups": answers_of(session, [response_id]).get(response_id, []),
        }

    emit(session, "response.follow_ups", f"response.follow_ups.{response_id}", data, now)


def on_case_opened(case: Case, session: Session, now: datetime, **_: object) -> None:
    emit(session, "case.opened", f"case.opened.{case.id}", lambda: _case_data(session, case), now)


def on_case_closed(case: Case, session: Session, now: datetime, **_: object) -> None:
    """case.resolved when a case is closed (resolved or won't fix: `status` says which); reopened and closed
    again, it is a new event."""
    event_id = f"case.resolved.{case.id}.{int(now.timestamp())}"
    emit(session, "case.resolved", event_id, lambda: _case_data(session, case), now)


def on_customer_churned(customer: Customer, session: Session, now: datetime, **_: object) -> None:
    cancelled = int(customer.cancelled_at.timestamp()) if customer.cancelled_at else 0
    event_id = f"customer.churned.{customer.id}.{cancelled}"
    data = {
        "customer_external_id": customer.external_id,
        "cancelled_at": iso(customer.cancelled_at),
        "lifecycle_phase": customer.lifecycle_phase,
    }
    emit(session, "customer.churned", event_id, data, now)

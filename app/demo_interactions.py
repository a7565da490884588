"""Demo patterns for "invest here, save there" (issue 24), so its reports show something on a fresh install:
attribute ratings on the last year's NPS answers (delivery speed matters to everyone and is rated lowest; advice
and service matter most to A customers, price to C customers; the range is rated high and barely matters), the
interaction fields on worked cases (questions about deliveries growing lately), and an offer rule for the
household-to-garden pattern that app.demo's purchases carry."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from customers.models import Customer
from feedback.interactions import set_interaction
from feedback.models import CLOSED, Case, ContactReason
from kundenpuls.models import User
from retention.rules import save_rule
from surveys.models import Response, Survey
from surveys.rating_grid import AttributeRating, active_attributes

RATED_SHARE = 0.7  # of the last year's NPS answers
# Per attribute: (mean rating, how strongly it moves with the score per value class, chance of "does not apply").
ATTRIBUTES = {
    "delivery_speed": (2.9, {"A": 0.5, "B": 0.6, "C": 0.6}, 0.02),
    "price": (3.6, {"A": 0.1, "B": 0.3, "C": 0.6}, 0.02),
    "advice": (3.4, {"A": 0.6, "B": 0.3, "C": 0.1}, 0.12),
    "product_quality": (4.1, {"A": 0.4, "B": 0.4, "C": 0.3}, 0.02),
    "service": (3.8, {"A": 0.5, "B": 0.3, "C": 0.2}, 0.05),
    "range": (4.4, {"A": 0.05, "B": 0.05, "C": 0.05}, 0.03),
}
# Contact reasons by weight, before and in the last six weeks (delivery questions grow).
REASONS_BEFORE = {"delivery_status": 3, "product_question": 2, "complaint": 3, "return": 2, "invoice": 1, "other": 1}
REASONS_LATELY = {**REASONS_BEFORE, "delivery_status": 7}
PRIORITIES = ["Schnelle Lieferung", "Ein fairer Preis", "Kompetente Beratung", "Dass die Ware funktioniert",
              "Ein fester Ansprechpartner"]  # fmt: skip
MEASURES = ["Gutschein über 10 € gesendet", "Ersatzlieferung per Express", "Rückruf durch Fachberatung",
            "Rechnung korrigiert", "Entschuldigung und Erklärung per E-Mail"]  # fmt: skip
OFFER_RULE = {
    "name": "Haushalt → Garten", "position": 95, "active": True,
    "conditions": {"bought": ["Haushalt"], "phase": ["new", "existing"]}, "offer_category": "Garten",
    "measure_de": "Gartenkatalog mit 10 %-Gutschein senden",
    "measure_en": "Send the garden catalogue with a 10 % voucher",
    "owner_role": "agent", "due_days": 5, "repeat_after_days": 180,
}  # fmt: skip


def rate_answers(session: Session, now: datetime, rng: random.Random) -> int:
    """Ratings for most of the last year's NPS answers, moving with the score as ATTRIBUTES says; the NPS survey
    shows the grid from now on."""
    survey = session.scalars(select(Survey).where(Survey.key == "nps-default")).one()
    survey.rating_grid = True
    attributes = {a.key: a.id for a in active_attributes(session)}
    answers = session.execute(
        select(Response.id, Response.score, Customer.value_class)
        .join(Customer, Customer.id == Response.customer_id)
        .where(Response.survey_id == survey.id, Response.score.is_not(None))
        .where(Response.created_at >= now - timedelta(days=365))
        .order_by(Response.id)
    ).all()
    rows = []
    for response_id, score, value_class in answers:
        if rng.random() >= RATED_SHARE:
            continue
        for key, (mean, slopes, not_applicable) in ATTRIBUTES.items():
            if key not in attributes:
                continue
            rating = None
            if rng.random() >= not_applicable:
                drawn = mean + slopes[value_class or "C"] * (score - 7.5) / 2 + rng.gauss(0, 0.7)
                rating = max(1, min(5, round(drawn)))
            rows.append({"response_id": response_id, "attribute_id": attributes[key], "rating": rating})
    for chunk in range(0, len(rows), 5000):
        session.execute(insert(AttributeRating), rows[chunk : chunk + 5000])
    return len(rows)


def record_interactions(session: Session, now: datetime, rng: random.Random) -> int:
    """The interaction fields on most worked cases, as their agent would have filled them in."""
    reasons = {r.key: r.id for r in session.scalars(select(ContactReason).where(ContactReason.retired_at.is_(None)))}
    cases = session.scalars(
        select(Case).where(Case.owner_id.is_not(None), Case.kind != "measure").order_by(Case.id)
    ).all()
    recorded = 0
    for case in cases:
        if rng.random() < 0.2:
            continue
        weights = REASONS_LATELY if case.created_at >= now - timedelta(days=42) else REASONS_BEFORE
        keys = [k for k in weights if k in reasons]
        key = rng.choices(keys, weights=[weights[k] for k in keys])[0]
        measure = rng.choice(MEASURES) if case.status in CLOSED else None
        owner = session.get(User, case.owner_id)
        set_interaction(session, case, reasons[key], rng.choice(PRIORITIES), measure, owner, case.created_at, None)
        recorded += 1
    return recorded


def offer_rule(session: Session, now: datetime) -> None:
    """The household-to-garden offer as a retention rule (an admin would make it on /cockpit/rules)."""
    admin = session.scalars(select(User).where(User.role.in_(("admin", "manager"))).order_by(User.id)).first()
    save_rule(session, None, OFFER_RULE, admin.id, now)

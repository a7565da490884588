"""Demo lifecycle history and churn answers: the past replayed week by week, as the scheduler would have seen it.

Phases come from the real recompute (so the history follows the rules), cancellations land between purchases
or after the last one, and churn reasons follow plausible patterns: detractors leave over service and delivery,
C customers over price, A customers to competitors.
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from customers.lifecycle import current_rules, recompute_phases
from customers.models import Cancellation, Customer, Purchase
from surveys.kinds import NPS
from surveys.models import ChurnReason, Invitation, Response, ResponseReason, Survey

REPLAY_STEP = timedelta(days=7)
CANCEL_SHARE = 0.08  # of customers with purchases
UNHAPPY_CANCEL_SHARE = 0.25  # of the unhappy ones: detractors are likelier to leave
ANSWER_SHARE = 0.5
# Recent cancellations are left to the scheduler's churn survey (its catch-up window), older ones are history.
SURVEYED_BEFORE = timedelta(days=20)

REASON_WEIGHTS = {
    # main reason weights by (NPS class of the latest answer, value class)
    "detractor": {"service": 4, "delivery": 4, "quality": 3, "price": 2, "competitor": 1, "other": 1},
    "other": {"price": 3, "competitor": 2, "not_needed": 3, "missing_feature": 1, "quality": 1, "other": 1},
}
CLASS_BONUS = {"C": {"price": 3}, "A": {"competitor": 3, "service": 1}, "B": {}}
TEXTS = {
    "de": {
        "price": ["Anderswo deutlich günstiger.", "Die Versandkosten sind zu hoch."],
        "service": ["Auf meine Reklamation hat niemand reagiert.", "Hotline nie erreichbar."],
        "delivery": ["Zweimal kam die Lieferung zu spät.", "Paket war beschädigt."],
        "quality": ["Das Gerät war nach drei Monaten kaputt."],
        "competitor": ["Beim Wettbewerber gibt es ein Abo-Modell.", "Der Fachhändler vor Ort berät besser."],
        "not_needed": ["Wir sind umgezogen, brauchen nichts mehr.", ""],
        "missing_feature": ["Das Sortiment für Gartenbewässerung fehlt."],
        "other": ["Persönliche Gründe."],
    },
    "en": {
        "price": ["Much cheaper elsewhere.", "Shipping costs are too high."],
        "service": ["Nobody replied to my complaint."],
        "delivery": ["Deliveries were late twice."],
        "quality": ["Broke after three months."],
        "competitor": ["Switched to a subscription service."],
        "not_needed": ["Moved abroad.", ""],
        "missing_feature": ["You do not sell spare parts."],
        "other": ["Personal reasons."],
    },
}
COMEBACK = {
    "de": ["Wenn der Versand kostenlos wäre.", "Mit einem persönlichen Ansprechpartner.", "Bei besseren Preisen."],
    "en": ["If shipping were free.", "With a personal contact.", "With better prices."],
}


def historic_invitation(
    token: str,
    survey: Survey,
    customer_id: int,
    locale: str,
    sent: datetime,
    answered_at: datetime | None,
    reminders: int,
    purchase_id: int | None = None,
) -> dict:
    """An invitation row of the demo's history: mailed at `sent`, answered at `answered_at` or expired."""
    return {
        "token": token, "survey_id": survey.id, "customer_id": customer_id, "purchase_id": purchase_id,
        "locale": locale, "status": "answered" if answered_at else "expired", "created_at": sent,
        "expires_at": sent + timedelta(days=survey.expiry_days), "sent_at": sent, "last_mailed_at": sent,
        "reminders_queued": reminders, "answered_at": answered_at,
    }  # fmt: skip


def _cancellations(session: Session, now: datetime, rng: random.Random, unhappy: set[int]) -> dict[int, datetime]:
    """Pick customers who cancel, and when: after their last purchase, or (reactivated later) in a long gap."""
    purchases: dict[int, list[datetime]] = {}
    for customer_id, moment in session.execute(
        select(Purchase.customer_id, Purchase.purchased_at).order_by(Purchase.customer_id, Purchase.purchased_at)
    ):
        purchases.setdefault(customer_id, []).append(moment)
    chosen = {}
    for customer_id in sorted(purchases):
        if rng.random() >= (UNHAPPY_CANCEL_SHARE if customer_id in unhappy else CANCEL_SHARE):
            continue
        times = purchases[customer_id]
        gaps = [(a, b) for a, b in zip(times, times[1:], strict=False) if b - a > timedelta(days=120)]
        if gaps and rng.random() < 0.3:
            before, after = rng.choice(gaps)
            at = before + (after - before) * rng.uniform(0.3, 0.7)
        else:
            at = times[-1] + timedelta(days=rng.uniform(10, 240))
        if at < now - timedelta(days=1):
            chosen[customer_id] = at
    return chosen


def replay_lifecycle(
    session: Session, start: datetime, now: datetime, rng: random.Random, unhappy: set[int] = frozenset()
) -> dict[int, datetime]:
    """Walk from `start` to `now` a week at a time: cancellations, then purchases, then time (in that order,
    each with its own cause), so the recorded history reads as if Kundenpuls had run all along."""
    cancellations = _cancellations(session, now, rng, unhappy)
    session.execute(
        insert(Cancellation),
        [
            {"customer_id": cid, "cancelled_at": at, "reason": None, "received_at": at}
            for cid, at in cancellations.items()
        ],
    )
    moment = start
    while moment < now:
        step_end = min(moment + REPLAY_STEP, now)
        cancelled = [cid for cid, at in cancellations.items() if moment <= at < step_end]
        for cid in cancelled:
            session.execute(update(Customer).where(Customer.id == cid).values(cancelled_at=cancellations[cid]))
        recompute_phases(session, step_end, "cancellation", cancelled)
        bought = list(
            session.scalars(
                select(Purchase.customer_id)
                .where(Purchase.purchased_at >= moment, Purchase.purchased_at < step_end)
                .distinct()
            )
        )
        recompute_phases(session, step_end, "purchase", bought)
        recompute_phases(session, step_end, "time")
        moment = step_end
    current_rules(session).recomputed_at = now
    return cancellations


def _nps_class(score: int | None) -> str:
    return "detractor" if NPS.is_in(score, "detractor") else "other"


def churn_answers(session: Session, cancellations: dict[int, datetime], now: datetime, rng: random.Random) -> int:
    """Churn-survey invitations for older cancellations, and answers with reasons for about half of them."""
    survey = session.scalars(select(Survey).where(Survey.key == "churn-default")).one()
    latest_score = dict(
        session.execute(
            select(Response.customer_id, func.max(Response.score))
            .where(Response.customer_id.in_(list(cancellations)), Response.score.is_not(None))
            .group_by(Response.customer_id)
        ).all()
    )
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(list(cancellations)))).all()}
    invitations, answers = [], {}
    for cid, at in sorted(cancellations.items()):
        if at > now - SURVEYED_BEFORE:
            continue
        customer = customers[cid]
        token = secrets.token_urlsafe(24)
        answered_at = at + timedelta(hours=rng.uniform(2, 96)) if rng.random() < ANSWER_SHARE else None
        invitations.append(
            historic_invitation(token, survey, cid, customer.locale, at, answered_at, 0 if answered_at else 1)
        )
        if answered_at:
            weights = dict(REASON_WEIGHTS[_nps_class(latest_score.get(cid))])
            for key, bonus in CLASS_BONUS.get(customer.value_class or "C", {}).items():
                weights[key] = weights.get(key, 0) + bonus
            main = rng.choices(list(weights), weights=list(weights.values()))[0]
            extra = {rng.choice(list(weights)) for _ in range(rng.choice((0, 0, 1, 2)))} - {main}
            comment = rng.choice(TEXTS[customer.locale][main]) if rng.random() < 0.6 else ""
            comeback = rng.choice(COMEBACK[customer.locale]) if rng.random() < 0.3 else None
            answers[token] = (main, sorted(extra), comment or None, comeback, answered_at, customer)
    if not invitations:
        return 0
    session.execute(insert(Invitation), invitations)
    ids = dict(session.execute(select(Invitation.token, Invitation.id).where(Invitation.survey_id == survey.id)).all())
    _churn_responses(session, survey, ids, answers)
    return len(answers)


def _churn_responses(session: Session, survey: Survey, ids: dict[str, int], answers: dict[str, tuple]) -> None:
    """The churn answers and their reasons (one main reason, up to two more) for the invitations above."""
    reasons = {r.key: r.id for r in session.scalars(select(ChurnReason))}
    session.execute(
        insert(Response),
        [
            {
                "invitation_id": ids[token],
                "survey_id": survey.id,
                "customer_id": customer.id,
                "score": None,
                "comment": comment,
                "comeback": comeback,
                "locale": customer.locale,
                "created_at": answered_at,
            }
            for token, (_, _, comment, comeback, answered_at, customer) in answers.items()
        ],
    )
    response_ids = dict(
        session.execute(select(Response.invitation_id, Response.id).where(Response.survey_id == survey.id)).all()
    )
    reason_rows = []
    for token, (main, extra, *_rest) in answers.items():
        response_id = response_ids[ids[token]]
        reason_rows.append({"response_id": response_id, "reason_id": reasons[main], "main": True})
        reason_rows.extend({"response_id": response_id, "reason_id": reasons[key], "main": False} for key in extra)
    session.execute(insert(ResponseReason), reason_rows)

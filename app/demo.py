"""Realistic demo data so every page has something to show on a fresh install."""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session

from analytics.facts import record_facts
from analytics.rollup import rebuild as rebuild_rollup
from app.demo_churn import churn_answers, replay_lifecycle
from customers.models import Customer, Purchase
from customers.values import refresh_values
from feedback.models import ROOT_CAUSES
from feedback.services import add_note, change_status, open_case, set_root_cause, take
from feedback.signals import case_opened
from kundenpuls.models import User
from retention.refresh import refresh_all
from surveys.models import Invitation, Response, Survey

FIRST = [
    "Anna",
    "Lukas",
    "Mia",
    "Leon",
    "Emma",
    "Finn",
    "Hannah",
    "Paul",
    "Lea",
    "Jonas",
    "Sofia",
    "Felix",
    "Marie",
    "Noah",
    "Laura",
    "Elias",
    "Julia",
    "Ben",
    "Sarah",
    "Tim",
    "Olivia",
    "James",
    "Grace",
    "Tom",
]
LAST = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Neumann",
    "Braun",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
]
# category: (typical order value, margin share, share of orders with a delivery problem)
CATEGORIES = {
    "Elektronik": (240.0, 0.12, 0.10),
    "Haushalt": (65.0, 0.30, 0.05),
    "Garten": (120.0, 0.25, 0.22),
    "Mode": (80.0, 0.45, 0.06),
    "Bücher": (25.0, 0.20, 0.03),
}
COMMENTS = {
    "de": {
        "detractor": [
            "Lieferung kam eine Woche zu spät.",
            "Zu teuer für die Qualität.",
            "Niemand hat auf meine Mail geantwortet.",
            "Artikel war beschädigt.",
            "Rücksendung war kompliziert.",
        ],
        "passive": ["Ganz okay, aber die Lieferung dauerte.", "Preis in Ordnung.", ""],
        "promoter": ["Schnelle Lieferung, super Service!", "Tolle Beratung am Telefon.", "Immer wieder gern.", ""],
    },
    "en": {
        "detractor": [
            "Delivery was a week late.",
            "Too expensive for the quality.",
            "Nobody answered my email.",
            "The item arrived damaged.",
        ],
        "passive": ["Fine, but delivery took a while.", "Price is okay.", ""],
        "promoter": ["Fast delivery, great service!", "Very helpful support.", ""],
    },
}


def _score(rng: random.Random, loyal: bool, delayed: bool, category: str) -> int:
    """Scores with plausible patterns: delays hurt, loyal customers rate higher, electronics a bit lower."""
    base = 8.0 + (1.0 if loyal else 0.0) - (4.5 if delayed else 0.0) - (0.8 if category == "Elektronik" else 0.0)
    return max(0, min(10, round(rng.gauss(base, 1.8))))


def _nps_class(score: int) -> str:
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def seed_demo(session: Session, now: datetime, customers: int = 3000, seed: int = 1) -> dict[str, int]:
    """Two years of purchases with survey history, in bulk inserts; refuses to run twice."""
    if session.scalar(select(func.count()).select_from(Customer).where(Customer.external_id.like("demo-%"))):
        raise ValueError("demo data is already there")
    survey = session.scalars(select(Survey).where(Survey.key == "nps-default")).one()
    rng = random.Random(seed)
    start = now - timedelta(days=730)
    customer_rows, purchase_rows = [], []
    for i in range(customers):
        locale = "de" if rng.random() < 0.8 else "en"
        first, last = rng.choice(FIRST), rng.choice(LAST)
        joined = start + timedelta(days=rng.uniform(0, 700))
        customer_rows.append(
            {
                "external_id": f"demo-{seed}-{i:06d}",
                "email": f"{first}.{last}.{i}@example.com".lower(),
                "name": f"{first} {last}",
                "locale": locale,
                "timezone": "Europe/London" if locale == "en" and rng.random() < 0.5 else "Europe/Berlin",
                "created_at": joined,
            }
        )
    session.execute(insert(Customer), customer_rows)
    ids = dict(
        session.execute(
            select(Customer.external_id, Customer.id).where(Customer.external_id.like(f"demo-{seed}-%"))
        ).all()
    )
    profiles = {}
    for row in customer_rows:
        cid = ids[row["external_id"]]
        tier = rng.choices(["A", "B", "C"], weights=[1, 3, 6])[0]
        per_year = {"A": 10.0, "B": 4.0, "C": 1.5}[tier]
        favourite = rng.choice(list(CATEGORIES))
        profiles[cid] = (tier == "A" or rng.random() < 0.2, row["locale"])
        moment = row["created_at"]
        while moment < now:
            category = favourite if rng.random() < 0.6 else rng.choice(list(CATEGORIES))
            value, margin_share, _ = CATEGORIES[category]
            amount = round(max(5.0, rng.lognormvariate(0, 0.5) * value), 2)
            purchase_rows.append(
                {
                    "order_id": f"demo-{seed}-{len(purchase_rows):07d}",
                    "customer_id": cid,
                    "amount": Decimal(str(amount)),
                    "margin": Decimal(str(round(amount * margin_share, 2))),
                    "currency": "EUR",
                    "category": category,
                    "purchased_at": moment,
                    "created_at": moment,
                }
            )
            moment += timedelta(days=rng.expovariate(per_year / 365.0))
    purchase_rows = [p for p in purchase_rows if p["purchased_at"] < now]
    for chunk in range(0, len(purchase_rows), 5000):
        session.execute(insert(Purchase), purchase_rows[chunk : chunk + 5000])
    order_ids = dict(
        session.execute(select(Purchase.order_id, Purchase.id).where(Purchase.order_id.like(f"demo-{seed}-%"))).all()
    )

    invitations, answers = [], []
    last_invited: dict[int, datetime] = {}
    history_end = now - timedelta(days=survey.delay_days + survey.catchup_days)
    for purchase in sorted(purchase_rows, key=lambda p: p["purchased_at"]):
        invited = purchase["purchased_at"] + timedelta(days=survey.delay_days)
        cid = purchase["customer_id"]
        if invited > history_end or invited - last_invited.get(cid, start - timedelta(days=999)) < timedelta(
            days=survey.quiet_days
        ):
            continue
        last_invited[cid] = invited
        loyal, locale = profiles[cid]
        token = secrets.token_urlsafe(24)
        answered = rng.random() < 0.38
        invitations.append(
            {
                "token": token,
                "survey_id": survey.id,
                "customer_id": cid,
                "purchase_id": order_ids[purchase["order_id"]],
                "locale": locale,
                "status": "answered" if answered else "expired",
                "created_at": invited,
                "expires_at": invited + timedelta(days=survey.expiry_days),
                "sent_at": invited,
                "last_mailed_at": invited,
                "reminders_queued": 0 if answered and rng.random() < 0.6 else 1,
                "answered_at": invited + timedelta(hours=rng.uniform(1, 120)) if answered else None,
            }
        )
        if answered:
            delayed = rng.random() < CATEGORIES[purchase["category"]][2]
            score = _score(rng, loyal, delayed, purchase["category"])
            comment = rng.choice(COMMENTS[locale][_nps_class(score)]) if rng.random() < 0.5 else ""
            answers.append((token, score, comment or None, locale))
    for chunk in range(0, len(invitations), 5000):
        session.execute(insert(Invitation), invitations[chunk : chunk + 5000])
    tokens = dict(
        session.execute(select(Invitation.token, Invitation.id).where(Invitation.survey_id == survey.id)).all()
    )
    by_token = {inv["token"]: inv for inv in invitations}
    response_rows = [
        {
            "invitation_id": tokens[token],
            "survey_id": survey.id,
            "customer_id": by_token[token]["customer_id"],
            "score": score,
            "comment": comment,
            "locale": locale,
            "created_at": by_token[token]["answered_at"],
        }
        for token, score, comment, locale in answers
    ]
    for chunk in range(0, len(response_rows), 5000):
        session.execute(insert(Response), response_rows[chunk : chunk + 5000])
    refresh_values(session, now)
    cancellations = replay_lifecycle(session, start, now, rng)
    churn_answered = churn_answers(session, cancellations, now, rng)
    rebuild_rollup(session)
    cases = _demo_cases(session, now, rng)
    run = refresh_all(session, now)
    record_facts(session)  # the answers above went in past the scheduler's apply_answers
    worked = _demo_suggestions(session, now, rng)
    session.commit()
    return {
        "customers": len(customer_rows),
        "purchases": len(purchase_rows),
        "invitations": len(invitations),
        "responses": len(response_rows),
        "cancellations": len(cancellations),
        "churn answers": churn_answered,
        "cases": cases,
        "suggestions": run.suggestions,
        "suggestions worked": worked,
    }


DEMO_STAFF = (
    ("jana.schulz@example.com", "Jana Schulz", "agent"),
    ("tom.becker@example.com", "Tom Becker", "agent"),
    ("lea.wagner@example.com", "Lea Wagner", "manager"),
)
DEMO_STAFF_PASSWORD = "kundenpuls-demo-2026"
CASE_HISTORY_DAYS = 120


def _demo_cases(session: Session, now: datetime, rng: random.Random) -> int:
    """Cases for the last months' negative answers, opened as the signal would; older ones worked and closed."""
    staff = []
    for email, name, role in DEMO_STAFF:
        user = session.scalars(select(User).where(User.email == email)).one_or_none()
        if user is None:
            user = User(email=email, name=name, role=role, created_at=now)
            user.set_password(DEMO_STAFF_PASSWORD)
            session.add(user)
        staff.append(user)
    session.flush()
    agents = [user for user in staff if user.role == "agent"]
    recent = session.scalars(
        select(Response)
        .where(
            Response.created_at >= now - timedelta(days=CASE_HISTORY_DAYS),
            or_(Response.score <= 6, Response.score.is_(None)),  # detractors and churn answers
        )
        .order_by(Response.created_at)
    ).all()
    opened = 0
    for response in recent:
        # History, not news: no detractor alert mails or webhooks for cases the demo backdates.
        with case_opened.muted():
            case = open_case(session, response, response.created_at)
        if case is None:
            continue
        opened += 1
        age = now - response.created_at
        if age < timedelta(days=2) or rng.random() < 0.15:
            continue
        agent = rng.choice(agents)
        took = response.created_at + timedelta(hours=rng.uniform(0.5, 30))
        take(session, case, agent, took)
        contacted = took + timedelta(hours=rng.uniform(0.5, 40))
        if contacted < now:
            add_note(session, case, agent, rng.choice(DEMO_CALL_NOTES), "contact", contacted)
        if age > timedelta(days=10) and rng.random() < 0.85:
            set_root_cause(session, case, rng.choice(ROOT_CAUSES), agent, contacted, None)
            closed = contacted + timedelta(hours=rng.uniform(2, 120))
            if closed < now:
                change_status(session, case, "resolved" if rng.random() < 0.9 else "wont_fix", agent, closed, None)
    return opened


DISMISS_REASONS = (
    "Kunde hat bereits ein Angebot erhalten.",
    "Ansprechpartner im Urlaub, nächstes Quartal erneut prüfen.",
    "Customer asked not to be contacted by phone.",
)


def _demo_suggestions(session: Session, now: datetime, rng: random.Random) -> int:
    """Work some of the suggestions the rules made: a few accepted into the queue, some dismissed, and some
    done months ago (their times moved back), so the rules page has outcomes to show."""
    from retention.models import Suggestion
    from retention.suggestions import accept, dismiss, mark_done

    manager = session.scalars(select(User).where(User.role == "manager")).first()
    agent = session.scalars(select(User).where(User.role == "agent")).first()
    suggestions = session.scalars(select(Suggestion).where(Suggestion.status == "open").order_by(Suggestion.id)).all()
    worked = 0
    for suggestion in rng.sample(suggestions, min(len(suggestions), 90)):
        owner = manager if suggestion.rule.owner_role == "manager" else agent
        roll = rng.random()
        if roll < 0.6:
            mark_done(session, suggestion, owner, now)
            suggestion.created_at = now - timedelta(days=rng.uniform(120, 300))
            suggestion.decided_at = suggestion.created_at + timedelta(days=1)
            suggestion.done_at = suggestion.created_at + timedelta(days=rng.uniform(2, 10))
        elif roll < 0.8:
            dismiss(session, suggestion, rng.choice(DISMISS_REASONS), owner, now - timedelta(days=rng.uniform(1, 20)))
        else:
            accept(session, suggestion, owner, owner, "de", now - timedelta(hours=rng.uniform(1, 72)))
        worked += 1
    session.flush()
    return worked


DEMO_CALL_NOTES = (
    "Angerufen, Kunde schildert Lieferverzug; Gutschein angeboten.",
    "Kunde erreicht, Ersatzlieferung veranlasst.",
    "Rückruf vereinbart, Preisfrage an Vertrieb weitergegeben.",
    "Called the customer, refund for the damaged item agreed.",
)

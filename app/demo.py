"""Realistic demo data so every page has something to show on a fresh install."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session

from analytics.facts import record_facts
from analytics.purchase_models import fit_models
from analytics.rollup import rebuild as rebuild_rollup
from app.demo_channels import counter_link, portal_widget, printed_links
from app.demo_churn import churn_answers, historic_invitation, replay_lifecycle
from app.demo_interactions import offer_rule, rate_answers, record_interactions
from app.demo_live import escalated_before, first_mails, recent_answers, state_potentials, stream, work_old_cases
from app.demo_texts import COMMENTS, DEMO_CALL_NOTES, DEMO_CUSTOMERS, DEMO_SEED, DISMISS_REASONS, FIRST, LAST
from customers.models import Customer, Purchase
from customers.values import refresh_values
from feedback.models import ROOT_CAUSES
from feedback.services import add_note, change_status, open_case, set_root_cause, take
from feedback.signals import case_opened
from kundenpuls.models import User
from retention.refresh import refresh_all
from surveys.kinds import NPS
from surveys.models import Invitation, Response, Survey

UNHAPPY_SHARE = 0.25  # of customers who are not loyal
HOUSEHOLD_TO_GARDEN = 0.5  # the chance that the order after a household one is a garden one
CATEGORIES = {
    "Elektronik": (240.0, 0.12, 0.10),
    "Haushalt": (65.0, 0.30, 0.05),
    "Garten": (120.0, 0.25, 0.22),
    "Mode": (80.0, 0.45, 0.06),
    "Bücher": (25.0, 0.20, 0.03),
}


def _score(rng: random.Random, profile: _Profile, delayed: bool, category: str) -> int:
    """Scores with plausible patterns: delays hurt, loyal customers rate higher, unhappy ones lower, electronics a
    bit lower."""
    base = (8.0 + (1.0 if profile.loyal else 0.0) - (3.0 if profile.unhappy else 0.0) - (4.5 if delayed else 0.0)
            - (0.8 if category == "Elektronik" else 0.0))  # fmt: skip
    return max(0, min(10, round(rng.gauss(base, 1.8))))


def _nps_class(score: int) -> str:
    return NPS.classify(score)


def seed_demo(
    session: Session, now: datetime, customers: int = DEMO_CUSTOMERS, seed: int = DEMO_SEED
) -> dict[str, int]:
    """Two years of purchases with survey history, in bulk inserts; refuses to run twice."""
    if session.scalar(select(func.count()).select_from(Customer).where(Customer.external_id.like("demo-%"))):
        raise ValueError("demo data is already there")
    survey = session.scalars(select(Survey).where(Survey.key == "nps-default")).one()
    rng = random.Random(seed)
    start = now - timedelta(days=730)
    profiles = _demo_customers(session, start, customers, seed, rng)
    purchase_rows = _demo_purchases(session, profiles, now, seed, rng)
    invitations, answers = _demo_invitations(session, survey, purchase_rows, profiles, start, now, seed, rng)
    responses = _demo_responses(session, survey, invitations, answers)
    refresh_values(session, now)
    live = stream(seed)  # the present (app/demo_live.py) draws apart from the history
    potentials = state_potentials(session, live)
    refresh_values(session, now)  # estimates for the others, from the stated ones
    unhappy = {cid for cid, profile in profiles.items() if profile.unhappy}
    cancellations = replay_lifecycle(session, start, now, rng, unhappy)
    churn_answered = churn_answers(session, cancellations, now, rng)
    rebuild_rollup(session)
    ratings = rate_answers(session, now, rng)
    cases = _demo_cases(session, now, rng)
    interactions = record_interactions(session, now, rng)
    offer_rule(session, now)
    recent, recent_cases = recent_answers(session, survey, now, live)
    fit = fit_models(session, now)  # so the outlook, at-risk counts and rules have a fit from the start
    run = refresh_all(session, now)
    record_facts(session)  # the answers above went in past the scheduler's apply_answers
    worked = _demo_suggestions(session, now, rng)
    # Last, so that none of the steps above (which draw from `rng` over the answers) sees them.
    printed, counter = printed_links(session, survey, now, seed), counter_link(session, survey, now, seed)
    portal_widget(session, survey, now)
    work_old_cases(session, now, live)
    escalated_before(session, now)
    rebuild_rollup(session)
    record_facts(session)
    session.commit()
    mailed = first_mails(session, now)
    return {
        "customers": len(profiles),
        "purchases": len(purchase_rows),
        "invitations": len(invitations),
        "responses": responses + recent,
        "answers in the last days": recent,
        "printed links": printed,
        "anonymous answers": counter,
        "cancellations": len(cancellations),
        "churn answers": churn_answered,
        "cases": cases + recent_cases,
        "attribute ratings": ratings,
        "interactions recorded": interactions,
        "suggestions": run.suggestions,
        "suggestions worked": worked,
        "potentials stated": potentials,
        "survey mails in the mailbox": mailed,
        "model fit": fit.status,
    }


@dataclass(frozen=True)
class _Profile:
    """What the demo decides about one customer before it writes anything: their BG/NBD process (a purchase rate,
    a chance to drop out after each repeat purchase) and a temper that shows in both their scores and their
    dropout, so detractors are somewhat likelier to leave."""

    joined: datetime
    locale: str
    per_year: float
    favourite: str
    loyal: bool
    unhappy: bool
    dropout: float


def _demo_customers(
    session: Session, start: datetime, customers: int, seed: int, rng: random.Random
) -> dict[int, _Profile]:
    """Customers who joined over the first 700 days, each with a buying habit; returns them by id."""
    rows, profiles = [], {}
    for i in range(customers):
        locale = "de" if rng.random() < 0.8 else "en"
        first, last = rng.choice(FIRST), rng.choice(LAST)
        joined = start + timedelta(days=rng.uniform(0, 700))
        external_id = f"demo-{seed}-{i:06d}"
        rows.append(
            {
                "external_id": external_id,
                "email": f"{first}.{last}.{i}@example.com".lower(),
                "name": f"{first} {last}",
                "locale": locale,
                "timezone": "Europe/London" if locale == "en" and rng.random() < 0.5 else "Europe/Berlin",
                "created_at": joined,
            }
        )
        tier = rng.choices(["A", "B", "C"], weights=[1, 3, 6])[0]
        loyal = tier == "A" or rng.random() < 0.2
        unhappy = not loyal and rng.random() < UNHAPPY_SHARE
        # BG/NBD: the rate varies as a gamma around the tier's mean, the dropout chance as a beta (mean 1/7),
        # doubled and a half for unhappy customers, halved for loyal ones.
        per_year = rng.gammavariate(2.0, {"A": 10.0, "B": 4.0, "C": 1.5}[tier] / 2.0)
        dropout = min(0.9, rng.betavariate(1.0, 6.0) * (2.5 if unhappy else 0.5 if loyal else 1.0))
        profiles[external_id] = _Profile(
            joined, locale, per_year, rng.choice(list(CATEGORIES)), loyal, unhappy, dropout
        )
    session.execute(insert(Customer), rows)
    ids = session.execute(
        select(Customer.external_id, Customer.id)
        .where(Customer.external_id.like(f"demo-{seed}-%"))
        .order_by(Customer.id)
    ).all()
    return {cid: profiles[external_id] for external_id, cid in ids}


def _demo_purchases(
    session: Session, profiles: dict[int, _Profile], now: datetime, seed: int, rng: random.Random
) -> list[dict]:
    """Each customer's orders from joining until they drop out or now, at their own rate (exponential gaps), mostly
    in their favourite category, and after household goods often garden ones (the offer rule's pattern); after each
    repeat order a coin with their dropout chance decides whether they stay."""
    rows: list[dict] = []
    for cid, profile in profiles.items():
        moment, category = profile.joined, None
        while moment < now:
            if moment > profile.joined and rng.random() < profile.dropout:
                break
            if category == "Haushalt" and rng.random() < HOUSEHOLD_TO_GARDEN:
                category = "Garten"
            else:
                category = profile.favourite if rng.random() < 0.6 else rng.choice(list(CATEGORIES))
            value, margin_share, _ = CATEGORIES[category]
            amount = round(max(5.0, rng.lognormvariate(0, 0.5) * value), 2)
            rows.append(
                {
                    "order_id": f"demo-{seed}-{len(rows):07d}",
                    "customer_id": cid,
                    "amount": Decimal(str(amount)),
                    "margin": Decimal(str(round(amount * margin_share, 2))),
                    "currency": "EUR",
                    "category": category,
                    "purchased_at": moment,
                    "created_at": moment,
                }
            )
            moment += timedelta(days=rng.expovariate(profile.per_year / 365.0))
    for chunk in range(0, len(rows), 5000):
        session.execute(insert(Purchase), rows[chunk : chunk + 5000])
    return rows


def _demo_invitations(
    session: Session,
    survey: Survey,
    purchases: list[dict],
    profiles: dict[int, _Profile],
    start: datetime,
    now: datetime,
    seed: int,
    rng: random.Random,
) -> tuple[list[dict], list[tuple]]:
    """The invitations the scheduler would have sent (delay, quiet period), 38 % of them answered."""
    order_ids = dict(
        session.execute(select(Purchase.order_id, Purchase.id).where(Purchase.order_id.like(f"demo-{seed}-%"))).all()
    )
    invitations, answers = [], []
    last_invited: dict[int, datetime] = {}
    history_end = now - timedelta(days=survey.delay_days + survey.catchup_days)
    for purchase in sorted(purchases, key=lambda p: p["purchased_at"]):
        invited = purchase["purchased_at"] + timedelta(days=survey.delay_days)
        cid = purchase["customer_id"]
        previous = last_invited.get(cid, start - timedelta(days=999))
        if invited > history_end or invited - previous < timedelta(days=survey.quiet_days):
            continue
        last_invited[cid] = invited
        profile = profiles[cid]
        token = secrets.token_urlsafe(24)
        answered = rng.random() < 0.38
        reminders = 0 if answered and rng.random() < 0.6 else 1
        answered_at = invited + timedelta(hours=rng.uniform(1, 120)) if answered else None
        invitations.append(
            historic_invitation(token, survey, cid, profile.locale, invited, answered_at, reminders,
                                order_ids[purchase["order_id"]])
        )  # fmt: skip
        if answered:
            delayed = rng.random() < CATEGORIES[purchase["category"]][2]
            score = _score(rng, profile, delayed, purchase["category"])
            comment = rng.choice(COMMENTS[profile.locale][_nps_class(score)]) if rng.random() < 0.5 else ""
            answers.append((token, score, comment or None, profile.locale))
    for chunk in range(0, len(invitations), 5000):
        session.execute(insert(Invitation), invitations[chunk : chunk + 5000])
    return invitations, answers


def _demo_responses(session: Session, survey: Survey, invitations: list[dict], answers: list[tuple]) -> int:
    """The answers to the invitations above, at the moment each was answered."""
    tokens = dict(
        session.execute(select(Invitation.token, Invitation.id).where(Invitation.survey_id == survey.id)).all()
    )
    by_token = {inv["token"]: inv for inv in invitations}
    rows = [
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
    for chunk in range(0, len(rows), 5000):
        session.execute(insert(Response), rows[chunk : chunk + 5000])
    return len(rows)


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
            or_(NPS.sql_in(Response.score, "detractor"), Response.score.is_(None)),  # detractors and churn answers
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

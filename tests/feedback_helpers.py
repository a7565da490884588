"""Helpers shared by the feedback tests: staff users, signing in, customers who answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from customers.schemas import PurchaseIn
from customers.services import record_purchase
from feedback.models import Case
from kundenpuls.models import User
from surveys.jobs import create_due_invitations
from surveys.models import Invitation
from surveys.services import submit_answer
from tests.conftest import csrf_token, purchase_payload

PASSWORD = "correct horse battery"


def make_user(session, email: str, role: str, name: str | None = None) -> User:
    user = User(email=email, name=name, role=role, created_at=datetime.now(UTC))
    user.set_password(PASSWORD)
    session.add(user)
    session.commit()
    return user


def sign_in(client, user: User):
    token = csrf_token(client.get("/login").text)
    page = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert page.status_code == 302, page.text
    return client


def answered(session, n: int, score: int, comment: str | None = None, amount: float = 59.90, now=None) -> Case | None:
    """Customer n buys (for `amount`), is invited and answers `score`; returns the case that opened, if any."""
    now = now or datetime.now(UTC)
    payload = purchase_payload(
        f"O-{n}", f"C-{n}", f"kunde{n}@example.com", now - timedelta(days=3, hours=1), amount=amount
    )
    purchase, _ = record_purchase(session, PurchaseIn.model_validate(payload), now)
    session.commit()
    create_due_invitations(session, now)
    session.commit()
    invitation = session.scalars(select(Invitation).where(Invitation.purchase_id == purchase.id)).one()
    submitted = submit_answer(session, invitation.token, score, comment, now)
    session.commit()
    return session.scalars(select(Case).where(Case.response_id == submitted.response.id)).one_or_none()

"""The answer path's two forms leave the same rows: one statement with its parts on PostgreSQL, the claim, the
insert and the receivers of response_submitted on SQLite. The suite runs on both databases against the same
expected rows below, so a part that forgets its SQLite receiver (or the other way round) fails on one of them."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import func, select

from analytics.models import InvitationsDaily, NpsDaily, PendingAnswer
from customers.models import Customer
from feedback.models import Case
from integrations.events import forget_endpoints
from integrations.models import WebhookDelivery, WebhookEndpoint
from messaging.outbox import dispatch_due
from surveys.jobs import create_due_invitations
from surveys.models import Invitation
from surveys.services import submit_answer

BOUGHT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
NOW = datetime(2026, 11, 5, 10, 30, tzinfo=UTC)  # Thursday 11:30 Berlin: inside the send window
ANSWERS = [(1, 10, None), (2, 9, "Gerne wieder"), (3, 8, None), (4, 7, "Lieferung dauerte"), (5, 3, "Kaputt"),
           (6, 0, None)]  # fmt: skip


def test_both_forms_of_the_answer_path_leave_the_same_rows(session, buy):
    session.add(
        WebhookEndpoint(url="https://crm.example.com/hook", secret="whsec_MTIz", active=True, created_at=NOW,
                        events=",response.created,detractor.created,")
    )  # fmt: skip
    session.commit()
    forget_endpoints()
    for n, _, _ in ANSWERS:
        buy(f"O-{n}", f"C-{n}", f"kunde{n}@example.com", purchased_at=BOUGHT)
    assert create_due_invitations(session, NOW) == len(ANSWERS)
    assert dispatch_due(session, NOW).sent == len(ANSWERS)  # mailed first: answers count on their mailing day
    tokens = dict(session.execute(select(Customer.external_id, Invitation.token).join(Invitation.customer)).all())
    for n, score, comment in ANSWERS:
        submit_answer(session, tokens[f"C-{n}"], score, comment, NOW)
        session.commit()

    cases = session.execute(select(Case.kind, Case.score, Case.status).order_by(Case.score)).all()
    assert [tuple(row) for row in cases] == [  # a passive comment opens no case unless the setting says so
        ("detractor", 0, "new"), ("detractor", 3, "new")
    ]  # fmt: skip
    nps = session.execute(
        select(func.sum(NpsDaily.promoters), func.sum(NpsDaily.passives), func.sum(NpsDaily.detractors))
    ).one()
    assert tuple(nps) == (2, 2, 2)
    mailed = session.execute(select(func.sum(InvitationsDaily.sent), func.sum(InvitationsDaily.answered))).one()
    assert tuple(mailed) == (6, 6)
    assert session.scalar(select(func.count()).select_from(PendingAnswer)) == 6
    events = Counter(json.loads(payload)["type"] for payload in session.scalars(select(WebhookDelivery.payload)))
    assert events == {"response.created": 6, "detractor.created": 2}

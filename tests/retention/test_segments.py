"""Segments (value class x phase x satisfaction): computed from the data, moved by an answer at once and by the
nightly refresh, with the history of every move."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, func, select

from customers.models import Customer, Purchase
from retention.answers import apply_answers, waiting
from retention.models import CustomerSegment, SegmentCell, SegmentChange, SegmentRun
from retention.refresh import nightly_refresh
from retention.segment_facts import FACTS
from retention.segments import refresh_segments
from surveys.models import Invitation, Response
from surveys.services import submit_answer
from tests.feedback_helpers import answered
from tests.retention.test_customer_api import nps_answer

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def customer(session, external_id, value_class="C", phase="existing", revenue=0, potential=None, scores=()):
    c = Customer(
        external_id=external_id, email=f"{external_id.lower()}@example.com", locale="de", created_at=NOW,
        value_class=value_class, lifecycle_phase=phase, revenue_12m=Decimal(revenue),
        potential_value=None if potential is None else Decimal(potential),
    )  # fmt: skip
    session.add(c)
    session.flush()
    for days_ago, score in scores:
        nps_answer(session, c, score, NOW - timedelta(days=days_ago))
    return c


def bought(session, c: Customer, *days_ago: int) -> None:
    for n, days in enumerate(days_ago):
        session.add(
            Purchase(
                order_id=f"{c.external_id}-{n}-{days}", customer_id=c.id, amount=Decimal(10),
                purchased_at=NOW - timedelta(days=days), created_at=NOW,
            )
        )  # fmt: skip
    session.flush()


def cells(session) -> dict:
    """The cockpit cells summed over their shards, empty ones left out."""
    rows = session.execute(
        select(SegmentCell.value_class, SegmentCell.phase, SegmentCell.satisfaction, SegmentCell.portfolio,
               func.sum(SegmentCell.customers), func.sum(SegmentCell.revenue))
        .group_by(SegmentCell.value_class, SegmentCell.phase, SegmentCell.satisfaction, SegmentCell.portfolio)
    ).all()  # fmt: skip
    return {tuple(row[:4]): (int(row[4]), Decimal(row[5]).quantize(Decimal("0.01"))) for row in rows if row[4]}


def segment(session, c: Customer) -> CustomerSegment:
    return session.get(CustomerSegment, c.id)


def test_the_refresh_computes_every_fact_and_keeps_the_cockpit_cells(session):
    happy = customer(session, "S-1", "A", "existing", 5000, 9000, scores=[(200, 4), (10, 9)])
    never = customer(session, "S-2", "C", "new", 20)
    unclassified = customer(session, "S-3", None, "potential")
    bought(session, happy, 10, 20, 200, 250, 300, 400)  # 2 in the last 180 days, 3 in the 180 before, 1 older
    session.commit()
    assert refresh_segments(session, NOW) == 0  # a first placement is not a move
    session.commit()
    s = segment(session, happy)
    assert (s.value_class, s.phase, s.satisfaction, s.score, s.previous_score) == ("A", "existing", "promoter", 9, 4)
    assert (s.portfolio, s.purchases_recent, s.purchases_before) == ("star", 2, 3)
    assert s.answered_at == NOW - timedelta(days=10)
    n = segment(session, never)
    assert (n.satisfaction, n.score, n.previous_score, n.portfolio) == ("unknown", None, None, "potential_unknown")
    assert segment(session, unclassified).value_class == "C"
    assert session.query(SegmentChange).count() == 0
    assert cells(session) == {
        ("A", "existing", "promoter", "star"): (1, Decimal(5000)),
        ("C", "new", "unknown", "potential_unknown"): (1, Decimal(20)),
        ("C", "potential", "unknown", "potential_unknown"): (1, Decimal(0)),
    }
    # Nothing changed: nothing is written and no move recorded.
    assert refresh_segments(session, NOW + timedelta(days=1)) == 0
    session.commit()
    assert segment(session, happy).refreshed_at == NOW
    assert session.query(SegmentChange).count() == 0


def test_a_detractor_answer_moves_the_segment_at_the_next_tick(session):
    c = customer(session, "C-1", "A", "existing", 5000, scores=[(200, 10)])
    session.commit()
    refresh_segments(session, NOW)
    session.commit()
    assert segment(session, c).satisfaction == "promoter"
    # The customer buys, is invited and answers 2 through the survey: the answer is stored and waits.
    answered(session, 1, 2)
    assert segment(session, c).satisfaction == "promoter" and waiting(session) == 1
    # The scheduler applies it.
    assert apply_answers(session, datetime.now(UTC)) == 1
    s = segment(session, c)
    assert (s.value_class, s.satisfaction, s.score, s.previous_score) == ("A", "detractor", 2, 10)
    moves = session.scalars(
        select(SegmentChange).where(SegmentChange.customer_id == c.id).order_by(SegmentChange.id)
    ).all()
    assert [(m.from_satisfaction, m.to_satisfaction, m.cause) for m in moves] == [("promoter", "detractor", "answer")]
    # The cockpit cells moved with it.
    # Phase and value stay as the nightly refresh placed them ("existing", though the purchase made them new).
    assert cells(session) == {("A", "existing", "detractor", "potential_unknown"): (1, Decimal(5000))}
    assert waiting(session) == 0 and apply_answers(session, datetime.now(UTC)) == 0  # applied once


def reinvite(session, invitation: Invitation, now: datetime) -> Invitation:
    """Another open invitation of the same survey for the same customer (as a re-ask survey sends)."""
    again = Invitation(token=secrets.token_urlsafe(24), survey_id=invitation.survey_id,
                       customer_id=invitation.customer_id, locale="de", status="sent", created_at=now,
                       expires_at=now + timedelta(days=30), sent_at=now)  # fmt: skip
    session.add(again)
    session.commit()
    return again


def test_answers_apply_in_order_and_once_also_after_a_refresh_read_them(session):
    c = customer(session, "C-1", "A", "existing", 5000, scores=[(200, 10)])
    session.commit()
    refresh_segments(session, NOW)
    session.commit()
    now = datetime.now(UTC)
    answered(session, 1, 2, now=now - timedelta(minutes=2))
    answered(session, 2, 6, now=now - timedelta(minutes=1))  # another customer, in between
    late = session.scalars(select(Invitation).join(Customer).where(Customer.external_id == "C-1")).first()
    # A second answer of C-1 (a re-ask survey, say), after the first.
    submit_answer(session, reinvite(session, late, now).token, 7, None, now)
    session.commit()
    assert apply_answers(session, now) == 3
    s = segment(session, c)
    assert (s.score, s.previous_score, s.satisfaction) == (7, 2, "passive")
    moves = session.scalars(select(SegmentChange.to_satisfaction).where(SegmentChange.customer_id == c.id))
    assert list(moves) == ["detractor", "passive"]

    # An answer the nightly refresh read before the scheduler applied it moves nothing twice.
    answered(session, 3, 9, now=now + timedelta(minutes=1))
    c3 = session.scalars(select(Customer).where(Customer.external_id == "C-3")).one()
    refresh_segments(session, now + timedelta(minutes=2))
    session.commit()
    before = segment(session, c3)
    placed = (before.score, before.previous_score, before.satisfaction)
    history = session.scalar(select(func.count()).select_from(SegmentChange))
    assert apply_answers(session, now + timedelta(minutes=3)) == 1
    after = segment(session, c3)
    assert (after.score, after.previous_score, after.satisfaction) == placed == (9, None, "promoter")
    assert session.scalar(select(func.count()).select_from(SegmentChange)) == history


def test_the_nightly_refresh_runs_once_a_night(session):
    c = customer(session, "N-1", "B", "existing", 300, scores=[(5, 8)])
    session.commit()
    night = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)
    assert nightly_refresh(session, night) == 0  # the first run places everyone (no moves)
    assert nightly_refresh(session, night + timedelta(hours=10)) is None  # same night: not again
    c = session.get(Customer, c.id)
    c.lifecycle_phase = "inactive"
    session.commit()
    assert nightly_refresh(session, night + timedelta(days=1)) == 1
    run = session.scalars(select(SegmentRun).order_by(SegmentRun.id.desc())).first()
    assert (run.customers, run.changes) == (1, 1) and run.finished_at is not None
    move = session.scalars(select(SegmentChange).order_by(SegmentChange.id.desc())).first()
    assert (move.from_phase, move.to_phase, move.to_satisfaction) == ("existing", "inactive", "passive")


def test_the_full_refresh_in_parallel_slices_gives_the_same_result(session, postgresql_only, monkeypatch):
    """PostgreSQL runs the slices after the first in several connections: same segments, cells, suggestions."""
    from retention import segments
    from retention.models import Suggestion
    from retention.refresh import refresh_all

    for n, (klass, phase, scores) in enumerate(
        [("A", "existing", [(9, 3)]), ("B", "new", [(9, 10)]), ("C", "inactive", []), ("A", "existing", [(9, 2)]),
         ("C", "existing", [(20, 9), (9, 5)]), ("B", "churned", [(9, 8)]), ("C", "new", [(9, 10)])]
    ):  # fmt: skip
        customer(session, f"W-{n}", klass, phase, 100 * (n + 1), scores=scores)
    session.commit()
    monkeypatch.setattr(segments, "CHUNK", 2)  # four slices for seven customers

    def snapshot():
        rows = session.execute(select(CustomerSegment.customer_id, *(getattr(CustomerSegment, k) for k in FACTS)))
        made = session.execute(select(Suggestion.customer_id, Suggestion.rule_id).order_by(Suggestion.id))
        return sorted(map(tuple, rows)), sorted(map(tuple, made)), cells(session)

    run = refresh_all(session, NOW, workers=2)
    session.commit()
    parallel = snapshot()
    assert run.customers == 7 and run.suggestions == len(parallel[1]) > 0
    session.execute(delete(Suggestion))
    session.execute(delete(CustomerSegment))
    session.commit()
    refresh_all(session, NOW, workers=1)
    session.commit()
    assert snapshot() == parallel


def test_an_answer_that_cannot_be_applied_is_kept_and_the_others_go_on(session, monkeypatch):
    from analytics.models import AnswerFact, PendingAnswer
    from retention import answers

    now = datetime.now(UTC)
    for n, score in ((1, 2), (2, 9), (3, 7)):
        answered(session, n, score, now=now)
    broken = session.scalars(select(Response.id).where(Response.score == 9)).one()
    real = answers.apply_answer

    def apply_answer(session, answer, now):
        if answer.response_id == broken:
            raise ValueError("segment row is corrupt")
        real(session, answer, now)

    monkeypatch.setattr(answers, "apply_answer", apply_answer)
    assert apply_answers(session, now) == 3
    kept = session.scalars(select(PendingAnswer)).one()
    assert kept.response_id == broken and kept.error == "ValueError: segment row is corrupt"
    assert waiting(session) == 1 and waiting(session, failed=True) == 1
    facts = set(session.scalars(select(AnswerFact.response_id)))
    assert broken not in facts and len(facts) == 2  # the other two were applied
    assert apply_answers(session, now + timedelta(minutes=5)) == 0  # not again at once

    monkeypatch.setattr(answers, "apply_answer", real)  # fixed
    assert apply_answers(session, now + answers.RETRY_FAILED) == 1
    assert waiting(session) == 0 and broken in set(session.scalars(select(AnswerFact.response_id)))

"""Retention rules: every default rule fires on a customer made for it and not on its neighbours; edits change
the suggestions; invalid rules are refused with a clear message; suggestions are accepted, dismissed, done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from feedback.models import Case
from retention.models import RetentionRule, Suggestion
from retention.refresh import refresh_all
from retention.rules import InvalidRule, save_rule, sentence
from tests.analytics.test_churn_reports import churn_answer
from tests.retention.test_segments import NOW, bought, customer


def rule(session, name: str) -> RetentionRule:
    return session.scalars(select(RetentionRule).where(RetentionRule.name == name)).one()


def make(session, key: str, spec: dict):
    c = customer(
        session, key, spec.get("value_class", "C"), spec.get("phase", "existing"), spec.get("revenue", 100),
        spec.get("potential"), scores=[(300 - 10 * i, s) for i, s in enumerate(spec.get("scores", ()))],
    )  # fmt: skip
    if spec.get("reasons"):
        churn_answer(session, c, (NOW - timedelta(days=5)).date().isoformat(), spec["reasons"])
    recent, before = spec.get("purchases", (0, 0))
    bought(session, c, *([10] * recent + [200] * before))
    return c


def fired(session, c) -> set[str]:
    return set(
        session.scalars(
            select(RetentionRule.name)
            .join(Suggestion, Suggestion.rule_id == RetentionRule.id)
            .where(Suggestion.customer_id == c.id)
        )
    )


# rule name: (the customer made for it, [neighbours that differ in one way and must not fire it])
CASES = {
    "High-value detractor": (
        {"value_class": "A", "scores": [3]},
        [{"value_class": "B", "scores": [3]}, {"value_class": "A", "scores": [7]}],
    ),
    "Detractor citing price, high value": (
        {"value_class": "B", "scores": [3], "reasons": ["price"]},
        [
            {"value_class": "B", "scores": [3], "reasons": ["quality"]},
            {"value_class": "C", "scores": [3], "reasons": ["price"]},
        ],
    ),
    "Detractor citing price, low value": (
        {"value_class": "C", "scores": [2], "reasons": ["price"]},
        [
            {"value_class": "B", "scores": [2], "reasons": ["price"]},
            {"value_class": "C", "scores": [8], "reasons": ["price"]},
        ],
    ),
    "Detractor citing service or delivery": (
        {"scores": [2], "reasons": ["delivery"]},
        [{"scores": [2], "reasons": ["price"]}, {"scores": [9], "reasons": ["service"]}],
    ),
    "Passive existing customer buying less": (
        {"scores": [7], "purchases": (1, 3)},
        [{"scores": [7], "purchases": (3, 3)}, {"scores": [7], "purchases": (1, 3), "phase": "new"}],
    ),
    "Promoter": (
        {"phase": "new", "scores": [10]},
        [{"phase": "inactive", "scores": [10]}, {"phase": "new", "scores": [8]}],
    ),
    "Inactive customer": ({"phase": "inactive"}, [{"phase": "existing"}, {"phase": "churned"}]),
    "Unhappy take-along customer": (
        {"revenue": 50, "potential": 100, "scores": [3]},
        [{"revenue": 50, "potential": 5000, "scores": [3]}, {"revenue": 50, "potential": 100, "scores": [8]}],
    ),
    "Valuable customer, falling score": (
        {"value_class": "A", "scores": [10, 8]},
        [{"value_class": "A", "scores": [8, 10]}, {"value_class": "C", "scores": [10, 8]}],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_each_default_rule_fires_on_its_customer_and_not_on_its_neighbours(session, name):
    made_for, neighbours = CASES[name]
    target = make(session, "T-0", made_for)
    others = [make(session, f"T-{n}", spec) for n, spec in enumerate(neighbours, start=1)]
    session.commit()
    refresh_all(session, NOW)
    session.commit()
    assert name in fired(session, target)
    for other in others:
        assert name not in fired(session, other), other.external_id


def test_the_suggestion_says_which_rule_fired_and_why(session, app):
    c = make(session, "W-1", {"value_class": "A", "scores": [3], "reasons": ["price"]})
    session.commit()
    refresh_all(session, NOW)
    session.commit()
    suggestion = session.scalars(
        select(Suggestion).where(
            Suggestion.customer_id == c.id, Suggestion.rule_id == rule(session, "Detractor citing price, high value").id
        )
    ).one()
    with app.test_request_context(headers={"Accept-Language": "en"}):
        text = sentence(suggestion.rule, "en", suggestion, suggestion.conditions)
    assert text.startswith("A customer, detractor (score 3), reason price → Check the price room")
    assert text.endswith("(manager, within 3 working days)")


def test_an_edited_rule_changes_the_suggestions_and_a_repeat_waits(session, staff):
    promoter = make(session, "E-1", {"phase": "existing", "scores": [10]})
    passive = make(session, "E-2", {"phase": "existing", "scores": [8]})
    session.commit()
    refresh_all(session, NOW)
    session.commit()
    assert "Promoter" in fired(session, promoter) and "Promoter" not in fired(session, passive)
    r = rule(session, "Promoter")
    values = {
        name: getattr(r, name)
        for name in (
            "name",
            "position",
            "active",
            "measure_de",
            "measure_en",
            "owner_role",
            "due_days",
            "repeat_after_days",
        )
    }
    save_rule(session, r, {**values, "conditions": {"satisfaction": ["promoter", "passive"]}}, staff.id, NOW)
    session.commit()
    refresh_all(session, NOW + timedelta(days=1))
    session.commit()
    assert "Promoter" in fired(session, passive)
    # The promoter keeps one live suggestion, not two.
    assert session.query(Suggestion).filter_by(customer_id=promoter.id, rule_id=r.id).count() == 1
    # Switched off, the rule's open suggestions lapse and it suggests nothing more.
    save_rule(
        session, r, {**values, "conditions": {"satisfaction": ["promoter", "passive"]}, "active": False}, staff.id, NOW
    )
    session.commit()
    assert {s.status for s in session.query(Suggestion).filter_by(rule_id=r.id)} == {"lapsed"}
    refresh_all(session, NOW + timedelta(days=2))
    session.commit()
    assert {s.status for s in session.query(Suggestion).filter_by(rule_id=r.id)} == {"lapsed"}


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"conditions": {}}, "conditions", "every customer"),
        ({"conditions": {"value_class": ["Z"]}}, "value_class", "Unknown value Z"),
        ({"conditions": {"colour": ["red"]}}, "conditions", "Unknown condition colour"),
        ({"conditions": {"phase": ["potential"], "value_class": ["A"]}}, "conditions", "could never fire"),
        ({"conditions": {"satisfaction": ["unknown"], "score_trend": ["falling"]}}, "conditions", "could never fire"),
        ({"due_days": -1}, "due_days", "whole number"),
        ({"measure_en": "  "}, "measure_en", "500 characters"),
        ({"owner_role": "admin"}, "owner_role", "agent or a manager"),
    ],
)
def test_an_invalid_rule_is_refused_with_a_clear_message(session, staff, change, field, message):
    values = {
        "name": "Test", "position": 1, "active": True, "conditions": {"satisfaction": ["detractor"]},
        "measure_de": "Anrufen", "measure_en": "Call", "owner_role": "agent", "due_days": 2, "repeat_after_days": 30,
    }  # fmt: skip
    with pytest.raises(InvalidRule) as refused:
        save_rule(session, None, {**values, **change}, staff.id, NOW)
    assert message in refused.value.errors[field]
    session.rollback()
    assert session.scalars(select(RetentionRule).where(RetentionRule.name == "Test")).first() is None


def test_accept_dismiss_done_and_the_outcome_per_rule(session, staff, app):
    from feedback.services import change_status
    from retention.outcomes import rule_outcomes
    from retention.suggestions import accept, dismiss, mark_done

    made = [make(session, f"O-{n}", {"value_class": "A", "scores": [3]}) for n in range(3)]
    bought(session, made[0], 150, 130)  # two purchases in the 90 days before the suggestion
    session.commit()
    refresh_all(session, NOW - timedelta(days=120))
    session.commit()
    high = rule(session, "High-value detractor")
    s0, s1, s2 = (
        session.scalars(select(Suggestion).where(Suggestion.customer_id == c.id, Suggestion.rule_id == high.id)).one()
        for c in made
    )
    decided = NOW - timedelta(days=112)  # a Friday
    with app.test_request_context():
        case = accept(session, s0, staff, staff, "en", decided)
    session.commit()
    assert (case.kind, case.owner_id, case.status) == ("measure", staff.id, "in_progress")
    assert case.next_due_at == datetime(2026, 8, 3, 12, 0, tzinfo=UTC)  # one working day later (Fri -> Mon)
    assert "Personal call" in case.title
    with pytest.raises(ValueError):
        dismiss(session, s1, "   ", staff, decided)
    dismiss(session, s1, "Customer asked not to be called", staff, decided)
    mark_done(session, s2, staff, decided)
    session.commit()
    # Resolving the measure's case marks its suggestion done.
    change_status(session, session.get(Case, case.id), "resolved", staff, decided + timedelta(days=1), None)
    session.commit()
    assert session.get(Suggestion, s0.id).status == "done"
    # After the measures: customer 0 answers 9 and buys three times, customer 2 answers 6.
    from tests.retention.test_customer_api import nps_answer

    nps_answer(session, made[0], 9, NOW - timedelta(days=50))
    nps_answer(session, made[2], 6, NOW - timedelta(days=40))
    bought(session, made[0], 60, 50, 40)
    session.commit()
    outcome = next(o for o in rule_outcomes(session, NOW) if o.rule.id == high.id)
    assert outcome.counts["done"] == 2 and outcome.counts["dismissed"] == 1
    assert (outcome.answered_after, outcome.score_before, outcome.score_after) == (2, 3.0, 7.5)
    assert (outcome.nps_before, outcome.nps_after) == (-100, 0)
    assert (outcome.settled, outcome.purchases_before, outcome.purchases_after) == (2, 1.0, 1.5)


def test_a_root_cause_set_on_the_case_is_a_reason_the_rules_read_at_once(session, staff):
    from feedback.services import set_root_cause
    from tests.feedback_helpers import answered

    case = answered(session, 1, 3)  # a detractor answer opens a case; the customer is placed at once
    high_value = rule(session, "Detractor citing price, high value")
    low_value = rule(session, "Detractor citing price, low value")
    assert "Detractor citing price, low value" not in fired(session, case.customer)  # no reason given yet
    set_root_cause(session, case, "price", staff, datetime.now(UTC), None)
    session.commit()
    made = session.scalars(select(Suggestion).where(Suggestion.customer_id == case.customer_id)).all()
    by_rule = {s.rule_id: s for s in made}
    assert low_value.id in by_rule and high_value.id not in by_rule  # not classified yet: counted as C
    assert by_rule[low_value.id].reason == "price"


def test_the_same_suggestion_statement_runs_again_and_again(session):
    """psycopg prepares a statement after five runs and PostgreSQL may then plan it generically, without the
    parameter values; the live-suggestion upsert must still find its partial index."""
    from sqlalchemy import text

    from retention.suggestions import suggest

    customers = [make(session, f"P-{n}", {"value_class": "A", "scores": [3]}) for n in range(8)]
    session.commit()
    refresh_all(session, NOW)
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    for c in customers:
        suggest(session, NOW + timedelta(days=1), id_range=(c.id, c.id))  # the SQL form, as the nightly refresh
    session.commit()
    high = rule(session, "High-value detractor")
    assert session.query(Suggestion).filter_by(rule_id=high.id).count() == 8


def test_the_rules_checked_row_by_row_agree_with_the_sql_form(session):
    """An answer checks one customer in Python, the nightly refresh everyone in SQL: same suggestions."""
    from retention.models import CustomerSegment
    from retention.rules import active_rules
    from retention.suggestions import suggest, suggest_one

    made = [make(session, f"Q-{name}-{n}", spec) for name, (target, others) in CASES.items()
            for n, spec in enumerate([target, *others])]  # fmt: skip
    session.commit()
    refresh_all(session, NOW)  # places everyone and runs the SQL form
    session.commit()
    by_sql = sorted(session.execute(select(Suggestion.customer_id, Suggestion.rule_id, Suggestion.reason)).all())
    session.query(Suggestion).delete()
    session.commit()
    rules = active_rules(session)
    for c in made:
        suggest_one(session, NOW, c.id, rules)
    session.commit()
    by_python = sorted(session.execute(select(Suggestion.customer_id, Suggestion.rule_id, Suggestion.reason)).all())
    assert by_python == by_sql and len(by_sql) > len(CASES)
    assert session.query(CustomerSegment).count() == len(made)
    assert suggest(session, NOW, [made[0].id]) == 0  # nothing twice


def test_the_answer_path_reads_earlier_suggestions_with_the_segment_move(session, staff):
    """One statement moves the score and brings the customer's suggestions (PostgreSQL); a dismissed suggestion
    holds the rule back for its repeat period, an open one lapses when the rule stops matching."""
    from types import SimpleNamespace

    from retention.segments import apply_answer
    from retention.suggestions import dismiss

    c = make(session, "E-1", {"value_class": "A", "revenue": 5000, "scores": [10]})
    session.commit()
    refresh_all(session, NOW)
    session.commit()
    high = rule(session, "High-value detractor")

    def answer(score: int, at: datetime) -> None:
        apply_answer(session, SimpleNamespace(customer_id=c.id, score=score, created_at=at), at)
        session.commit()

    def mine() -> list[str]:
        found = select(Suggestion.status).where(Suggestion.customer_id == c.id, Suggestion.rule_id == high.id)
        return sorted(session.scalars(found.order_by(Suggestion.id)))

    answer(2, NOW)
    assert mine() == ["open"]
    suggestion = session.scalars(select(Suggestion).where(Suggestion.rule_id == high.id)).one()
    dismiss(session, suggestion, "Hat schon einen Termin", staff, NOW)
    session.commit()
    answer(3, NOW + timedelta(days=1))
    assert mine() == ["dismissed"]  # within the repeat period: not suggested again
    answer(1, NOW + timedelta(days=high.repeat_after_days + 2))
    assert mine() == ["dismissed", "open"]
    answer(10, NOW + timedelta(days=high.repeat_after_days + 3))
    assert mine() == ["dismissed", "lapsed"]

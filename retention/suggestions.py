"""Retention suggestions: made by the rules, worked by people, and counted by outcome.

A suggestion is open until someone accepts it (it becomes a case in the feedback queue, with owner and
deadline), dismisses it with a reason, or marks it done. A done or dismissed suggestion stops the same rule
from suggesting again to that customer for the rule's `repeat_after_days`. An open suggestion whose
customer no longer matches (the detractor answered 10 since) lapses at the next refresh, and may come back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import (
    ARRAY,
    JSON,
    Integer,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.orm import Session

from customers.models import Customer
from feedback.models import Case
from feedback.priority import add_working_days
from feedback.services import open_measure
from kundenpuls import audit
from kundenpuls.dialect import name_of, upsert_insert
from kundenpuls.models import User
from retention.models import LIVE_SQL, SUGGESTION_OPEN, CustomerSegment, RetentionRule, Suggestion
from retention.rules import active_rules, condition, matches, sentence

MAX_DISMISS_REASON = 500
OUTCOME_DAYS = 90
# A measure accepted in the queue ranks by its deadline like a case with this many points; a due in 0-1 days
# counts as high priority.
MEASURE_POINTS = {0: 45, 1: 40}
FACT_COLUMNS = (
    "value_class", "phase", "satisfaction", "score", "previous_score", "portfolio", "purchases_recent",
    "purchases_before",
)  # fmt: skip


class SuggestionConflict(ValueError):
    """The suggestion was already settled (someone else was quicker)."""


def _repeat_blocked(rule: RetentionRule):
    """A live suggestion of this rule for the customer, or one settled since `since_<rule id>`."""
    since = bindparam(f"since_{rule.id}", type_=Suggestion.created_at.type)
    return (
        select(Suggestion.id)
        .where(
            Suggestion.customer_id == CustomerSegment.customer_id,
            Suggestion.rule_id == rule.id,
            or_(
                Suggestion.status.in_(SUGGESTION_OPEN),
                and_(
                    Suggestion.status.in_(("done", "dismissed")),
                    func.coalesce(Suggestion.done_at, Suggestion.decided_at) > since,
                ),
            ),
        )
        .exists()
    )


# Built statements per (dialect, scope kind, rules as they are): an answer runs the rules for one customer, and
# building nine rule conditions into one statement costs more than running it.
_STATEMENTS: dict[tuple, tuple] = {}


def _statements(session: Session, by_ids: bool, rules: list[RetentionRule]) -> tuple:
    """(lapse UPDATE, suggestion INSERT) for these rules, with the scope and times as bound parameters."""
    dialect = name_of(session)
    signature = tuple((r.id, json.dumps(r.conditions, sort_keys=True), r.repeat_after_days) for r in rules)
    key = (dialect, by_ids, signature)
    if key in _STATEMENTS:
        return _STATEMENTS[key]
    if by_ids:
        # = ANY(array) rather than an expanding IN: the SQL text stays the same for any number of customers,
        # so it is not rewritten per call and the driver can prepare it.
        scope = CustomerSegment.customer_id == func.any(bindparam("ids", type_=ARRAY(Integer)))
    else:
        scope = CustomerSegment.customer_id.between(bindparam("low"), bindparam("high"))
    now = bindparam("now", type_=Suggestion.created_at.type)
    selects, still = [], []
    for rule in rules:
        where, reason = condition(rule.conditions, CustomerSegment)
        still.append(and_(Suggestion.rule_id == rule.id, where))
        selects.append(
            select(
                CustomerSegment.customer_id,
                literal(rule.id),
                literal("open"),
                now,
                literal(rule.conditions, JSON),
                *(getattr(CustomerSegment, name) for name in FACT_COLUMNS),
                reason if reason is not None else literal(None, Suggestion.reason.type),
            ).where(where, scope, ~_repeat_blocked(rule))
        )
    matching = select(CustomerSegment.customer_id).where(
        CustomerSegment.customer_id == Suggestion.customer_id, or_(*still)
    )
    lapse = (
        update(Suggestion)
        .where(
            Suggestion.status == "open",
            Suggestion.rule_id.in_([rule.id for rule in rules]),
            Suggestion.customer_id.in_(select(CustomerSegment.customer_id).where(scope)),
            ~matching.exists(),
        )
        .values(status="lapsed", decided_at=now)
    )
    columns = ["customer_id", "rule_id", "status", "created_at", "conditions", *FACT_COLUMNS, "reason"]
    source = selects[0] if len(selects) == 1 else selects[0].union_all(*selects[1:])
    insert = (
        upsert_insert(dialect)(Suggestion.__table__)
        .from_select(columns, select(source.subquery()).where(true()))
        .on_conflict_do_nothing(
            # The partial index's predicate as literal SQL: with bound values PostgreSQL cannot match it to the
            # index once the statement is prepared (psycopg prepares after a few executions).
            index_elements=["customer_id", "rule_id"],
            index_where=text(LIVE_SQL),
        )
        .returning(Suggestion.id)
    )
    if len(_STATEMENTS) > 64:
        _STATEMENTS.clear()
    _STATEMENTS[key] = (lapse, insert)
    return lapse, insert


def suggest(
    session: Session,
    now: datetime,
    customer_ids: list[int] | None = None,
    id_range: tuple[int, int] | None = None,
    rules: list[RetentionRule] | None = None,
) -> int:
    """Let every active rule fire on the customers in scope (everyone by default): one INSERT for all rules.

    Returns the suggestions made. Open suggestions whose rule no longer matches their customer lapse."""
    rules = active_rules(session) if rules is None else rules
    if not rules or (customer_ids is not None and not customer_ids):
        return 0
    if customer_ids is not None and len(customer_ids) <= FEW:
        return sum(suggest_one(session, now, customer_id, rules) for customer_id in customer_ids)
    if customer_ids is None and id_range is None:
        low, high = session.execute(
            select(func.min(CustomerSegment.customer_id), func.max(CustomerSegment.customer_id))
        ).one()
        id_range = (low or 0, high or 0)
    lapse, insert = _statements(session, customer_ids is not None, rules)
    params = {"now": now, **{f"since_{r.id}": now - timedelta(days=r.repeat_after_days) for r in rules}}
    params.update(
        {"ids": list(customer_ids)} if customer_ids is not None else {"low": id_range[0], "high": id_range[1]}
    )
    session.execute(lapse, params, execution_options={"synchronize_session": False})
    return len(session.execute(insert, params).all())


FEW = 5  # up to this many customers, the rules are checked row by row in Python (no statement to plan)


class EarlierSuggestion(NamedTuple):
    id: int
    rule_id: int
    status: str
    done_at: datetime | None
    decided_at: datetime | None


def earlier_suggestion(id: int, rule_id: int, status: str, done_at, decided_at) -> EarlierSuggestion:  # noqa: A002
    """One of the customer's suggestions as the answer statement returns them (JSON: times as ISO text, UTC)."""
    return EarlierSuggestion(id, rule_id, status, _utc(done_at), _utc(decided_at))


def _utc(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None


def suggest_one(session: Session, now: datetime, customer_id: int, rules: list, facts=None) -> int:
    """The rules on one customer (an answer, a root cause): the segment row (unless its `facts` are given) and
    the customer's suggestions are read once (unless `facts.earlier` brings them), the rules checked with
    `matches`, and only what fires is written. `rules` are RetentionRule rows or retention.rules.RuleSpec."""
    segment = facts if facts is not None else session.get(CustomerSegment, customer_id, populate_existing=True)
    if segment is None:
        return 0
    earlier = getattr(segment, "earlier", None)
    if earlier is None:
        earlier = session.execute(
            select(
                Suggestion.id, Suggestion.rule_id, Suggestion.status, Suggestion.done_at, Suggestion.decided_at
            ).where(Suggestion.customer_id == customer_id)
        ).all()
    rows, lapsed = [], []
    for rule in rules:
        fires, reason = matches(rule.conditions, segment)
        mine = [e for e in earlier if e.rule_id == rule.id]
        if not fires:
            lapsed += [e.id for e in mine if e.status == "open"]
            continue
        since = now - timedelta(days=rule.repeat_after_days)
        blocked = any(
            e.status in SUGGESTION_OPEN
            or (
                e.status in ("done", "dismissed")
                and (e.done_at or e.decided_at)
                and (e.done_at or e.decided_at) > since
            )
            for e in mine
        )
        if not blocked:
            rows.append(
                {"customer_id": customer_id, "rule_id": rule.id, "status": "open", "created_at": now,
                 "conditions": rule.conditions, "reason": reason,
                 **{name: getattr(segment, name) for name in FACT_COLUMNS}}
            )  # fmt: skip
    if lapsed:
        session.execute(
            update(Suggestion).where(Suggestion.id.in_(lapsed)).values(status="lapsed", decided_at=now),
            execution_options={"synchronize_session": False},
        )
    if not rows:
        return 0
    return sum(session.execute(_SUGGEST, row).rowcount for row in rows)


# Plain SQL for both databases (see retention.cells._MOVE): one suggestion, unless one is live already.
_SUGGEST_COLUMNS = ("customer_id", "rule_id", "status", "created_at", "conditions", "reason", *FACT_COLUMNS)
_SUGGEST = text(
    f"INSERT INTO suggestions ({', '.join(_SUGGEST_COLUMNS)}) "
    f"VALUES ({', '.join(':' + name for name in _SUGGEST_COLUMNS)}) "
    f"ON CONFLICT (customer_id, rule_id) WHERE {LIVE_SQL} DO NOTHING"
).bindparams(
    bindparam("conditions", type_=JSON),
    bindparam("created_at", type_=Suggestion.created_at.type),
)


def _settle(suggestion: Suggestion, status: str, actor: User, now: datetime) -> dict:
    if suggestion.status != "open":
        raise SuggestionConflict(suggestion.status)
    before = {"status": suggestion.status}
    suggestion.status = status
    suggestion.decided_at = now
    suggestion.decided_by_id = actor.id
    return before


def accept(
    session: Session, suggestion: Suggestion, owner: User | None, actor: User, locale: str, now: datetime
) -> Case:
    """The measure becomes a case in the queue: the owner, and a deadline of the rule's due days."""
    rule = suggestion.rule
    before = _settle(suggestion, "accepted", actor, now)
    customer = session.get(Customer, suggestion.customer_id)
    case = open_measure(
        session,
        customer,
        sentence(rule, locale, suggestion, suggestion.conditions),
        owner,
        add_working_days(now, rule.due_days),
        MEASURE_POINTS.get(rule.due_days, 20),
        rule.name,
        actor,
        now,
    )
    suggestion.case_id = case.id
    session.flush()
    after = {"status": "accepted", "case": case.id, "owner": owner.email if owner else None}
    audit.record(session, "suggestion", suggestion.id, "accepted", actor.id, now, before, after)
    return case


def dismiss(session: Session, suggestion: Suggestion, reason: str, actor: User, now: datetime) -> None:
    """Not worth doing for this customer: the reason is required, so managers can learn from it."""
    reason = " ".join((reason or "").split())
    if not reason or len(reason) > MAX_DISMISS_REASON:
        raise ValueError("reason")
    before = _settle(suggestion, "dismissed", actor, now)
    suggestion.dismiss_reason = reason
    session.flush()
    audit.record(
        session, "suggestion", suggestion.id, "dismissed", actor.id, now, before, {"status": "dismissed"}, reason
    )


def mark_done(session: Session, suggestion: Suggestion, actor: User | None, now: datetime) -> None:
    """Done straight away (a measure that needed no case), or when the accepted measure's case is resolved."""
    if suggestion.status not in SUGGESTION_OPEN:
        raise SuggestionConflict(suggestion.status)
    before = {"status": suggestion.status}
    if suggestion.status == "open":
        suggestion.decided_at = now
        suggestion.decided_by_id = actor.id if actor else None
    suggestion.status = "done"
    suggestion.done_at = now
    session.flush()
    actor_id = actor.id if actor else None
    audit.record(session, "suggestion", suggestion.id, "done", actor_id, now, before, {"status": "done"})


def on_case_closed(case: Case, session: Session, now: datetime, **_: object) -> None:
    """Receiver of feedback.signals.case_closed: a resolved measure is done; won't fix dismisses it."""
    if case.kind != "measure":
        return
    suggestion = session.scalars(select(Suggestion).where(Suggestion.case_id == case.id)).one_or_none()
    if suggestion is None or suggestion.status != "accepted":
        return
    if case.status == "resolved":
        mark_done(session, suggestion, None, now)
        return
    suggestion.status = "dismissed"
    suggestion.dismiss_reason = "case closed as won't fix"
    session.flush()
    audit.record(
        session, "suggestion", suggestion.id, "dismissed", None, now, {"status": "accepted"}, {"status": "dismissed"}
    )


def customer_suggestions(session: Session, customer_id: int) -> list[Suggestion]:
    """Live suggestions first, then the settled ones, newest first."""
    live = case((Suggestion.status.in_(SUGGESTION_OPEN), 0), else_=1)
    return list(
        session.scalars(
            select(Suggestion)
            .where(Suggestion.customer_id == customer_id)
            .order_by(live, Suggestion.created_at.desc(), Suggestion.id.desc())
            .limit(50)
        )
    )


def open_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(Suggestion.status == "open")) or 0)


def open_suggestions(
    session: Session, rule_id: int | None, owner_role: str | None, page: int, page_size: int
) -> tuple[list[tuple[Suggestion, Customer]], int]:
    """Open suggestions, most valuable customers first; with the count for paging."""
    statement = (
        select(Suggestion, Customer)
        .join(Customer, Customer.id == Suggestion.customer_id)
        .join(RetentionRule, RetentionRule.id == Suggestion.rule_id)
        .where(Suggestion.status == "open")
    )
    if rule_id is not None:
        statement = statement.where(Suggestion.rule_id == rule_id)
    if owner_role is not None:
        statement = statement.where(RetentionRule.owner_role == owner_role)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.execute(
        statement.order_by(RetentionRule.due_days, Customer.revenue_12m.desc().nulls_last(), Suggestion.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return [(s, c) for s, c in rows], int(total)

"""What separates promoters from detractors: every attribute tested, corrected for many tests, in plain words.

Numeric attributes: Mann-Whitney U (two-sided), effect size Cliff's delta (-1..1, promoters vs detractors).
Categorical attributes: each value against the rest in a 2x2 table, chi-square, or Fisher's exact test when an
expected count is under 5; effect size phi, and the ratio of shares for the sentence. All p-values together are
corrected with Benjamini-Hochberg (SciPy's false_discovery_control). Passives are left out on purpose.
"""

from __future__ import annotations

from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from scipy.stats import chi2_contingency, false_discovery_control, fisher_exact, mannwhitneyu
from sqlalchemy import Float, and_, case, cast, func, literal_column, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, aliased

from analytics.follow_up_reports import choice_counts
from analytics.follow_up_reports import findings as follow_up_findings
from analytics.models import AnswerFact
from analytics.queries import ReportFilter, _answer_filters, _customer_filters, survey_filters
from analytics.themes import themes
from customers.models import Customer, Purchase
from kundenpuls.dialect import POSTGRESQL, is_postgresql, set_local
from surveys.kinds import NPS
from surveys.models import ChurnReason, Invitation, Response, ResponseReason

ALPHA = 0.05
NUMERIC = {  # the AnswerFact columns, with their labels
    "order_value": "order value",
    "margin": "margin",
    "purchases_per_year": "purchases per year",
    "tenure_days": "days since first purchase",
    "answer_delay_days": "days from purchase to answer",
}
CATEGORICAL = {
    "category": "category",
    "segment": "value class",
    "phase": "lifecycle phase",
    "language": "language",
    "channel": "channel",
    "churn_reason": "churn reason",
}


@dataclass
class Finding:
    attribute: str
    kind: str  # numeric | categorical
    level: str | None
    test: str
    p_value: float
    q_value: float
    effect: float
    sentence: str
    promoters_value: float
    detractors_value: float

    @property
    def significant(self) -> bool:
        return self.q_value < ALPHA


@dataclass
class DriverReport:
    promoters: int
    detractors: int
    findings: list[Finding]
    themes: dict[str, list[tuple[str, int]]]


def _base(session: Session, start: date, end: date, filters: ReportFilter, *columns):
    """Promoter and detractor answers in the range with their purchase and customer, filtered."""
    statement = (
        select(*columns)
        .select_from(Response)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .outerjoin(Purchase, Purchase.id == Invitation.purchase_id)
        .outerjoin(Customer, Customer.id == Response.customer_id)
        .where(
            Response.created_at >= datetime.combine(start, time(), UTC),
            Response.created_at < datetime.combine(end + timedelta(days=1), time(), UTC),
            NPS.sql_in(Response.score, "promoter") | NPS.sql_in(Response.score, "detractor"),
        )
    )
    statement = _answer_filters(statement, ReportFilter(filters.survey_id, filters.locale, channel=filters.channel))
    if filters.segment:
        statement = statement.where(Customer.value_class == filters.segment)
    if filters.phase:
        statement = statement.where(Customer.lifecycle_phase == filters.phase)
    if filters.category:
        statement = statement.where(Purchase.category == filters.category)
    return statement


def _facts(start: date, end: date, filters: ReportFilter, *columns):
    """The same answers as _base, from their recorded facts: no join unless a customer filter asks for one."""
    statement = select(*columns).where(
        AnswerFact.answered_at >= datetime.combine(start, time(), UTC),
        AnswerFact.answered_at < datetime.combine(end + timedelta(days=1), time(), UTC),
        NPS.sql_in(AnswerFact.score, "promoter") | NPS.sql_in(AnswerFact.score, "detractor"),
    )
    statement = survey_filters(statement, filters, AnswerFact.survey_id, AnswerFact.locale)
    if filters.category:
        statement = statement.where(AnswerFact.category == filters.category)
    if filters.channel:
        statement = statement.where(AnswerFact.channel == filters.channel)
    return _customer_filters(statement, filters, AnswerFact.customer_id)


def numeric_columns(session: Session, start: date, end: date, filters: ReportFilter) -> dict[str, np.ndarray]:
    """Per answer: promoter flag and the numeric attributes, as recorded with the answer (analytics.facts),
    streamed into arrays."""
    statement = _facts(
        start,
        end,
        filters,
        case((NPS.sql_in(AnswerFact.score, "promoter"), 1), else_=0).label("promoter"),
        *(getattr(AnswerFact, name) for name in NUMERIC),
    )
    names = ("promoter", *NUMERIC)
    if is_postgresql(session):
        return _fetch_floats(session, statement, names)
    columns: dict[str, array] = {name: array("d") for name in names}
    for chunk in session.execute(statement.execution_options(yield_per=50_000)).partitions():
        for row in chunk:
            for name, value in zip(names, row, strict=True):
                columns[name].append(float("nan") if value is None else float(value))
    return {name: np.frombuffer(values, dtype=float) if values else np.array([]) for name, values in columns.items()}


ARRAY_HEADER = 20  # PostgreSQL's binary array: ndim, has-nulls flag, element type, length, lower bound
ELEMENT = np.dtype([("length", ">i4"), ("value", ">f8")])


def _fetch_floats(session: Session, statement, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """PostgreSQL: each column comes back as one float8 array in PostgreSQL's binary array format
    (array_send of array_agg, NULL as NaN), which numpy reads as it is: one row instead of a million, and no
    Python object per value (the row-by-row fetch took five times as long as the query)."""
    nan = literal_column("'NaN'::float8")
    source = statement.subquery()
    packed = select(*(func.array_send(func.array_agg(func.coalesce(cast(column, Float), nan))) for column in source.c))
    sql = str(packed.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}))
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(sql)
        row = cursor.fetchone()
    finally:
        cursor.close()
    return {name: _float_array(data) for name, data in zip(names, row, strict=True)}


def _float_array(data: bytes | None) -> np.ndarray:
    """Values of a one-dimensional float8 array in binary form (None or an empty array: no values)."""
    if data is None or len(data) <= ARRAY_HEADER:
        return np.array([], dtype=float)
    return np.frombuffer(data, dtype=ELEMENT, offset=ARRAY_HEADER)["value"].astype(float)


_COLUMNS = {
    "category": Purchase.category,
    "segment": Customer.value_class,
    "phase": Customer.lifecycle_phase,
    "language": Response.locale,
    "channel": Response.channel,
}


def _latest_churn_reason():
    """Per customer: the main reason (key) of their latest churn answer. Churn answers are few, so this is a
    small derived table joined once, not a lookup per answer."""
    churn = aliased(Response)
    ranked = (
        select(
            churn.customer_id.label("customer_id"),
            ChurnReason.key.label("reason"),
            func.row_number()
            .over(partition_by=churn.customer_id, order_by=(churn.created_at.desc(), churn.id.desc()))
            .label("rank"),
        )
        .join(ResponseReason, ResponseReason.response_id == churn.id)
        .join(ChurnReason, ChurnReason.id == ResponseReason.reason_id)
        .where(ResponseReason.main.is_(True))
        .subquery("latest_churn")
    )
    return ranked


def category_counts(session: Session, start: date, end: date, filters: ReportFilter, attribute: str) -> dict:
    """{value: (promoters, detractors)} for one categorical attribute, counted in SQL.

    The lifecycle phase and the churn reason are today's: what became of promoters and detractors.
    """
    promoter = NPS.sql_in(Response.score, "promoter")
    counts = (func.count().filter(promoter), func.count().filter(~promoter))
    if attribute == "churn_reason":
        latest = _latest_churn_reason()
        statement = _base(session, start, end, filters, latest.c.reason, *counts).join(
            latest, and_(latest.c.customer_id == Response.customer_id, latest.c.rank == 1)
        )
        column = latest.c.reason
    else:
        column = _COLUMNS[attribute]
        statement = _base(session, start, end, filters, column, *counts)
    return {value: (int(p), int(d)) for value, p, d in session.execute(statement.group_by(column)) if value is not None}


def all_category_counts(session: Session, start: date, end: date, filters: ReportFilter) -> dict[str, dict]:
    """{attribute: {value: (promoters, detractors)}} for every categorical attribute.

    PostgreSQL counts the customer and answer attributes in one scan with GROUPING SETS (one query per
    attribute read the answers four times); SQLite has no grouping sets and counts them one by one.
    """
    if not is_postgresql(session):
        return {attribute: category_counts(session, start, end, filters, attribute) for attribute in CATEGORICAL}
    columns = _COLUMNS
    promoter = NPS.sql_in(Response.score, "promoter")
    statement = _base(
        session,
        start,
        end,
        filters,
        *columns.values(),
        *(func.grouping(column) for column in columns.values()),
        func.count().filter(promoter),
        func.count().filter(~promoter),
    ).group_by(func.grouping_sets(*columns.values()))
    result: dict[str, dict] = {attribute: {} for attribute in CATEGORICAL}
    width = len(columns)
    for row in session.execute(statement):
        values, grouped, (promoters, detractors) = row[:width], row[width : 2 * width], row[2 * width :]
        attribute = next(name for name, flag in zip(columns, grouped, strict=True) if flag == 0)
        value = values[list(columns).index(attribute)]
        if value is not None:
            result[attribute][value] = (int(promoters), int(detractors))
    result["churn_reason"] = category_counts(session, start, end, filters, "churn_reason")
    return result


def recent_comments(session: Session, start: date, end: date, filters: ReportFilter, promoters: bool, limit: int):
    statement = _base(session, start, end, filters, Response.comment).where(
        Response.comment.is_not(None), NPS.sql_in(Response.score, "promoter" if promoters else "detractor")
    )
    return list(session.scalars(statement.order_by(Response.created_at.desc()).limit(limit)))


def _numeric(columns: dict[str, np.ndarray], attribute: str) -> Finding | None:
    values, promoter = columns[attribute], columns["promoter"] == 1
    known = ~np.isnan(values)
    promoters, detractors = values[known & promoter], values[known & ~promoter]
    if len(promoters) < 2 or len(detractors) < 2 or np.unique(values[known]).size < 2:
        return None
    result = mannwhitneyu(promoters, detractors, alternative="two-sided")
    cliffs = 2 * result.statistic / (len(promoters) * len(detractors)) - 1
    p_median, d_median = float(np.median(promoters)), float(np.median(detractors))
    label = NUMERIC[attribute]
    ratio = f" ({p_median / d_median:.1f}x)" if d_median else ""
    sentence = f"Promoters' median {label} is {p_median:.1f} vs {d_median:.1f} for detractors{ratio}."
    return Finding(
        attribute, "numeric", None, "Mann-Whitney U", float(result.pvalue), 1.0, float(cliffs), sentence,
        p_median, d_median,
    )  # fmt: skip


def two_by_two_test(table: np.ndarray) -> tuple[str, float]:
    """Chi-square on a 2x2 table, Fisher exact when an expected count is under 5; (test name, p-value)."""
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    if (expected < 5).any():
        return "Fisher exact", float(fisher_exact(table).pvalue)
    return "chi-square", float(chi2_contingency(table).pvalue)


def _categorical(counts: dict, attribute: str) -> list[Finding]:
    findings = []
    n_p, n_d = sum(p for p, _ in counts.values()), sum(d for _, d in counts.values())
    if n_p == 0 or n_d == 0 or len(counts) < 2:
        return findings
    for value in sorted(counts):
        in_p, in_d = counts[value]
        table = np.array([[in_p, n_p - in_p], [in_d, n_d - in_d]])
        test, p_value = two_by_two_test(table)
        share_p, share_d = in_p / n_p, in_d / n_d
        label = CATEGORICAL[attribute]
        # A share against zero has no ratio: say it plainly instead of "∞ as often".
        if share_d >= share_p and not share_p:
            sentence = f"{share_d:.0%} of detractors are in {label} {value}, no promoter is."
        elif share_d >= share_p:
            sentence = (
                f"Detractors are {share_d / share_p:.1f}x as often in {label} {value} ({share_d:.0%} vs {share_p:.0%})."
            )
        elif not share_d:
            sentence = f"{share_p:.0%} of promoters are in {label} {value}, no detractor is."
        else:
            sentence = (
                f"Promoters are {share_p / share_d:.1f}x as often in {label} {value} ({share_p:.0%} vs {share_d:.0%})."
            )
        findings.append(
            Finding(attribute, "categorical", str(value), test, p_value, 1.0, _phi(table), sentence, share_p, share_d)
        )
    return findings


def _phi(table: np.ndarray) -> float:
    (a, b), (c, d) = table.astype(float)
    denominator = np.sqrt((a + b) * (c + d) * (a + c) * (b + d))
    return float((a * d - b * c) / denominator) if denominator else 0.0


THEME_COMMENTS = 5000  # the latest comments per group feed the themes


def _category_counts_aside(engine: Engine, start: date, end: date, filters: ReportFilter) -> dict | None:
    """all_category_counts in a connection of its own (PostgreSQL), which sees committed answers only, as any
    report request does; None on SQLite, which counts in the report's own session."""
    if engine.dialect.name != POSTGRESQL:
        return None
    with Session(engine) as own:
        set_local(own, "work_mem", "128MB")
        set_local(own, "jit", "off")
        counts = all_category_counts(own, start, end, filters)
        own.rollback()
        return counts


def driver_report(session: Session, start: date, end: date, filters: ReportFilter) -> DriverReport:
    if is_postgresql(session):
        # Hash aggregates over a million answers spill to disk with the default 4 MB; compiling the expressions
        # (JIT) costs more than it saves on these scans. This transaction only.
        set_local(session, "work_mem", "128MB")
        set_local(session, "jit", "off")
    with ThreadPoolExecutor(max_workers=len(NUMERIC)) as pool:
        # PostgreSQL counts the categories in a second connection meanwhile: the database works while numpy
        # ranks the numeric attributes.
        counting = pool.submit(_category_counts_aside, session.get_bind(), start, end, filters)
        columns = numeric_columns(session, start, end, filters)
        # The rank sums sort a million values per attribute; numpy sorts without the GIL.
        numeric = list(pool.map(lambda attribute: _numeric(columns, attribute), NUMERIC))
        counts = counting.result()
        if counts is None:  # SQLite: counted here
            counts = all_category_counts(session, start, end, filters)
    findings: list[Finding] = [finding for finding in numeric if finding is not None]
    for attribute in CATEGORICAL:
        findings.extend(_categorical(counts[attribute], attribute))
    # Follow-up choices (analytics.follow_up_reports): the same 2x2 test, among the answers to their question.
    findings.extend(follow_up_findings(choice_counts(session, start, end, filters), two_by_two_test, _phi, Finding))
    if findings:
        corrected = false_discovery_control([f.p_value for f in findings], method="bh")
        for finding, q_value in zip(findings, corrected, strict=True):
            finding.q_value = float(q_value)
    # Significant findings first (a large effect on a handful of answers is not a finding), then by effect size.
    findings.sort(key=lambda f: (not f.significant, -abs(f.effect), f.q_value))
    promoter = columns["promoter"]
    return DriverReport(
        promoters=int((promoter == 1).sum()),
        detractors=int((promoter == 0).sum()),
        findings=findings,
        themes={
            group: themes(recent_comments(session, start, end, filters, group == "promoter", THEME_COMMENTS))
            for group in ("promoter", "detractor")
        },
    )

"""What separates promoters from detractors: every attribute tested, corrected for many tests, in plain words.

Numeric attributes: Mann-Whitney U (two-sided), effect size Cliff's delta (-1..1, promoters vs detractors).
Categorical attributes: each value against the rest in a 2x2 table, chi-square, or Fisher's exact test when an
expected count is under 5; effect size phi, and the ratio of shares for the sentence. All p-values together are
corrected with Benjamini-Hochberg (SciPy's false_discovery_control). Passives are left out on purpose.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import median

import numpy as np
from scipy.stats import chi2_contingency, false_discovery_control, fisher_exact, mannwhitneyu
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics.queries import ReportFilter, _answer_filters
from customers.models import Customer, Purchase
from surveys.models import Invitation, Response

ALPHA = 0.05
NUMERIC = {
    "order_value": "order value",
    "margin": "margin",
    "purchases_per_year": "purchases per year",
    "tenure_days": "days since first purchase",
    "answer_delay_days": "days from purchase to answer",
}
CATEGORICAL = {"category": "category", "segment": "value class", "language": "language"}


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


def driver_rows(session: Session, start: date, end: date, filters: ReportFilter) -> list[dict]:
    """One row per promoter or detractor answer with the attributes of its purchase and customer."""
    history = (
        select(
            Purchase.customer_id.label("customer_id"),
            func.min(Purchase.purchased_at).label("first_purchase"),
            func.count().label("purchases"),
        )
        .group_by(Purchase.customer_id)
        .subquery()
    )
    statement = (
        select(
            Response.score,
            Response.comment,
            Response.locale,
            Response.created_at,
            Purchase.amount,
            Purchase.margin,
            Purchase.category,
            Purchase.purchased_at,
            Customer.value_class,
            history.c.first_purchase,
            history.c.purchases,
        )
        .select_from(Response)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .outerjoin(Purchase, Purchase.id == Invitation.purchase_id)
        .outerjoin(Customer, Customer.id == Response.customer_id)
        .outerjoin(history, history.c.customer_id == Response.customer_id)
        .where(
            Response.created_at >= datetime.combine(start, time(), UTC),
            Response.created_at < datetime.combine(end + timedelta(days=1), time(), UTC),
            (Response.score >= 9) | (Response.score <= 6),
        )
    )
    filters_without_joins = ReportFilter(filters.survey_id, filters.locale, None, None)
    statement = _answer_filters(statement, filters_without_joins)
    if filters.segment:
        statement = statement.where(Customer.value_class == filters.segment)
    if filters.category:
        statement = statement.where(Purchase.category == filters.category)
    rows = []
    for r in session.execute(statement):
        tenure = (r.created_at - r.first_purchase).days if r.first_purchase else None
        rows.append(
            {
                "group": "promoter" if r.score >= 9 else "detractor",
                "comment": r.comment,
                "order_value": float(r.amount) if r.amount is not None else None,
                "margin": float(r.margin) if r.margin is not None else None,
                "purchases_per_year": r.purchases / max(tenure / 365.0, 1.0)
                if r.purchases and tenure is not None
                else None,
                "tenure_days": tenure,
                "answer_delay_days": (r.created_at - r.purchased_at).total_seconds() / 86400
                if r.purchased_at
                else None,
                "category": r.category,
                "segment": r.value_class,
                "language": r.locale,
            }
        )
    return rows


def _numeric(rows: list[dict], attribute: str) -> Finding | None:
    promoters = [r[attribute] for r in rows if r["group"] == "promoter" and r[attribute] is not None]
    detractors = [r[attribute] for r in rows if r["group"] == "detractor" and r[attribute] is not None]
    if len(promoters) < 2 or len(detractors) < 2 or len(set(promoters + detractors)) < 2:
        return None
    result = mannwhitneyu(promoters, detractors, alternative="two-sided")
    cliffs = 2 * result.statistic / (len(promoters) * len(detractors)) - 1
    p_median, d_median = median(promoters), median(detractors)
    label = NUMERIC[attribute]
    ratio = f" ({p_median / d_median:.1f}x)" if d_median else ""
    sentence = f"Promoters' median {label} is {p_median:.1f} vs {d_median:.1f} for detractors{ratio}."
    return Finding(
        attribute, "numeric", None, "Mann-Whitney U", float(result.pvalue), 1.0, float(cliffs), sentence,
        p_median, d_median,
    )  # fmt: skip


def _categorical(rows: list[dict], attribute: str) -> list[Finding]:
    findings = []
    values = sorted({r[attribute] for r in rows if r[attribute] is not None})
    n_p = sum(1 for r in rows if r["group"] == "promoter" and r[attribute] is not None)
    n_d = sum(1 for r in rows if r["group"] == "detractor" and r[attribute] is not None)
    if n_p == 0 or n_d == 0 or len(values) < 2:
        return findings
    for value in values:
        in_p = sum(1 for r in rows if r["group"] == "promoter" and r[attribute] == value)
        in_d = sum(1 for r in rows if r["group"] == "detractor" and r[attribute] == value)
        table = np.array([[in_p, n_p - in_p], [in_d, n_d - in_d]])
        expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
        if (expected < 5).any():
            test, p_value = "Fisher exact", float(fisher_exact(table).pvalue)
        else:
            test, p_value = "chi-square", float(chi2_contingency(table).pvalue)
        share_p, share_d = in_p / n_p, in_d / n_d
        phi = _phi(table)
        label = CATEGORICAL[attribute]
        if share_d >= share_p:
            times = f"{share_d / share_p:.1f}x as often" if share_p else "only"
            sentence = f"Detractors are {times} in {label} {value} ({share_d:.0%} vs {share_p:.0%})."
        else:
            times = f"{share_p / share_d:.1f}x as often" if share_d else "only"
            sentence = f"Promoters are {times} in {label} {value} ({share_p:.0%} vs {share_d:.0%})."
        findings.append(
            Finding(attribute, "categorical", str(value), test, p_value, 1.0, phi, sentence, share_p, share_d)
        )
    return findings


def _phi(table: np.ndarray) -> float:
    (a, b), (c, d) = table.astype(float)
    denominator = np.sqrt((a + b) * (c + d) * (a + c) * (b + d))
    return float((a * d - b * c) / denominator) if denominator else 0.0


STOP_WORDS = frozenset(
    [
        "aber",
        "alle",
        "als",
        "also",
        "am",
        "an",
        "auch",
        "auf",
        "aus",
        "bei",
        "bin",
        "bis",
        "bitte",
        "da",
        "das",
        "dass",
        "dem",
        "den",
        "der",
        "des",
        "die",
        "doch",
        "dort",
        "du",
        "durch",
        "ein",
        "eine",
        "einem",
        "einen",
        "einer",
        "es",
        "etwas",
        "für",
        "gar",
        "habe",
        "haben",
        "hat",
        "hatte",
        "ich",
        "ihr",
        "im",
        "in",
        "ist",
        "ja",
        "jetzt",
        "kann",
        "kein",
        "keine",
        "man",
        "mehr",
        "mein",
        "mich",
        "mir",
        "mit",
        "nach",
        "nicht",
        "noch",
        "nur",
        "oder",
        "schon",
        "sehr",
        "sich",
        "sie",
        "sind",
        "so",
        "und",
        "uns",
        "unser",
        "von",
        "vor",
        "war",
        "waren",
        "was",
        "wie",
        "wir",
        "wird",
        "wurde",
        "zu",
        "zum",
        "zur",
        "über",
        "a",
        "about",
        "after",
        "all",
        "also",
        "am",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "for",
        "from",
        "get",
        "got",
        "had",
        "has",
        "have",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "me",
        "more",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "they",
        "this",
        "to",
        "too",
        "us",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "which",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)
WORD = re.compile(r"[a-zäöüß]{3,}")


def themes(comments: list[str], top: int = 10) -> list[tuple[str, int]]:
    """The most frequent words and two-word phrases, counted once per comment, stop words removed."""
    counts: Counter = Counter()
    for comment in comments:
        words = [w for w in WORD.findall(comment.lower()) if w not in STOP_WORDS]
        counts.update(set(words))
        counts.update({f"{a} {b}" for a, b in zip(words, words[1:], strict=False)})
    phrases = [(term, n) for term, n in counts.most_common() if n >= 2]
    return phrases[:top]


def driver_report(session: Session, start: date, end: date, filters: ReportFilter) -> DriverReport:
    rows = driver_rows(session, start, end, filters)
    findings: list[Finding] = []
    for attribute in NUMERIC:
        finding = _numeric(rows, attribute)
        if finding is not None:
            findings.append(finding)
    for attribute in CATEGORICAL:
        findings.extend(_categorical(rows, attribute))
    if findings:
        corrected = false_discovery_control([f.p_value for f in findings], method="bh")
        for finding, q_value in zip(findings, corrected, strict=True):
            finding.q_value = float(q_value)
    findings.sort(key=lambda f: (-abs(f.effect), f.q_value))
    return DriverReport(
        promoters=sum(1 for r in rows if r["group"] == "promoter"),
        detractors=sum(1 for r in rows if r["group"] == "detractor"),
        findings=findings,
        themes={
            group: themes([r["comment"] for r in rows if r["group"] == group and r["comment"]])
            for group in ("promoter", "detractor")
        },
    )

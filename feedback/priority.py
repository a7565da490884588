"""How urgent a case is, and why: plain functions, so the rules are easy to read and to test.

Points come from the answer (how unhappy) and the customer's value (current revenue and potential).
Points set the priority level, the level sets the SLA, and the queue sorts by the SLA deadline moved
earlier by one hour per point: a high-value detractor due tomorrow outranks a low-value one due today.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from surveys.kinds import NPS, SCORED, Kind

HIGH_FROM, NORMAL_FROM = 40, 20
# Cases for an answer in its kind's middle class (with a comment): always low priority.
MIDDLE_CASES = tuple(sorted({kind.middle for kind in SCORED}))


@dataclass(frozen=True)
class Priority:
    level: str
    points: int
    reasons: list  # [[key, points, detail], ...] rendered with translated labels


# An answer at the bottom of its scale (NPS 0, CSAT 1, CES 1) is worth this many points; higher scores in the case
# class proportionally fewer (NPS 6: 6 points, CSAT 2: 21, CES 3: 14).
WORST_ANSWER_POINTS = 42


def score_points(kind: str, score: int | None, scale: Kind = NPS) -> tuple[int, str]:
    """The answer's points and the reason's key (the case kind: detractor, dissatisfied, hard, passive, ...)."""
    if kind == "churn":
        return 30, "churn"
    if score is None or scale.classify(score) not in scale.case_classes:
        return 0, kind
    return round(WORST_ANSWER_POINTS * scale.unhappiness(score)), kind


def value_points(revenue_12m: Decimal, potential: Decimal | None) -> tuple[int, int]:
    """Doubling the revenue adds 5 points (at most 30); potential counts half as much (at most 15)."""
    current = min(30, round(5 * math.log2(1 + float(revenue_12m) / 100))) if revenue_12m > 0 else 0
    extra = min(15, round(2.5 * math.log2(1 + float(potential) / 100))) if potential and potential > 0 else 0
    return current, extra


def assess(
    kind: str, score: int | None, revenue_12m: Decimal, potential: Decimal | None, scale: Kind = NPS
) -> Priority:
    """`kind` is the case's kind, `scale` the survey kind the score is on."""
    answer, answer_key = score_points(kind, score, scale)
    current, extra = value_points(revenue_12m, potential)
    reasons = [[answer_key, answer, score]]
    reasons.append(["value", current, str(revenue_12m.quantize(Decimal("1")))])
    if potential:
        reasons.append(["potential", extra, str(potential.quantize(Decimal("1")))])
    points = answer + current + extra
    if kind in MIDDLE_CASES:
        level = "low"
    else:
        level = "high" if points >= HIGH_FROM else "normal" if points >= NORMAL_FROM else "low"
    return Priority(level, points, reasons)


def add_working_days(start: datetime, days: float) -> datetime:
    """`days` working days (Mon–Fri) after `start`; a start on a weekend counts from Monday 00:00."""
    moment = start
    while moment.weekday() >= 5:
        moment = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    whole, fraction = int(days), days - int(days)
    for _ in range(whole):
        moment += timedelta(days=1)
        while moment.weekday() >= 5:
            moment += timedelta(days=1)
    return moment + timedelta(days=fraction)


def rank_at(next_due_at: datetime, points: int) -> datetime:
    return next_due_at - timedelta(hours=points)


def parse_sla(setting: str) -> dict[str, float]:
    """'high=1,normal=2,low=5' -> working days per priority; every priority must be given."""
    days = {}
    for part in setting.split(","):
        name, _, value = part.partition("=")
        days[name.strip()] = float(value)
    missing = {"high", "normal", "low"} - days.keys()
    if missing:
        raise ValueError(f"SLA setting lacks {', '.join(sorted(missing))}: {setting!r}")
    return days

"""The customer cockpit: value class x lifecycle phase x satisfaction, counted in SQL from the segments.

Satisfaction is the class of each customer's latest NPS answer (retention.segments keeps it); customers never
asked are "unknown" and do not enter the cell's NPS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from customers.models import PHASES, Customer
from retention.cells import built
from retention.models import CustomerSegment, SegmentCell

VALUE_CLASSES = ("A", "B", "C")
SATISFACTION = ("promoter", "passive", "detractor", "unknown")
# The purchase models' P(alive) in bands (rules and segments): each band up to its bound, the last open-ended.
ALIVE_BANDS = ("under_25", "25_50", "50_75", "75_up")
ALIVE_BOUNDS = (0.25, 0.5, 0.75)
# A potential customer has bought nothing, so a high current value cannot occur: shown greyed, not hidden.
MEANINGLESS = {("A", "potential"), ("B", "potential")}
PAGE_SIZE = 50
HEAT_STEPS = (-30, 0, 30, 60)  # NPS bounds of the cockpit's five shading bands


def heat_bands() -> list[tuple[str, str]]:
    """The legend: each band's number and its NPS range, from HEAT_STEPS."""

    def signed(value: int) -> str:
        return f"{value:+d}" if value else "0"

    bounds = [None, *HEAT_STEPS, None]
    return [
        (str(i), f"{signed(low)} … {signed(high)}" if low is not None and high is not None else
         f"< {signed(high)}" if low is None else f"≥ {signed(low)}")
        for i, (low, high) in enumerate(zip(bounds, bounds[1:], strict=False), start=1)
    ]  # fmt: skip


class LatestNps:
    """For a group of customers with `customers` and a `satisfaction` split: NPS over their latest answers."""

    customers: int
    satisfaction: dict[str, int]

    @property
    def answered(self) -> int:
        return self.customers - self.satisfaction["unknown"]

    @property
    def nps(self) -> float | None:
        """None when nobody in the group ever answered."""
        if not self.answered:
            return None
        return round(100 * (self.satisfaction["promoter"] - self.satisfaction["detractor"]) / self.answered, 1)


@dataclass
class Cell(LatestNps):
    value_class: str
    phase: str
    customers: int = 0
    revenue: Decimal = Decimal(0)
    satisfaction: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SATISFACTION, 0))
    revenue_share: float | None = None
    at_risk: int = 0  # new or existing customers the purchase model sees slipping away
    at_risk_revenue: Decimal = Decimal(0)

    @property
    def meaningless(self) -> bool:
        return (self.value_class, self.phase) in MEANINGLESS

    def heat(self, min_answers: int) -> str:
        """The cockpit's shading band: 1 (NPS below -30) to 5 (60 and above), "few" below `min_answers`."""
        if self.nps is None or self.answered < min_answers:
            return "few"
        return str(1 + sum(self.nps >= step for step in HEAT_STEPS))


def _satisfaction():
    """The customer's satisfaction from their segment; "unknown" for customers not placed yet."""
    return func.coalesce(CustomerSegment.satisfaction, "unknown")


def matrix(session: Session) -> dict[tuple[str, str], Cell]:
    """Every (value class, phase) cell, empty ones included, with counts, revenue share and satisfaction.

    Summed from the segment cells (a few hundred rows); before the first refresh built them, grouped from the
    segments themselves."""
    if built(session) is not None:
        c = SegmentCell
        rows = session.execute(
            select(c.value_class, c.phase, c.satisfaction, func.sum(c.customers), func.sum(c.revenue)).group_by(
                c.value_class, c.phase, c.satisfaction
            )
        ).all()
    else:
        s = CustomerSegment
        rows = session.execute(
            select(
                s.value_class, s.phase, s.satisfaction, func.count(), func.coalesce(func.sum(s.revenue_12m), 0)
            ).group_by(s.value_class, s.phase, s.satisfaction)
        ).all()
    cells = {(v, p): Cell(v, p) for v in VALUE_CLASSES for p in PHASES}
    for klass, phase, sat, count, revenue in rows:
        if not count:
            continue
        cell = cells.setdefault((klass, phase), Cell(klass, phase))
        cell.customers += int(count)
        cell.revenue += Decimal(revenue)
        cell.satisfaction[sat] += int(count)
    total = sum((cell.revenue for cell in cells.values()), Decimal(0))
    for cell in cells.values():
        cell.revenue_share = round(float(100 * cell.revenue / total), 1) if total else None
    s = CustomerSegment
    at_risk = select(s.value_class, s.phase, func.count(), func.coalesce(func.sum(s.revenue_12m), 0)).where(
        s.at_risk.is_(True)
    )
    for klass, phase, count, revenue in session.execute(at_risk.group_by(s.value_class, s.phase)):
        cell = cells.setdefault((klass, phase), Cell(klass, phase))
        cell.at_risk, cell.at_risk_revenue = int(count), Decimal(revenue)
    return cells


@dataclass(frozen=True)
class ClassCounts:
    """One value class on the manager's home page: customers, how many the purchase model sees leaving, and how
    many were detractors at their latest answer."""

    value_class: str
    customers: int
    at_risk: int
    detractors: int


def by_value_class(session: Session) -> list[ClassCounts]:
    cells = matrix(session).values()
    return [
        ClassCounts(
            klass,
            sum(c.customers for c in cells if c.value_class == klass),
            sum(c.at_risk for c in cells if c.value_class == klass),
            sum(c.satisfaction["detractor"] for c in cells if c.value_class == klass),
        )
        for klass in VALUE_CLASSES
    ]


def cell_customers(
    session: Session,
    value_class: str | None,
    phase: str | None,
    satisfaction: str | None,
    page: int = 1,
    portfolio_group=None,
    at_risk: bool = False,
) -> tuple[list[tuple[Customer, str]], int]:
    """The customers of one cell or portfolio group (optionally of one satisfaction class), highest revenue
    first; with the count. `portfolio_group` is (name, value_min, potential_min)."""
    sat = _satisfaction()
    statement = select(Customer, sat.label("satisfaction")).outerjoin(
        CustomerSegment, CustomerSegment.customer_id == Customer.id
    )
    if value_class is not None:
        statement = statement.where(CustomerSegment.value_class == value_class)
    if phase is not None:
        statement = statement.where(CustomerSegment.phase == phase)
    if portfolio_group is not None:
        name, value_min, potential_min = portfolio_group
        statement = statement.where(
            segment_portfolio(value_min, potential_min) == name, CustomerSegment.phase != "potential"
        )
    if satisfaction:
        statement = statement.where(sat == satisfaction)
    if at_risk:
        statement = statement.where(CustomerSegment.at_risk.is_(True))
    total = session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = session.execute(
        statement.order_by(Customer.revenue_12m.desc().nulls_last(), Customer.id)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return [(customer, s) for customer, s in rows], int(total or 0)


PORTFOLIO = ("star", "earnings", "question_mark", "take_along", "potential_unknown")


def portfolio_column(value_min: Decimal, potential_min: Decimal, revenue=None, potential=None):
    """Star: high value and high potential; earnings: high value only; question mark: high potential only;
    take-along: neither. The potential is the stated one, else the estimate; without either it is unknown.

    Over the customers' own columns by default, or over `revenue` and `potential` (the segment's copies)."""
    if potential is None:
        potential = func.coalesce(Customer.potential_value, Customer.potential_estimate)
    high_value = func.coalesce(Customer.revenue_12m if revenue is None else revenue, 0) >= float(value_min)
    return case(
        (potential.is_(None), "potential_unknown"),
        (and_(high_value, potential >= float(potential_min)), "star"),
        (high_value, "earnings"),
        (potential >= float(potential_min), "question_mark"),
        else_="take_along",
    )


def segment_portfolio(value_min: Decimal, potential_min: Decimal):
    """The portfolio group over the segment's revenue and potential, with the thresholds given."""
    return portfolio_column(value_min, potential_min, CustomerSegment.revenue_12m, CustomerSegment.potential)


@dataclass
class Group(LatestNps):
    name: str
    customers: int = 0
    revenue: Decimal = Decimal(0)
    revenue_share: float | None = None
    satisfaction: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SATISFACTION, 0))


def portfolio(session: Session, value_min: Decimal, potential_min: Decimal) -> dict[str, Group]:
    """The four portfolio groups (and customers whose potential is unknown), counted in one query.

    Customers who never bought and have no potential stay out: they are prospects, not part of the portfolio.
    Read from the segments alone with the thresholds as they are now.
    """
    build = built(session)
    if build is not None and (build.portfolio_value_min, build.portfolio_potential_min) == (value_min, potential_min):
        c = SegmentCell
        rows = session.execute(
            select(c.portfolio, c.satisfaction, func.sum(c.customers), func.sum(c.revenue))
            .where(c.phase != "potential")
            .group_by(c.portfolio, c.satisfaction)
        ).all()
    else:  # thresholds changed since the cells were built: group the segments with the new ones
        s = CustomerSegment
        group = segment_portfolio(value_min, potential_min)
        rows = session.execute(
            select(group, s.satisfaction, func.count(), func.coalesce(func.sum(s.revenue_12m), 0))
            .where(s.phase != "potential")
            .group_by(group, s.satisfaction)
        ).all()
    groups = {name: Group(name) for name in PORTFOLIO}
    for name, sat, count, revenue in rows:
        if not count:
            continue
        groups[name].customers += int(count)
        groups[name].revenue += Decimal(revenue)
        groups[name].satisfaction[sat] += int(count)
    total = sum((g.revenue for g in groups.values()), Decimal(0))
    for g in groups.values():
        g.revenue_share = round(float(100 * g.revenue / total), 1) if total else None
    return groups

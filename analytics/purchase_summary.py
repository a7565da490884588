"""What the purchase-behaviour models read: per customer x, t_x, T and repeat spend, in one set-based pass.

Definitions (UTC days; Fader, Hardie & Lee count "repeat transactions" the same way):
- a purchase day is a UTC day with at least one purchase; several orders on one day are one purchase of their sum;
- x = purchase days - 1 (repeat purchase days), t_x = days from the first to the last purchase day,
  T = days from the first purchase day to the calibration day ``as_of``;
- repeat spend = the average amount of the repeat purchase days with a positive amount (a day of free orders
  is a purchase, but tells nothing about spend: it is left out of the spend model and counted);
- only purchases up to the end of ``as_of`` count, and only customers not erased; a customer whose first purchase
  is later is not in the fit. Amounts are never negative (the API refuses them), so no refund is a purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from sqlalchemy import Float, and_, cast, func, select
from sqlalchemy.orm import Session

from customers.models import Customer, Purchase
from kundenpuls.dialect import EPOCH_DAY, day_number


@dataclass(frozen=True)
class PurchaseData:
    customer_id: np.ndarray
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    repeat_spend: np.ndarray  # average over spend_days; 0 where there are none
    spend_days: np.ndarray
    margin_share: np.ndarray  # the customer's margin / amount where margins are known; NaN otherwise
    left_out: int  # repeat purchase days without a positive amount
    shop_margin_share: float | None  # over every purchase with a known margin

    @property
    def customers(self) -> int:
        return len(self.customer_id)

    @property
    def purchase_days(self) -> int:
        return int(self.x.sum()) + self.customers


FETCH_ROWS = 100_000


def _streamed(session: Session, statement, width: int) -> np.ndarray:
    """The rows as a float array of shape (width, n), fetched FETCH_ROWS at a time (a server-side cursor on
    PostgreSQL): a million customers as Python rows would hold about 500 MB at once; as arrays they take 70 MB.
    Through the Core connection and as plain tuples: numpy probes every Row object for array protocols, which
    cost 15 s per million rows (measured, bench/models.py)."""
    parts = []
    result = session.connection().execute(statement, execution_options={"yield_per": FETCH_ROWS})
    for part in result.partitions():
        parts.append(np.array([tuple(row) for row in part], dtype=float).reshape(len(part), width))
    return np.concatenate(parts).T if parts else np.zeros((width, 0))


def calibration_end(as_of: date) -> datetime:
    """The first moment after the calibration day: purchases before it count."""
    return datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=UTC)


def purchase_data(session: Session, as_of: date) -> PurchaseData:
    """One statement: purchases grouped to customer days, numbered per customer, then summed per customer."""
    day = day_number(session, Purchase.purchased_at).label("day")
    has_margin = Purchase.margin.is_not(None)
    per_day = (
        select(
            Purchase.customer_id,
            day,
            func.sum(Purchase.amount).label("spent"),
            func.sum(Purchase.margin).label("margin"),
            func.sum(Purchase.amount).filter(has_margin).label("amount_with_margin"),
        )
        .join(Customer, Customer.id == Purchase.customer_id)
        .where(Purchase.purchased_at < calibration_end(as_of), Customer.erased_at.is_(None))
        .group_by(Purchase.customer_id, day)
        .subquery()
    )
    numbered = select(
        per_day,
        func.row_number().over(partition_by=per_day.c.customer_id, order_by=per_day.c.day).label("n"),
    ).subquery()
    repeat = numbered.c.n > 1
    counted = and_(repeat, numbered.c.spent > 0)
    last_day = (as_of - EPOCH_DAY).days
    number = lambda value: cast(value, Float)  # noqa: E731  floats, not Decimals: a million of those cost seconds
    statement = (
        select(
            numbered.c.customer_id,
            func.count() - 1,
            func.max(numbered.c.day) - func.min(numbered.c.day),
            last_day - func.min(numbered.c.day),
            number(func.coalesce(func.sum(numbered.c.spent).filter(counted), 0)),
            func.count().filter(counted),
            func.count().filter(and_(repeat, numbered.c.spent <= 0)),
            number(func.sum(numbered.c.margin)),
            number(func.sum(numbered.c.amount_with_margin)),
        )
        .group_by(numbered.c.customer_id)
        .order_by(numbered.c.customer_id)
    )
    columns = _streamed(session, statement, 9)
    cid, x, t_x, T, spent, spend_days, left_out, margin, with_margin = columns
    with np.errstate(invalid="ignore", divide="ignore"):
        repeat_spend = np.where(spend_days > 0, spent / np.maximum(spend_days, 1), 0.0)
        margin_share = np.where(with_margin > 0, margin / with_margin, np.nan)
    known = with_margin > 0
    shop = float(np.nansum(margin[known]) / with_margin[known].sum()) if known.any() else None
    return PurchaseData(
        cid.astype(np.int64), x, t_x, T, repeat_spend, spend_days, margin_share, int(left_out.sum()), shop
    )

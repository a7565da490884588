"""Fitting the purchase-behaviour models and scoring every customer with them.

A fit reads the purchase summary (analytics.purchase_summary), fits BG/NBD (analytics.bgnbd) and Gamma-Gamma
(analytics.gamma_gamma), and on success writes every customer's outlook (analytics.outlook) in the same
transaction: the pages never see a half-written fit, and one cut short leaves the previous fit in use. Too little
data or no convergence stores the fit as failed, with the reason; the previous good fit stays in use.

One fit at a time (an advisory lock on PostgreSQL), nightly from the scheduler and on demand from the CLI.
"""

from __future__ import annotations

import json
import time as clock
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
from flask import current_app
from sqlalchemy import delete, desc, select
from sqlalchemy.orm import Session

from analytics import bgnbd, outlook
from analytics import gamma_gamma as gg
from analytics.models import CustomerOutlook, ModelFit
from analytics.purchase_summary import PurchaseData, purchase_data
from customers.models import Customer
from customers.values import current_value_settings
from kundenpuls.dialect import bulk_load
from kundenpuls.locks import MODEL_LOCK, try_job_lock

AT_RISK_PHASES = ("new", "existing")  # inactive and churned customers are gone already, not at risk
FIT_HOUR = 1  # UTC: before the segment refresh at 02:00, which carries P(alive) into the segments and rules


class FitBusy(Exception):
    """Another process is fitting right now."""


@dataclass(frozen=True)
class Settings:
    min_repeat_customers: int
    horizon_months: int
    discount_rate: float
    a_share: float
    b_share: float

    @classmethod
    def current(cls, session: Session) -> Settings:
        values = current_value_settings(session)
        return cls(
            current_app.config["MODEL_MIN_REPEAT_CUSTOMERS"],
            current_app.config["CLV_HORIZON_MONTHS"],
            float(values.discount_rate),
            float(values.a_share),
            float(values.b_share),
        )


def fit_models(session: Session, now: datetime, as_of: date | None = None) -> ModelFit:
    """Fits on purchases up to the end of ``as_of`` (default: yesterday, UTC), stores the fit and, when good, the
    outlook of every customer in it. Commits. FitBusy when another process holds the fit."""
    as_of = as_of or (now.astimezone(UTC).date() - timedelta(days=1))
    if not try_job_lock(session, MODEL_LOCK):
        raise FitBusy("another fit is running")
    started = clock.perf_counter()
    data = purchase_data(session, as_of)
    timings = {"summary": clock.perf_counter() - started}
    settings = Settings.current(session)
    data_from = as_of - timedelta(days=int(data.T.max())) if data.customers else None
    record = ModelFit(
        as_of=as_of, data_from=data_from, started_at=now, customers=data.customers, purchase_days=data.purchase_days,
        repeat_customers=int((data.x > 0).sum()), spend_left_out=data.left_out, margin_share=data.shop_margin_share,
    )  # fmt: skip
    reason = _fit_into(record, data, settings)
    timings["fit"] = clock.perf_counter() - started - timings["summary"]
    if reason is None:
        record.status = "good"
        session.add(record)
        session.flush()
        _score(session, record, data, settings)
        timings["scoring"] = clock.perf_counter() - started - timings["summary"] - timings["fit"]
    else:
        record.status, record.reason = "failed", reason
        session.add(record)
    record.finished_at = now
    record.seconds = round(clock.perf_counter() - started, 3)
    session.commit()
    record.timings = {name: round(value, 3) for name, value in timings.items()}  # this run's, not stored
    return record


def _fit_into(record: ModelFit, data: PurchaseData, settings: Settings) -> str | None:
    """Fills the parameters; returns why the fit cannot be used, or None."""
    if record.repeat_customers < settings.min_repeat_customers:
        return (
            f"too little data: {record.repeat_customers} customers with 2 or more purchase days, "
            f"{settings.min_repeat_customers} needed (MODEL_MIN_REPEAT_CUSTOMERS)"
        )
    purchases = bgnbd.fit(bgnbd.Summary.of(data.x, data.t_x, data.T))
    record.r, record.alpha, record.a, record.b = purchases.params
    record.log_likelihood, record.converged = purchases.log_likelihood, purchases.converged
    errors = {name: purchases.std_errors.get(name) for name in bgnbd.NAMES}
    if not purchases.converged:
        record.std_errors = json.dumps(_finite(errors))
        return f"the purchase model did not converge: {purchases.message}"
    spenders = data.spend_days > 0
    record.spend_customers = int(spenders.sum())
    if record.spend_customers < 2:
        return "too little data: fewer than 2 customers with a positive repeat purchase"
    spend = gg.fit(data.spend_days[spenders], data.repeat_spend[spenders])
    record.spend_p, record.spend_q, record.spend_gamma = spend.params
    record.spend_log_likelihood = spend.log_likelihood
    record.std_errors = json.dumps(_finite({**errors, **{f"spend_{k}": v for k, v in spend.std_errors.items()}}))
    if not spend.converged:
        return f"the spend model did not converge: {spend.message}"
    if not all(np.isfinite(v) for v in (*purchases.params, *spend.params, purchases.log_likelihood)):
        return "the fit gave a value that is not a number"
    return None


def _score(session: Session, record: ModelFit, data: PurchaseData, settings: Settings) -> None:
    """Replaces every customer's outlook with this fit's."""
    scores = outlook.score(
        params(record), spend_params(record), data, outlook.HORIZON_DAYS, settings.horizon_months,
        settings.discount_rate, record.margin_share,
    )  # fmt: skip
    classes = outlook.abc_classes(scores.clv, settings.a_share, settings.b_share)
    session.execute(delete(CustomerOutlook))
    columns = {
        "customer_id": data.customer_id, "x": data.x.astype(int), "t_x": data.t_x.astype(int),
        "age": data.T.astype(int), "repeat_spend": data.repeat_spend, "spend_days": data.spend_days.astype(int),
        "margin_share": data.margin_share, "p_alive": scores.p_alive, "expected_purchases": scores.expected_purchases,
        "expected_spend": scores.expected_spend, "clv": scores.clv, "clv_class": classes,
        "model_id": np.full(data.customers, record.id),
    }  # fmt: skip
    bulk_load(session, CustomerOutlook.__table__, list(columns), _rows(columns.values(), data.customers))


def _rows(arrays, count: int, chunk: int = 50_000):
    """Rows of Python values from the arrays, a chunk at a time: a million rows as Python objects at once took
    400 MB (bench/models.py). A float column's NaN (no margin known) becomes NULL."""
    arrays = list(arrays)
    for start in range(0, count, chunk):
        parts = []
        for array in arrays:
            values = array[start : start + chunk].tolist()
            if array.dtype.kind == "f" and np.isnan(array[start : start + chunk]).any():
                values = [None if v != v else v for v in values]
            parts.append(values)
        yield from zip(*parts, strict=True)


def params(record: ModelFit) -> tuple[float, float, float, float]:
    return record.r, record.alpha, record.a, record.b


def spend_params(record: ModelFit) -> tuple[float, float, float]:
    return record.spend_p, record.spend_q, record.spend_gamma


def latest_good(session: Session) -> ModelFit | None:
    return session.scalars(
        select(ModelFit).where(ModelFit.status == "good").order_by(desc(ModelFit.id)).limit(1)
    ).first()


def latest_attempt(session: Session) -> ModelFit | None:
    return session.scalars(select(ModelFit).order_by(desc(ModelFit.id)).limit(1)).first()


@dataclass(frozen=True)
class CustomerModelView:
    """A customer's outlook with the fit it comes from, for the API and the customer page."""

    fit: ModelFit
    outlook: outlook.Outlook
    clv_horizon_months: int
    clv_basis: str  # "margin" or "revenue"
    at_risk: bool
    repeat_days: int  # x: with none, BG/NBD cannot see a dropout yet (P(alive) is 1)
    newer_failed: ModelFit | None = None  # a later fit that failed: the page says these figures are older


def customer_outlook(session: Session, customer_id: int, days: int = outlook.HORIZON_DAYS) -> CustomerModelView | None:
    """As of the latest good fit's calibration day; None when the customer is not in it (or there is none)."""
    row = session.get(CustomerOutlook, customer_id)
    if row is None:
        return None
    record = session.get(ModelFit, row.model_id)
    share = row.margin_share if row.margin_share is not None else record.margin_share
    months = current_app.config["CLV_HORIZON_MONTHS"]
    found = outlook.one(
        params(record), spend_params(record), row.x, row.t_x, row.age, row.spend_days, row.repeat_spend,
        1.0 if share is None else share, days, months, float(current_value_settings(session).discount_rate),
    )  # fmt: skip
    phase = session.scalar(select(Customer.lifecycle_phase).where(Customer.id == customer_id))
    at_risk = phase in AT_RISK_PHASES and found.p_alive < current_app.config["AT_RISK_P_ALIVE"]
    basis = "margin" if share is not None else "revenue"
    latest = latest_attempt(session)
    newer_failed = latest if latest is not None and latest.id > record.id and latest.status != "good" else None
    return CustomerModelView(record, found, months, basis, at_risk, row.x, newer_failed)


def outlook_json(view: CustomerModelView) -> dict:
    """The API's outlook (GET /api/v1/customers/<id>/outlook and the customer record)."""
    return {
        "as_of": view.fit.as_of.isoformat(),
        "p_alive": view.outlook.p_alive,
        "expected_purchases": view.outlook.expected_purchases,
        "expected_spend_per_purchase": view.outlook.expected_spend_per_purchase,
        "clv": view.outlook.clv,
        "horizon_days": view.outlook.horizon_days,
        "clv_horizon_months": view.clv_horizon_months,
        "clv_basis": view.clv_basis,
        "at_risk": view.at_risk,
        "model_id": view.fit.id,
    }


def _finite(value):
    """JSON has no NaN: a number that is not finite is shown as null (a failed fit may carry one)."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def fit_json(record: ModelFit) -> dict:
    """The public shape of a fit (CLI `model fit`, GET /api/v1/models/latest); non-finite numbers as null."""
    return _finite(
        {
            "id": record.id,
            "status": record.status,
            "reason": record.reason,
            "as_of": record.as_of.isoformat(),
            "data_from": record.data_from.isoformat() if record.data_from else None,
            "customers": record.customers,
            "purchases": {
                "r": record.r,
                "alpha": record.alpha,
                "a": record.a,
                "b": record.b,
                "time_unit": "day",
                "log_likelihood": record.log_likelihood,
                "converged": record.converged,
            },  # fmt: skip
            "spend": {
                "p": record.spend_p,
                "q": record.spend_q,
                "gamma": record.spend_gamma,
                "customers": record.spend_customers,
            },  # fmt: skip
            "repeat_customers": record.repeat_customers,
            "purchase_days": record.purchase_days,
            "spend_left_out": record.spend_left_out,
            "margin_share": record.margin_share,
            "std_errors": json.loads(record.std_errors) if record.std_errors else None,
            "started_at": record.started_at.isoformat(),
            "finished_at": record.finished_at.isoformat() if record.finished_at else None,
            "seconds": record.seconds,
            **({"timings": record.timings} if getattr(record, "timings", None) else {}),
        }
    )


def nightly_fit(session: Session, now: datetime) -> dict | None:
    """Scheduler job: once a day, in the first tick after FIT_HOUR (UTC) without a fit for yesterday yet."""
    if now.astimezone(UTC).hour < FIT_HOUR:
        return None
    as_of = now.astimezone(UTC).date() - timedelta(days=1)
    if not try_job_lock(session, MODEL_LOCK):  # checked again under the lock: another scheduler may just be done
        return None
    if session.scalar(select(ModelFit.id).where(ModelFit.as_of == as_of).limit(1)) is not None:
        return None
    try:
        record = fit_models(session, now, as_of)
    except FitBusy:
        session.rollback()
        return None
    return {"status": record.status, "customers": record.customers}

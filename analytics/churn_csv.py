"""The churn report's tables as CSV rows: rates, reasons, reasons by month and by value class, open texts, flow."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from analytics.churn import churn_rates, lifecycle_flow
from analytics.churn_reasons import open_texts, reason_ranking, reasons_by_class, reasons_by_month
from surveys.models import ChurnReason


def _reason_name(reason: ChurnReason | None) -> str:
    if reason is None:
        return "no main reason"
    return reason.label_en + (" (retired)" if reason.retired_at else "")


def churn_csv_rows(session: Session, table: str, start: date, end: date, segment: str | None):
    """The rows of one churn table as CSV, header first (English labels, as in the other exports)."""
    if table == "rates":
        yield ("month", "value_class", "base", "churned", "churn_rate", "turned_inactive", "reactivated")
        for m in churn_rates(session, start, end, segment):
            klass = "all" if m.value_class is None else (m.value_class or "unclassified")
            yield (m.start.isoformat(), klass, m.base, m.churned, m.rate, m.turned_inactive, m.reactivated)
    elif table == "reasons":
        yield ("reason_key", "reason", "mentions", "main", "answers", "share", "main_share",
               "previous_mentions", "previous_answers", "previous_share", "change_pp", "p_value")  # fmt: skip
        for f in reason_ranking(session, start, end, segment):
            p_value = None if f.p_value is None else round(f.p_value, 6)
            yield (f.reason.key, _reason_name(f.reason), f.mentions, f.main, f.answers, f.share, f.main_share,
                   f.previous_mentions, f.previous_answers, f.previous_share, f.change, p_value)  # fmt: skip
    elif table in ("reasons_by_month", "reasons_by_class"):
        if table == "reasons_by_month":
            grid = reasons_by_month(session, start, end, segment)
        else:
            grid = reasons_by_class(session, start, end)
        label = "month" if table == "reasons_by_month" else "value_class"
        yield (label, "reason_key", "reason", "mentions", "answers", "share")
        for row in grid.rows:
            for reason in grid.reasons:
                mentions = grid.mentions.get((row, reason.id), 0)
                yield (row or "unclassified", reason.key, _reason_name(reason), mentions,
                       grid.answers.get(row, 0), grid.share(row, reason.id))  # fmt: skip
    elif table == "texts":
        yield ("main_reason", "response_id", "customer_id", "answered_at", "value_class", "comment", "comeback")
        for reason, texts in open_texts(session, start, end, segment):
            for t in texts:
                yield (_reason_name(reason), t.response_id, t.customer_id, t.created_at.isoformat(),
                       t.value_class, t.comment, t.comeback)  # fmt: skip
    elif table == "flow":
        flow = lifecycle_flow(session, start, end, segment)
        yield ("month", "from_phase", "to_phase", "customers")
        for month in flow.months:
            for transition in flow.transitions:
                yield (month.isoformat(), transition[0] or "none", transition[1], flow.count(month, transition))
    else:
        raise ValueError(table)

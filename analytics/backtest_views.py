"""The backtest page (/reports/model-check, managers): should we trust the purchase model on our own data?"""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import format_date
from markupsafe import Markup, escape

from analytics.backtest import BacktestError, run_backtest
from analytics.purchase_models import latest_attempt, latest_good
from kundenpuls.auth import role_required
from kundenpuls.csvfile import csv_download
from kundenpuls.extensions import db
from kundenpuls.timeutil import check_day, utcnow

bp = Blueprint("model_check", __name__)

WEEK_COLUMNS = ("week_start", "period", "actual", "predicted", "actual_cumulative", "predicted_cumulative")
GROUP_COLUMNS = ("calibration_purchases", "customers", "actual_mean", "predicted_mean")


class BadRange(ValueError):
    pass


def _days() -> tuple[date, date]:
    """Calibration day (default 26 weeks ago) and holdout end (default yesterday), both before today."""
    today = utcnow().date()

    def day(name: str, default: date) -> date:
        raw = request.args.get(name)
        if not raw:
            return default
        try:
            return check_day(date.fromisoformat(raw.strip()))
        except ValueError:
            raise BadRange(f"{name}: a date YYYY-MM-DD") from None

    holdout_end = day("until", today - timedelta(days=1))
    calibration = day("end", holdout_end - timedelta(weeks=26))
    if holdout_end >= today:
        raise BadRange("until: must be before today")
    if calibration >= holdout_end:
        raise BadRange("end: the calibration must end before the holdout does")
    if (holdout_end - calibration).days > 3 * 366:
        raise BadRange("until: at most three years after the calibration day")
    return calibration, holdout_end


def _run():
    calibration, holdout_end = _days()
    return run_backtest(db.session, calibration, holdout_end, current_app.config["MODEL_MIN_REPEAT_CUSTOMERS"])


@bp.get("/reports/model-check")
@role_required("manager")
def model_check_page():
    fits = {"in_use": latest_good(db.session), "latest": latest_attempt(db.session)}
    try:
        result = _run()
    except (BadRange, BacktestError) as problem:
        code = 422 if isinstance(problem, BadRange) else 200
        return render_template("analytics/model_check.html", result=None, error=str(problem), args=request.args,
                               **fits), code  # fmt: skip
    return render_template(
        "analytics/model_check.html", result=result, error=None, args=request.args, chart=tracking_chart(result),
        **fits,
    )  # fmt: skip


@bp.get("/reports/model-check.csv")
@role_required("manager")
def model_check_csv():
    table = request.args.get("table", "weeks")
    if table not in ("weeks", "frequency"):
        return Response("table: weeks or frequency\n", status=422, mimetype="text/plain")
    try:
        result = _run()
    except (BadRange, BacktestError) as problem:
        return Response(f"{problem}\n", status=422, mimetype="text/plain")
    if table == "weeks":
        rows = [
            [w.start.isoformat(), "holdout" if w.holdout else "calibration", w.actual, round(w.predicted, 3),
             w.actual_cumulative, round(w.predicted_cumulative, 3)]
            for w in result.weeks
        ]  # fmt: skip
        return csv_download([WEEK_COLUMNS, *rows], f"model-check-weeks-{result.calibration_end}.csv")
    rows = [[g.label, g.customers, round(g.actual, 4), round(g.predicted, 4)] for g in result.groups if g.customers]
    return csv_download([GROUP_COLUMNS, *rows], f"model-check-frequency-{result.calibration_end}.csv")


WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 720, 260, 56, 20, 12, 36


def tracking_chart(result) -> Markup:
    """Cumulative repeat purchases, actual (solid) and predicted (dashed), with the calibration day marked."""
    weeks = result.weeks
    if not weeks:
        return Markup("")
    top = max(max(w.actual_cumulative for w in weeks), max(w.predicted_cumulative for w in weeks), 1)

    def x(i: int) -> float:
        return LEFT + i / max(len(weeks) - 1, 1) * (WIDTH - LEFT - RIGHT)

    def y(value: float) -> float:
        return TOP + (1 - value / top) * (HEIGHT - TOP - BOTTOM)

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="track-title">',
             '<title id="track-title">Cumulative repeat purchases: actual and predicted</title>']  # fmt: skip
    for share in (0, 0.5, 1):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(top * share):.1f}" y2="{y(top * share):.1f}" '
            f'stroke="#d9dee3"/><text x="{LEFT - 6}" y="{y(top * share) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#52606d">{top * share:,.0f}</text>'
        )
    split = next((i for i, w in enumerate(weeks) if w.holdout), None)
    if split is not None:
        parts.append(f'<line x1="{x(split):.1f}" x2="{x(split):.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
                     'stroke="#52606d" stroke-dasharray="3 3"/>')  # fmt: skip
    actual = " ".join(f"{x(i):.1f},{y(w.actual_cumulative):.1f}" for i, w in enumerate(weeks))
    predicted = " ".join(f"{x(i):.1f},{y(w.predicted_cumulative):.1f}" for i, w in enumerate(weeks))
    parts.append(f'<polyline points="{actual}" fill="none" stroke="#1d4ed8" stroke-width="2"/>')
    parts.append(f'<polyline points="{predicted}" fill="none" stroke="#b91c1c" stroke-width="2" '
                 'stroke-dasharray="6 3"/>')  # fmt: skip
    every = max(1, len(weeks) // 8)
    for i, week in enumerate(weeks):
        if i % every == 0:
            parts.append(f'<text x="{x(i):.1f}" y="{HEIGHT - 14}" text-anchor="middle" font-size="11" '
                         f'fill="#52606d">{escape(format_date(week.start, "short"))}</text>')  # fmt: skip
    parts.append("</svg>")
    return Markup("".join(parts))

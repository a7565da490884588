"""NPS report: the page (chart with its table), the CSV, and GET /api/v1/nps."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from sqlalchemy import select

from analytics import follow_up_reports
from analytics.channel_report import by_channel
from analytics.chart import nps_chart
from analytics.churn import churn_mailing, churn_rates, lifecycle_flow
from analytics.churn_csv import churn_csv_rows
from analytics.churn_reasons import open_texts, reason_ranking, reasons_by_class, reasons_by_month
from analytics.drivers import driver_report
from analytics.params import BadParameters, parse
from analytics.queries import NpsReport, categories, nps_report
from customers.models import PHASES
from kundenpuls.apiauth import require_api_key
from kundenpuls.auth import role_required
from kundenpuls.csvfile import csv_download
from kundenpuls.extensions import csrf, db
from kundenpuls.problems import Problem
from kundenpuls.replica import from_replica
from kundenpuls.timeutil import utcnow
from surveys.channels import LABELS as CHANNEL_LABELS
from surveys.kinds import NPS, SCORED_KEYS
from surveys.models import ChurnReason, Survey

bp = Blueprint("analytics", __name__)
api = Blueprint("analytics_api", __name__, url_prefix="/api/v1")
csrf.exempt(api)

CSV_COLUMNS = (
    "period_start", "n", "promoters", "passives", "detractors", "nps", "ci_low", "ci_high", "too_few_answers",
    "sent", "answered", "response_rate", "change", "p_value", "significant", "partial", "first_day", "last_day",
)  # fmt: skip


def _report() -> tuple[NpsReport, object]:
    start, end, interval, filters = parse(request.args, utcnow().date())
    min_answers = current_app.config["NPS_MIN_ANSWERS"]
    return nps_report(db.session, start, end, interval, filters, min_answers=min_answers), filters


def _other_kind() -> Survey | None:
    """The survey asked for, when it is not an NPS survey: its results are on its own report."""
    raw = request.args.get("survey", "")
    survey = db.session.get(Survey, int(raw)) if raw.isdigit() and len(raw) < 10 else None
    return survey if survey is not None and survey.kind != NPS.key else None


@bp.get("/reports/nps")
@role_required("manager")
@from_replica
def nps_page():
    other = _other_kind()
    if other is not None and other.kind in SCORED_KEYS:
        return redirect(url_for("survey_results.survey_page", survey_id=other.id, **request.args.to_dict()), 303)
    try:
        report, filters = _report()
        error = None
    except BadParameters as exc:
        report, filters, error = None, None, exc.errors
    page = render_template(
        "analytics/nps.html",
        report=report,
        filters=filters,
        channels=_channels(report, filters) if report else [],
        channel_labels=CHANNEL_LABELS,
        errors=error,
        chart=nps_chart(report) if report else None,
        surveys=db.session.scalars(select(Survey).where(Survey.kind == "nps").order_by(Survey.name)).all(),
        other_surveys=db.session.scalars(
            select(Survey).where(Survey.kind.in_(SCORED_KEYS), Survey.kind != NPS.key).order_by(Survey.name)
        ).all(),
        categories=categories(db.session),
        phases=PHASES,
        args=request.args,
    )
    return page, 422 if error else 200


def _channels(report: NpsReport, filters) -> list:
    return by_channel(db.session, report.start, report.end, filters, current_app.config["NPS_MIN_ANSWERS"])


def _blank(value):
    return "" if value is None else value


def _rows(report: NpsReport):
    for period in report.periods:
        f, c = period.figure, period.change
        yield [
            period.start.isoformat(),
            f.n,
            f.promoters,
            f.passives,
            f.detractors,
            _blank(f.nps),
            _blank(f.ci_low),
            _blank(f.ci_high),
            int(f.too_few),
            period.sent,
            period.answered,
            _blank(period.response_rate),
            _blank(c and c.delta),
            _blank(c and c.p_value is not None and round(c.p_value, 6)),
            _blank(c and c.p_value is not None and int(c.significant)),
            int(period.partial),
            period.first_day.isoformat(),
            period.last_day.isoformat(),
        ]


@bp.get("/reports/nps.csv")
@role_required("manager")
@from_replica
def nps_csv():
    try:
        report, _ = _report()
    except BadParameters as exc:
        return Response(str(exc) + "\n", status=422, mimetype="text/plain")
    return csv_download([CSV_COLUMNS, *_rows(report)], f"nps-{report.interval}-{report.start}-{report.end}.csv")


@bp.get("/reports/drivers")
@role_required("manager")
@from_replica
def drivers_page():
    try:
        start, end, interval, filters = parse(request.args, utcnow().date())
    except BadParameters as exc:
        return render_template("analytics/drivers.html", report=None, errors=exc.errors, args=request.args), 422
    if "from" not in request.args:
        start = end - timedelta(days=365)
    report = driver_report(db.session, start, end, filters)
    if request.args.get("format") == "csv":
        choice_labels = follow_up_reports.labels(db.session, str(get_locale()))
        rows = [
            [f.attribute, choice_labels.get(f.level, f.level) if f.attribute == "follow_up" else f.level or "",
             f.test, f.promoters_value, f.detractors_value, round(f.effect, 4), f.p_value, f.q_value,
             int(f.significant), f.sentence]
            for f in report.findings
        ]  # fmt: skip
        return csv_download([DRIVER_COLUMNS, *rows], f"drivers-{start}-{end}.csv")
    locale = str(get_locale())
    reason_labels = {r.key: r.label(locale) for r in db.session.scalars(select(ChurnReason))}
    follow_up_labels = follow_up_reports.labels(db.session, locale)
    return render_template(
        "analytics/drivers.html",
        report=report,
        errors=None,
        args=request.args,
        start=start,
        end=end,
        reason_labels=reason_labels,
        follow_up_labels=follow_up_labels,
        channel_labels=CHANNEL_LABELS,
    )


DRIVER_COLUMNS = (
    "attribute", "level", "test", "promoters", "detractors", "effect", "p_value", "q_value", "significant", "sentence",
)  # fmt: skip


@api.get("/nps")
@require_api_key
@from_replica
def nps_api():
    other = _other_kind()
    if other is not None:
        message = f"survey {other.id} is a {other.kind} survey: GET /api/v1/surveys/{other.id}/results"
        raise Problem(422, "Invalid report parameters", message, [{"field": "survey", "message": message}])
    try:
        report, filters = _report()
    except BadParameters as exc:
        raise Problem(422, "Invalid report parameters", str(exc), exc.errors) from None
    periods = []
    for period in report.periods:
        entry = {"start": period.start.isoformat(), **period.figure.as_dict()}
        entry.update(sent=period.sent, answered=period.answered, response_rate=period.response_rate)
        entry.update(
            partial=period.partial, first_day=period.first_day.isoformat(), last_day=period.last_day.isoformat()
        )
        if period.change is not None:
            entry["change"] = period.change.as_dict()
        periods.append(entry)
    return jsonify(
        {
            "interval": report.interval,
            "from": report.start.isoformat(),
            "to": report.end.isoformat(),
            "filters": filters.as_query(),
            "periods": periods,
            "total": report.total.as_dict(),
            "channels": [row.as_dict() for row in _channels(report, filters)],
        }
    )


CHURN_TABLES = ("rates", "reasons", "reasons_by_month", "reasons_by_class", "texts", "flow")


def _churn_report(start, end, segment) -> dict:
    session = db.session
    return {
        "rates": churn_rates(session, start, end, segment),
        "reasons": reason_ranking(session, start, end, segment),
        "by_month": reasons_by_month(session, start, end, segment),
        "by_class": reasons_by_class(session, start, end),
        "texts": open_texts(session, start, end, segment),
        "flow": lifecycle_flow(session, start, end, segment),
        "mailing": churn_mailing(session, start, end),
    }


@bp.get("/reports/churn")
@role_required("manager")
@from_replica
def churn_page():
    try:
        start, end, _, filters = parse(request.args, utcnow().date())
    except BadParameters as exc:
        return render_template("analytics/churn.html", report=None, errors=exc.errors, args=request.args), 422
    report = _churn_report(start, end, filters.segment)
    return render_template("analytics/churn.html", report=report, errors=None, args=request.args, start=start, end=end)


@bp.get("/reports/churn.csv")
@role_required("manager")
@from_replica
def churn_csv():
    table = request.args.get("table", "rates")
    try:
        if table not in CHURN_TABLES:
            raise BadParameters([{"field": "table", "message": f"table: one of {', '.join(CHURN_TABLES)}"}])
        start, end, _, filters = parse(request.args, utcnow().date())
    except BadParameters as exc:
        return Response(str(exc) + "\n", status=422, mimetype="text/plain")
    return csv_download(
        churn_csv_rows(db.session, table, start, end, filters.segment), f"churn-{table}-{start}-{end}.csv"
    )

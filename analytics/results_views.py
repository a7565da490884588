"""A survey's results by its kind: the page /reports/surveys/<id>, its CSV, and GET /api/v1/surveys/<id>/results."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_babel import get_locale
from sqlalchemy import select

from analytics.chart import Point, trend_chart
from analytics.follow_up_reports import breakdown
from analytics.params import BadParameters, parse
from analytics.queries import categories
from analytics.results import METRICS, SurveyResults, survey_results
from customers.models import PHASES
from kundenpuls.apiauth import require_api_key
from kundenpuls.auth import role_required
from kundenpuls.csvfile import csv_download
from kundenpuls.extensions import csrf, db
from kundenpuls.problems import Problem
from kundenpuls.replica import from_replica
from kundenpuls.timeutil import utcnow
from surveys.kinds import SCORED_KEYS
from surveys.models import Survey

bp = Blueprint("survey_results", __name__)
api = Blueprint("survey_results_api", __name__, url_prefix="/api/v1")
csrf.exempt(api)


def scored_surveys() -> list[Survey]:
    """Every survey with a score (NPS, CSAT, CES), for the report menus."""
    return list(db.session.scalars(select(Survey).where(Survey.kind.in_(SCORED_KEYS)).order_by(Survey.name)))


def _results(survey: Survey) -> SurveyResults:
    start, end, interval, filters = parse(request.args, utcnow().date())
    return survey_results(db.session, survey, start, end, interval, filters, current_app.config["NPS_MIN_ANSWERS"])


def _scored_survey(survey_id: int) -> Survey | None:
    survey = db.session.get(Survey, survey_id)
    if survey is None or survey.kind not in SCORED_KEYS:
        return None
    return survey


@bp.get("/reports/surveys/<int:survey_id>")
@role_required("manager")
@from_replica
def survey_page(survey_id: int):
    survey = _scored_survey(survey_id)
    if survey is None:
        abort(404)
    try:
        results, errors = _results(survey), None
        start, end, _interval, filters = parse(request.args, utcnow().date())
        follow_ups = breakdown(db.session, survey, start, end, filters)
    except BadParameters as exc:
        results, errors, follow_ups = None, exc.errors, []
    page = render_template(
        "analytics/survey_results.html",
        survey=survey,
        results=results,
        errors=errors,
        follow_ups=follow_ups,
        chart=results_chart(results) if results else None,
        locale=str(get_locale()),
        surveys=scored_surveys(),
        categories=categories(db.session),
        phases=PHASES,
        args=request.args,
    )
    return page, 422 if errors else 200


SCALES = {"nps": (-100, 100, (-100, -50, 0, 50, 100)), "csat": (0, 100, (0, 25, 50, 75, 100)),
          "ces": (1, 7, (1, 2, 3, 4, 5, 6, 7))}  # fmt: skip


def results_chart(results: SurveyResults):
    """The kind's metric per period with its interval band, on the metric's whole scale."""
    points = [
        Point(p.start, p.figure.value.value, p.figure.value.ci_low, p.figure.value.ci_high, p.figure.counts.n,
              p.figure.too_few)
        for p in results.periods
    ]  # fmt: skip
    bottom, top, ticks = SCALES[results.kind.key]
    return trend_chart(points, METRICS[results.kind.key], bottom, top, ticks)


def _cell(value):
    return "" if value is None else value


def csv_rows(results: SurveyResults):
    """Header and one row per period: the class counts by the kind's own names, the metric, the change test."""
    kind = results.kind
    header = ["period_start", "n", *kind.classes, "metric", "value", "ci_low", "ci_high", "too_few_answers"]
    if kind.key == "ces":
        header += ["share_easy", "share_easy_ci_low", "share_easy_ci_high"]
    header += ["change", "p_value", "significant", "partial", "first_day", "last_day"]
    yield header
    for period in results.periods:
        data, change = period.figure.as_dict(), period.change
        row = [period.start.isoformat(), data["n"], *data["classes"].values(), METRICS[kind.key]]
        row += [_cell(data["value"]), _cell(data["ci_low"]), _cell(data["ci_high"]), int(data["too_few"])]
        if kind.key == "ces":
            easy = data["share_easy"]
            row += [_cell(easy["value"]), _cell(easy["ci_low"]), _cell(easy["ci_high"])]
        row += [
            _cell(change and change.delta),
            _cell(change and change.p_value is not None and round(change.p_value, 6)),
            _cell(change and change.p_value is not None and int(change.significant)),
            int(period.partial),
            period.first_day.isoformat(),
            period.last_day.isoformat(),
        ]
        yield row


@bp.get("/reports/surveys/<int:survey_id>.csv")
@role_required("manager")
@from_replica
def survey_csv(survey_id: int):
    survey = _scored_survey(survey_id)
    if survey is None:
        return Response("no survey with a score has this id\n", status=404, mimetype="text/plain")
    try:
        results = _results(survey)
    except BadParameters as exc:
        return Response(str(exc) + "\n", status=422, mimetype="text/plain")
    name = f"{survey.key}-{results.interval}-{results.start}-{results.end}.csv"
    return csv_download(list(csv_rows(results)), name)


def results_json(results: SurveyResults, filters: dict) -> dict:
    periods = []
    for period in results.periods:
        entry = {"start": period.start.isoformat(), **period.figure.as_dict()}
        entry.update(
            partial=period.partial, first_day=period.first_day.isoformat(), last_day=period.last_day.isoformat()
        )
        if period.change is not None:
            entry["change"] = period.change.as_dict()
        periods.append(entry)
    return {
        "survey": {"id": results.survey.id, "key": results.survey.key, "name": results.survey.name},
        "kind": results.kind.key,
        "metric": METRICS[results.kind.key],
        "interval": results.interval,
        "from": results.start.isoformat(),
        "to": results.end.isoformat(),
        "filters": filters,
        "periods": periods,
        "total": results.total.as_dict(),
    }


@api.get("/surveys/<int:survey_id>/results")
@require_api_key
@from_replica
def results_api(survey_id: int):
    survey = db.session.get(Survey, survey_id)
    if survey is None:
        raise Problem(404, "Not found", f"no survey with id {survey_id}")
    if survey.kind not in SCORED_KEYS:
        raise Problem(
            409,
            "No score",
            f"survey {survey_id} is a {survey.kind} survey without a score: its answers are in GET /api/v1/responses",
        )
    try:
        results = _results(survey)
    except BadParameters as exc:
        raise Problem(422, "Invalid report parameters", str(exc), exc.errors) from None
    filters = {k: v for k, v in request.args.items() if k in ("segment", "language", "locale", "phase", "category")}
    return jsonify(results_json(results, filters))

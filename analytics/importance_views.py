"""The importance report: /reports/importance (quadrant chart, table, sentences), its CSV, and
GET /api/v1/reports/importance."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, request
from markupsafe import Markup, escape
from sqlalchemy import select

from analytics.importance_report import ImportanceReport, Segment, importance_report
from analytics.params import BadParameters, parse
from customers.models import PHASES
from kundenpuls.apiauth import require_api_key
from kundenpuls.auth import role_required
from kundenpuls.csvfile import csv_download
from kundenpuls.extensions import csrf, db
from kundenpuls.problems import Problem
from kundenpuls.timeutil import utcnow
from surveys.audience import SATISFACTION
from surveys.kinds import SCORED_KEYS
from surveys.models import Survey

bp = Blueprint("importance", __name__)
api = Blueprint("importance_api", __name__, url_prefix="/api/v1")
csrf.exempt(api)


def _report() -> ImportanceReport:
    start, end, _interval, filters = parse(request.args, utcnow().date())
    if "from" not in request.args:
        start = end.replace(year=end.year - 1)
    satisfaction = request.args.get("satisfaction") or None
    if satisfaction not in (None, *SATISFACTION):
        message = f"satisfaction: one of {', '.join(SATISFACTION)}"
        raise BadParameters([{"field": "satisfaction", "message": message}])
    segment = Segment(filters.survey_id, filters.segment, filters.phase, satisfaction)
    return importance_report(db.session, start, end, segment)


WIDTH, HEIGHT, PAD = 560, 360, 48


def quadrant_chart(report: ImportanceReport, labels: dict[str, str]) -> Markup:
    """Importance (share of R^2) across, performance (mean rating 1-5) up, lines at the means: the four fields."""
    shown = [f for f in report.attributes if f.share_of_r2 is not None and f.performance is not None]
    if not shown:
        return Markup("")
    right = max(0.5, max(f.share_of_r2 for f in shown) * 1.15)

    def x(share: float) -> float:
        return PAD + share / right * (WIDTH - 2 * PAD)

    def y(rating: float) -> float:
        return HEIGHT - PAD - (rating - 1) / 4 * (HEIGHT - 2 * PAD)

    mean_share = sum(f.share_of_r2 for f in shown) / len(shown)
    mean_rating = sum(f.performance for f in shown) / len(shown)
    parts = [
        f'<svg class="chart quadrant" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="quadrant-title">',
        f'<title id="quadrant-title">{escape(labels["title"])}</title>',
        f'<line x1="{x(mean_share):.1f}" x2="{x(mean_share):.1f}" y1="{PAD}" y2="{HEIGHT - PAD}" stroke="#9aa5b1" '
        'stroke-dasharray="4 3"/>',
        f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(mean_rating):.1f}" y2="{y(mean_rating):.1f}" stroke="#9aa5b1" '
        'stroke-dasharray="4 3"/>',
    ]
    corners = (("invest_here", WIDTH - PAD, HEIGHT - PAD + 30, "end"), ("keep_it_up", WIDTH - PAD, PAD - 16, "end"),
               ("save_there", PAD, PAD - 16, "start"), ("low_priority", PAD, HEIGHT - PAD + 30, "start"))  # fmt: skip
    for key, cx, cy, anchor in corners:
        parts.append(f'<text x="{cx}" y="{cy}" text-anchor="{anchor}" font-size="13" font-weight="bold" '
                     f'fill="#3e4c59">{escape(labels[key])}</text>')  # fmt: skip
    for f in shown:
        label = escape(f"{f.attribute.label(labels['locale'])}: {f.share_of_r2:.0%}, {f.performance:.2f}")
        parts.append(
            f'<circle cx="{x(f.share_of_r2):.1f}" cy="{y(f.performance):.1f}" r="6" fill="#1d4ed8"><title>{label}'
            f'</title></circle><text x="{x(f.share_of_r2) + 9:.1f}" y="{y(f.performance) + 4:.1f}" font-size="12" '
            f'fill="#1f2933">{escape(f.attribute.label(labels["locale"]))}</text>'
        )
    parts.append(
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" text-anchor="middle" font-size="12" fill="#52606d">'
        f'{escape(labels["x"])}</text><text x="14" y="{HEIGHT / 2}" font-size="12" fill="#52606d" '
        f'transform="rotate(-90 14 {HEIGHT / 2})" text-anchor="middle">{escape(labels["y"])}</text></svg>'
    )
    return Markup("".join(parts))


@bp.get("/reports/importance")
@role_required("manager")
def importance_page():
    try:
        report, errors = _report(), None
    except BadParameters as exc:
        report, errors = None, exc.errors
    surveys = db.session.scalars(
        select(Survey).where(Survey.kind.in_(SCORED_KEYS), Survey.rating_grid.is_(True)).order_by(Survey.name)
    ).all()
    page = render_template(
        "analytics/importance.html", report=report, errors=errors, args=request.args, surveys=surveys,
        phases=PHASES, satisfaction=SATISFACTION, quadrant_chart=quadrant_chart,
    )  # fmt: skip
    return page, 422 if errors else 200


def _number(value, digits: int = 4):
    return "" if value is None else round(value, digits)


@bp.get("/reports/importance.csv")
@role_required("manager")
def importance_csv():
    try:
        report = _report()
    except BadParameters as exc:
        return Response(str(exc) + "\n", status=422, mimetype="text/plain")
    header = ["attribute", "label_de", "label_en", "rated", "importance", "importance_low", "importance_high",
              "share_of_r2", "share_low", "share_high", "performance", "performance_low", "performance_high",
              "quadrant"]  # fmt: skip
    rows = [
        [f.attribute.key, f.attribute.label_de, f.attribute.label_en, f.rated, _number(f.importance),
         _number(f.importance_low), _number(f.importance_high), _number(f.share_of_r2), _number(f.share_low),
         _number(f.share_high), _number(f.performance), _number(f.performance_low), _number(f.performance_high),
         f.quadrant or ""]
        for f in report.attributes
    ]  # fmt: skip
    return csv_download([header, *rows], f"importance-{report.start}-{report.end}.csv")


def report_json(report: ImportanceReport) -> dict:
    return {
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "segment": report.segment.as_query(),
        "n": report.complete,
        "answers_with_ratings": report.n,
        "min_answers": report.min_answers,
        "r2": report.r2,
        "attributes": [
            {
                "key": f.attribute.key,
                "label": {"de": f.attribute.label_de, "en": f.attribute.label_en},
                "n": f.rated,
                "importance": f.importance,
                "importance_low": f.importance_low,
                "importance_high": f.importance_high,
                "share_of_r2": f.share_of_r2,
                "performance": f.performance,
                "performance_low": f.performance_low,
                "performance_high": f.performance_high,
                "quadrant": f.quadrant,
            }
            for f in report.attributes
        ],
    }


@api.get("/reports/importance")
@require_api_key
def importance_api():
    try:
        report = _report()
    except BadParameters as exc:
        raise Problem(422, "Invalid report parameters", str(exc), exc.errors) from None
    return jsonify(report_json(report))

"""Report parameters from a query string, shared by the page, the CSV and the API; bad input says what is wrong."""

from __future__ import annotations

from datetime import date, timedelta

from werkzeug.datastructures import MultiDict

from analytics.queries import INTERVALS, ReportFilter
from customers.models import PHASES
from kundenpuls.inputs import whole_number
from kundenpuls.timeutil import EARLIEST_DAY, LATEST_DAY, check_day
from surveys.channels import CHANNELS

MAX_DAYS = 3 * 366 + 31


class BadParameters(ValueError):
    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(e["message"] for e in errors))
        self.errors = errors


def parse(args: MultiDict, today: date) -> tuple[date, date, str, ReportFilter]:
    errors = []

    def day(name: str, default: date) -> date:
        raw = args.get(name) or args.get({"from": "start", "to": "end"}.get(name, name))
        if not raw:
            return default
        try:
            return check_day(date.fromisoformat(raw[:10]))
        except ValueError:
            errors.append(
                {"field": name, "message": f"{name}: expected a date YYYY-MM-DD from {EARLIEST_DAY} to {LATEST_DAY}"}
            )
            return default

    interval = args.get("interval") or "month"
    if interval not in INTERVALS:
        errors.append({"field": "interval", "message": "interval: week or month"})
        interval = "month"
    end = day("to", today)
    start = day(
        "from",
        (end.replace(day=1) - timedelta(days=330)).replace(day=1) if interval == "month" else end - timedelta(weeks=12),
    )
    if start > end:
        errors.append({"field": "from", "message": "from: must not be after to"})
    elif (end - start).days > MAX_DAYS:
        errors.append({"field": "from", "message": "from: the range may span at most three years"})
    survey = args.get("survey") or None
    if survey is not None:
        try:
            whole_number(survey)
        except ValueError:
            errors.append({"field": "survey", "message": "survey: expected a survey id"})
            survey = None
    locale = args.get("language") or args.get("locale") or None
    if locale not in (None, "de", "en"):
        errors.append({"field": "language", "message": "language: de or en"})
        locale = None
    segment = args.get("segment") or args.get("value_class") or None  # value_class: the newer reports' name
    if segment not in (None, "A", "B", "C"):
        errors.append({"field": "segment", "message": "segment: A, B or C (value class)"})
        segment = None
    phase = args.get("phase") or None
    if phase not in (None, *PHASES):
        errors.append({"field": "phase", "message": f"phase: one of {', '.join(PHASES)}"})
        phase = None
    channel = args.get("channel") or None
    if channel not in (None, *CHANNELS):
        errors.append({"field": "channel", "message": f"channel: one of {', '.join(CHANNELS)}"})
        channel = None
    if errors:
        raise BadParameters(errors)
    category = args.get("category") or None
    filters = ReportFilter(int(survey) if survey else None, locale, category, segment, phase, channel)
    return start, end, interval, filters

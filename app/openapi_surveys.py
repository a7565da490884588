"""The survey part of the OpenAPI description: each survey's results by its kind (issue 21)."""

from __future__ import annotations

NUMBER_OR_NULL = {"type": ["number", "null"]}
ESTIMATE = {
    "type": "object",
    "properties": {"value": NUMBER_OR_NULL, "ci_low": NUMBER_OR_NULL, "ci_high": NUMBER_OR_NULL},
}
FIGURE = {
    "type": "object",
    "required": ["n", "classes", "value", "ci_low", "ci_high", "too_few"],
    "properties": {
        "n": {"type": "integer"},
        "classes": {
            "type": "object",
            "description": "answers per class, best first: promoter/passive/detractor (NPS), "
            "satisfied/neutral/dissatisfied (CSAT), easy/neutral/hard (CES)",
            "additionalProperties": {"type": "integer"},
        },
        "value": {**NUMBER_OR_NULL, "description": "NPS points, CSAT % satisfied, or the CES mean (1-7)"},
        "ci_low": NUMBER_OR_NULL,
        "ci_high": NUMBER_OR_NULL,
        "too_few": {"type": "boolean", "description": "fewer answers than NPS_MIN_ANSWERS"},
        "share_easy": {**ESTIMATE, "description": "CES only: % of answers 5-7 with the Wilson interval"},
    },
}
PERIOD = {
    **FIGURE,
    "properties": {
        **FIGURE["properties"],
        "start": {"type": "string", "format": "date"},
        "partial": {"type": "boolean"},
        "first_day": {"type": "string", "format": "date"},
        "last_day": {"type": "string", "format": "date"},
        "change": {
            "type": "object",
            "description": "to the period before: the difference of the values and the test of that difference "
            "(NPS: unpooled z; CSAT: pooled two-proportion z; CES: Welch's t)",
            "properties": {
                "delta": {"type": "number"},
                "p_value": {"type": ["number", "null"], "description": "null: a period has too few answers"},
                "significant": {"type": "boolean"},
                "too_few": {"type": "boolean"},
            },
        },
    },
}
RESULTS = {
    "type": "object",
    "required": ["kind", "metric", "periods", "total"],
    "properties": {
        "survey": {"type": "object"},
        "kind": {"type": "string", "enum": ["nps", "csat", "ces"]},
        "metric": {"type": "string", "enum": ["nps", "csat_percent", "ces_mean"]},
        "interval": {"type": "string", "enum": ["week", "month"]},
        "periods": {"type": "array", "items": PERIOD},
        "total": FIGURE,
    },
}
SURVEY_ID = {"name": "survey_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


def survey_paths(json, problem, errors: dict) -> dict:
    """The paths under /api/v1/surveys; `json` and `problem` build responses as in app.openapi."""
    date = {"type": "string", "format": "date"}
    return {
        "/api/v1/surveys/{survey_id}/results": {
            "get": {
                "summary": "A survey's results per period by its kind: NPS, CSAT % or the CES mean, each with its "
                "95% interval and the change to the period before",
                "parameters": [
                    SURVEY_ID,
                    {"name": "from", "in": "query", "schema": date},
                    {"name": "to", "in": "query", "schema": date},
                    {"name": "interval", "in": "query", "schema": {"type": "string", "enum": ["week", "month"]}},
                    {"name": "segment", "in": "query", "schema": {"type": "string", "enum": ["A", "B", "C"]}},
                    {"name": "phase", "in": "query", "schema": {"type": "string"}},
                    {"name": "category", "in": "query", "schema": {"type": "string"}},
                    {"name": "language", "in": "query", "schema": {"type": "string", "enum": ["de", "en"]}},
                ],
                "responses": {
                    "200": json("Periods and total", RESULTS),
                    "404": problem("No survey with this id"),
                    "409": problem("A churn survey: it has reasons, not a score"),
                    **errors,
                },
            }
        },
    }

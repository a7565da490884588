"""The reports part of the OpenAPI description: the importance report (issue 24)."""

from __future__ import annotations

NUMBER_OR_NULL = {"type": ["number", "null"]}
IMPORTANCE = {
    "type": "object",
    "required": ["n", "r2", "attributes"],
    "properties": {
        "n": {"type": "integer", "description": "answers that rated every attribute (the regression's)"},
        "answers_with_ratings": {"type": "integer"},
        "min_answers": {"type": "integer"},
        "r2": {**NUMBER_OR_NULL, "description": "null: fewer than min_answers complete answers"},
        "attributes": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "key": {"type": "string"},
                    "label": {"type": "object"},
                    "n": {"type": "integer", "description": "answers that rated it"},
                    "importance": {**NUMBER_OR_NULL, "description": "Shapley value of R^2; they sum to r2"},
                    "importance_low": NUMBER_OR_NULL,
                    "importance_high": NUMBER_OR_NULL,
                    "share_of_r2": NUMBER_OR_NULL,
                    "performance": {**NUMBER_OR_NULL, "description": "mean rating 1-5"},
                    "performance_low": NUMBER_OR_NULL,
                    "performance_high": NUMBER_OR_NULL,
                    "quadrant": {
                        "type": ["string", "null"],
                        "enum": ["invest_here", "keep_it_up", "save_there", "low_priority", None],
                    },
                },
            },
        },
    },
}


def report_paths(json, errors: dict) -> dict:
    date = {"type": "string", "format": "date"}
    return {
        "/api/v1/reports/importance": {
            "get": {
                "summary": "Per segment: each rated attribute's importance for the score (Shapley share of R^2, "
                "bootstrap intervals) and performance (mean rating, t interval), with its quadrant",
                "parameters": [
                    {"name": "survey", "in": "query", "schema": {"type": "integer"}},
                    {"name": "from", "in": "query", "schema": date},
                    {"name": "to", "in": "query", "schema": date},
                    {"name": "value_class", "in": "query", "schema": {"type": "string", "enum": ["A", "B", "C"]}},
                    {"name": "phase", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "satisfaction",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["promoter", "passive", "detractor", "unknown"]},
                    },
                ],
                "responses": {"200": json("The report", IMPORTANCE), **errors},
            }
        }
    }

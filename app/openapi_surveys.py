"""The survey part of the OpenAPI description: the survey settings and each survey's results by its kind."""

from __future__ import annotations

from surveys.channels import CHANNELS
from surveys.settings_api import NewSurvey, SurveyChanges

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


SURVEY = {
    "type": "object",
    "required": ["id", "key", "kind", "name", "active", "texts"],
    "properties": {
        "id": {"type": "integer"},
        "key": {"type": "string"},
        "kind": {"type": "string", "enum": ["nps", "csat", "ces", "churn"]},
        "name": {"type": "string"},
        "active": {"type": "boolean"},
        "audience": {"type": ["object", "null"]},
        "texts": {"type": "object"},
        "results": {"type": ["string", "null"]},
    },
}


def survey_paths(json, problem, errors: dict, body_errors: dict, schemas: dict) -> dict:
    """The paths under /api/v1/surveys; `json` and `problem` build responses as in app.openapi, and the request
    bodies' schemas (from the validating pydantic models) go into `schemas`."""
    for model in (NewSurvey, SurveyChanges):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    date = {"type": "string", "format": "date"}

    def body(name: str) -> dict:
        return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}

    return {
        "/api/v1/surveys": {
            "get": {
                "summary": "Every survey with its settings and texts",
                "responses": {
                    "200": json(
                        "The surveys", {"type": "object", "properties": {"surveys": {"type": "array", "items": SURVEY}}}
                    ),
                    **errors,
                },
            },
            "post": {
                "summary": "Create an NPS, CSAT or CES survey (paused unless active is true); checked with the rules "
                "of the /surveys form; audited",
                "requestBody": body("NewSurvey"),
                "responses": {
                    "201": json("Created", SURVEY),
                    "409": problem("The key is taken"),
                    **body_errors,
                },
            },
        },
        "/api/v1/surveys/{survey_id}": {
            "get": {
                "summary": "One survey",
                "parameters": [SURVEY_ID],
                "responses": {"200": json("The survey", SURVEY), "404": problem("No survey with this id"), **errors},
            },
            "patch": {
                "summary": "Change the named settings (texts merge per language and name; audience replaces); "
                "checked with the rules of the /surveys form; audited; queued mail is rendered again",
                "parameters": [SURVEY_ID],
                "requestBody": body("SurveyChanges"),
                "responses": {
                    "200": json("The survey as changed", SURVEY),
                    "404": problem("No survey with this id"),
                    **body_errors,
                },
            },
        },
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
                    {"name": "channel", "in": "query", "schema": {"type": "string", "enum": list(CHANNELS)}},
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

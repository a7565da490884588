"""GET /api/v1/openapi.json: the OpenAPI 3.1 description of the HTTP API.

The request bodies come from the same pydantic models that validate them, so the description cannot drift
from what the API accepts; the answers are described by hand next to the code that builds them.
"""

from __future__ import annotations

import functools
from zoneinfo import available_timezones

from flask import Blueprint, current_app, jsonify

from app.openapi_ingest import batch_path
from app.openapi_reports import report_paths
from app.openapi_surveys import survey_paths
from app.openapi_widget import widget_paths
from surveys.channels import CHANNELS

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

REF = "#/components/schemas/{model}"
MONEY = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": 9999999999.99, "multipleOf": 0.01},
        {"type": "string", "pattern": "^[0-9]{1,10}([.,][0-9]{1,2})?$"},
    ]
}
SIGNED_MONEY = {
    "anyOf": [
        {"type": "number", "minimum": -9999999999.99, "maximum": 9999999999.99, "multipleOf": 0.01},
        {"type": "string", "pattern": "^-?[0-9]{1,10}([.,][0-9]{1,2})?$"},
    ]
}


NUMBER_OR_NULL = {"type": ["number", "null"]}
MODEL_FIT = {
    "type": "object",
    "required": ["id", "as_of", "customers", "purchases", "spend"],
    "properties": {
        "id": {"type": "integer"},
        "as_of": {"type": "string", "format": "date"},
        "customers": {"type": "integer"},
        "purchases": {
            "type": "object",
            "properties": {
                **dict.fromkeys(("r", "alpha", "a", "b", "log_likelihood"), NUMBER_OR_NULL),
                "time_unit": {"const": "day"},
                "converged": {"type": "boolean"},
            },
        },
        "spend": {
            "type": "object",
            "properties": {**dict.fromkeys(("p", "q", "gamma"), NUMBER_OR_NULL), "customers": {"type": "integer"}},
        },
    },
}
OUTLOOK = {
    "type": "object",
    "required": ["as_of", "p_alive", "expected_purchases", "expected_spend_per_purchase", "clv", "horizon_days",
                 "model_id"],
    "properties": {
        "as_of": {"type": "string", "format": "date"},
        "p_alive": {"type": "number", "minimum": 0, "maximum": 1},
        "expected_purchases": {"type": "number", "description": "in the next horizon_days days"},
        "expected_spend_per_purchase": {"type": "number"},
        "clv": {"type": "number", "description": "discounted margin (or revenue: clv_basis) over clv_horizon_months"},
        "horizon_days": {"type": "integer"},
        "clv_horizon_months": {"type": "integer"},
        "clv_basis": {"type": "string", "enum": ["margin", "revenue"]},
        "model_id": {"type": "integer"},
    },
}  # fmt: skip


def _problem(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _json(description: str, schema: dict | None = None) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema or {"type": "object"}}}}


ERRORS = {"401": _problem("No or an unknown API key"), "422": _problem("Invalid input; `errors` names each field")}
BODY_ERRORS = {
    **ERRORS,
    "400": _problem("The body is not valid JSON"),
    "413": _problem("The body is larger than 2 MB"),
    "415": _problem("The body is not application/json"),
}
CHANNEL_PARAM = {
    "name": "channel",
    "in": "query",
    "schema": {"type": "string", "enum": list(CHANNELS)},
    "description": "answers that came by this path; the response rate of invitations this channel delivered",
}
SURVEY_LINK = {
    "type": "object",
    "required": ["url", "qr", "expires_at", "survey", "status"],
    "properties": {
        "url": {"type": "string", "description": "the link to print: BASE_URL/p/<token>"},
        "qr": {
            "type": "object",
            "properties": {
                "svg": {"type": "string", "description": "the QR code (of BASE_URL/q/<token>) as SVG, scalable"},
                "png": {"type": "string", "description": "as PNG; `?size=` its width in pixels, 64-2000 (300)"},
            },
        },
        "expires_at": {"type": "string", "format": "date-time"},
        "survey": {"type": "string", "description": "the survey's key"},
        "status": {"type": "string", "description": "sent (handed out), answered, expired"},
    },
}
EXTERNAL_ID = {
    "name": "external_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 100},
    "description": "The customer's id in the shop or ERP",
}


@functools.cache
def document(base_url: str) -> dict:
    from customers.schemas import CancellationIn, PurchaseIn

    schemas: dict = {}
    for model in (PurchaseIn, CancellationIn):
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    # What pydantic cannot say about its own fields: the languages we have texts for, IANA zones, money.
    customer = schemas["CustomerIn"]["properties"]
    customer["locale"] = {
        "anyOf": [{"enum": ["de", "en", "de-DE", "de-AT", "de-CH", "en-GB", "en-US"]}, {"type": "null"}]
    }
    customer["timezone"] = {"anyOf": [{"enum": sorted(available_timezones())}, {"type": "null"}]}
    customer["potential"] = {"anyOf": [MONEY, {"type": "null"}]}
    purchase = schemas["PurchaseIn"]["properties"]
    purchase["amount"] = MONEY
    purchase["margin"] = {"anyOf": [SIGNED_MONEY, {"type": "null"}]}
    schemas["Problem"] = {
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "object"}},
            "reason": {"type": "string", "description": "a 409's cause, for a client to branch on"},
        },
    }
    period = {
        "type": "object",
        "properties": {
            "start": {"type": "string", "format": "date"},
            "n": {"type": "integer"},
            "promoters": {"type": "integer"},
            "passives": {"type": "integer"},
            "detractors": {"type": "integer"},
            "nps": {"type": ["number", "null"]},
            "ci_low": {"type": ["number", "null"]},
            "ci_high": {"type": ["number", "null"]},
            "too_few": {"type": "boolean", "description": "fewer answers than NPS_MIN_ANSWERS"},
            "partial": {"type": "boolean", "description": "the range cuts the period: only first_day..last_day count"},
            "first_day": {"type": "string", "format": "date"},
            "last_day": {"type": "string", "format": "date"},
            "change": {
                "type": "object",
                "description": "to the period before: the NPS difference and its unpooled two-sample z-test",
                "properties": {
                    "delta": {"type": "number"},
                    "p_value": {"type": ["number", "null"], "description": "null: a period has too few answers"},
                    "significant": {"type": "boolean"},
                    "too_few": {"type": "boolean"},
                },
            },
        },
    }
    date_param = {"type": "string", "format": "date"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kundenpuls API",
            "version": "1",
            "description": "Purchases and cancellations in; customers, NPS figures and answers out. "
            "Every error is application/problem+json (RFC 9457).",
        },
        "servers": [{"url": base_url}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API key"}},
            "schemas": schemas,
        },
        "paths": {
            "/api/v1/purchases": {
                "post": {
                    "summary": "Record a purchase (idempotent per order_id); the customer is created or updated",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PurchaseIn"}}},
                    },
                    "responses": {
                        "201": _json("Recorded"),
                        "200": _json("The same order_id again: nothing changed, no second invitation"),
                        "409": _problem("The external id names an erased customer: no data can be added to it"),
                        **BODY_ERRORS,
                    },
                }
            },
            "/api/v1/purchases/batch": batch_path(_json, _problem, BODY_ERRORS),
            "/api/v1/purchases/{order_id}/survey-link": {
                "get": {
                    "summary": "A personal survey link to print on the invoice or receipt, with its QR code; the same "
                    "link on every call, and the survey's mail, if due later, delivers the same invitation",
                    "parameters": [
                        {
                            "name": "order_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 100},
                        },
                        {
                            "name": "survey",
                            "in": "query",
                            "schema": {"type": "string", "maxLength": 50},
                            "description": "a purchase survey's key; default: the first active one whose audience "
                            "takes the customer",
                        },
                    ],
                    "responses": {
                        "201": _json("A new link", SURVEY_LINK),
                        "200": _json("The link handed out before", SURVEY_LINK),
                        "404": _problem("Unknown order id"),
                        "409": _problem(
                            "No link: `reason` is unsubscribed, erased, quiet_period (asked within the survey's quiet "
                            "period, by any channel) or no_survey"
                        ),
                        "503": _problem("The invitation job is running; retry after Retry-After seconds"),
                        **ERRORS,
                    },
                }
            },
            "/api/v1/cancellations": {
                "post": {
                    "summary": "Report a cancellation: the customer is churned and gets the churn-reason survey",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CancellationIn"}}},
                    },
                    "responses": {
                        "201": _json("Recorded"),
                        "200": _json("Already churned: the cancellation on record"),
                        "404": _problem("Unknown customer"),
                        "409": _problem("The customer was erased: no data can be added to it"),
                        **BODY_ERRORS,
                    },
                }
            },
            "/api/v1/customers/{external_id}": {
                "get": {
                    "summary": "The customer with lifecycle phase, value, segment, satisfaction and suggestions",
                    "parameters": [EXTERNAL_ID],
                    "responses": {"200": _json("The customer"), "404": _problem("Unknown customer"), **ERRORS},
                },
                "delete": {
                    "summary": "Erase the customer (GDPR Art. 17); scores stay as anonymous rows",
                    "parameters": [EXTERNAL_ID],
                    "responses": {"200": _json("Erased"), "404": _problem("Unknown customer"), **ERRORS},
                },
            },
            "/api/v1/customers/{external_id}/export": {
                "get": {
                    "summary": "Everything stored about the customer (GDPR Art. 15 and 20)",
                    "parameters": [EXTERNAL_ID],
                    "responses": {"200": _json("The export"), "404": _problem("Unknown customer"), **ERRORS},
                }
            },
            "/api/v1/customers/{external_id}/outlook": {
                "get": {
                    "summary": "P(alive), expected purchases and spend, and CLV from the latest good purchase-model "
                    "fit, as of its calibration day",
                    "parameters": [
                        EXTERNAL_ID,
                        {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 3650}},
                    ],
                    "responses": {
                        "200": _json("The outlook", OUTLOOK),
                        "404": _problem("Unknown or erased customer, no fit yet, or no purchase by the fit's day"),
                        "422": _problem("days is not a whole number from 1 to 3650"),
                        **ERRORS,
                    },
                }
            },
            "/api/v1/models/latest": {
                "get": {
                    "summary": "The latest good fit of the purchase-behaviour models (BG/NBD, Gamma-Gamma)",
                    "responses": {"200": _json("The fit", MODEL_FIT), "404": _problem("No good fit yet"), **ERRORS},
                }
            },
            "/api/v1/nps": {
                "get": {
                    "summary": "NPS per period with the adjusted-Wald 95% interval and the change to the period before",
                    "parameters": [
                        {"name": "from", "in": "query", "schema": date_param},
                        {"name": "to", "in": "query", "schema": date_param},
                        {"name": "interval", "in": "query", "schema": {"type": "string", "enum": ["week", "month"]}},
                        {"name": "survey", "in": "query", "schema": {"type": "integer"}},
                        {"name": "segment", "in": "query", "schema": {"type": "string", "enum": ["A", "B", "C"]}},
                        {"name": "phase", "in": "query", "schema": {"type": "string"}},
                        {"name": "category", "in": "query", "schema": {"type": "string"}},
                        {"name": "language", "in": "query", "schema": {"type": "string", "enum": ["de", "en"]}},
                        CHANNEL_PARAM,
                    ],
                    "responses": {
                        "200": _json(
                            "Periods, total, and per channel: answers by the path they came, the response rate per "
                            "channel that first delivered the invitation (null where it delivers none)",
                            {
                                "type": "object",
                                "required": ["periods", "total", "channels"],
                                "properties": {
                                    "periods": {"type": "array", "items": period},
                                    "total": period,
                                    "channels": {"type": "array", "items": {"type": "object"}},
                                },
                            },
                        ),
                        **ERRORS,
                    },
                }
            },
            **survey_paths(_json, _problem, ERRORS, BODY_ERRORS, schemas),
            **report_paths(_json, ERRORS),
            **widget_paths(_json, _problem),
            "/api/v1/responses": {
                "get": {
                    "summary": "Answers for export, oldest first; follow `next` for the following page",
                    "parameters": [
                        {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                        {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                    ],
                    "responses": {
                        "200": _json(
                            "One page",
                            {
                                "type": "object",
                                "required": ["responses", "next"],
                                "properties": {
                                    "responses": {"type": "array", "items": {"type": "object"}},
                                    "next": {"type": ["string", "null"]},
                                },
                            },
                        ),
                        **ERRORS,
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This description",
                    "security": [],
                    "responses": {"200": _json("OpenAPI 3.1")},
                }
            },
        },
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(document(current_app.config["BASE_URL"]))

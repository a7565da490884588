"""The web widget's API in the OpenAPI document: what the script calls from the host page (no API key; the
widget's public key in the path, a signed-in customer's id signed with the widget's secret in the body)."""

from __future__ import annotations

IDENTITY = {
    "customer": {"type": "string", "maxLength": 100, "description": "the signed-in customer's external id"},
    "signature": {"type": "string", "description": "hex HMAC-SHA256(widget secret, customer), made on your server"},
    "lang": {"type": "string", "enum": ["de", "en"]},
}
KEY = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}


def _body(extra: dict, required: list[str] | None = None) -> dict:
    schema = {"type": "object", "properties": {**IDENTITY, **extra}, "required": required or []}
    # text/plain keeps the browser's request "simple" (no CORS preflight); the body is JSON all the same.
    return {"required": True, "content": {"text/plain": {"schema": schema}, "application/json": {"schema": schema}}}


def widget_paths(json, problem) -> dict:
    base = "/api/widget/v1/{key}"
    refused = {
        "400": problem("The body is not a JSON object"),
        "422": problem("A value the call does not take"),
        "403": problem("A wrong signature (`reason` signature), or a page of an origin the widget does not list"),
        "404": problem("No widget has this key"),
    }

    def post(summary: str, body: dict, responses: dict) -> dict:
        return {"post": {"summary": summary, "security": [], "parameters": [KEY], "requestBody": body,
                         "responses": {**refused, **responses}}}  # fmt: skip

    return {
        f"{base}/check": post(
            "Whether to show the survey to this visitor now, and its texts and scale if so",
            _body({"page": {"type": "string", "description": "the page's path, for the widget's page patterns"}}),
            {"200": json("`show`; `reason` when not: off, page, anonymous, unknown, unsubscribed, audience, quiet")},
        ),
        f"{base}/shown": post(
            "A signed-in customer sees the survey: the contact (an invitation of channel widget) is made",
            _body({}, ["customer", "signature"]),
            {"201": json("`token` of the invitation"), "409": problem("Not asked now; `reason` says why")},
        ),
        f"{base}/answer": post(
            "The answer, through the same answer path as a mailed one",
            _body(
                {"token": {"type": "string"}, "score": {"type": "integer"}, "comment": {"type": ["string", "null"]}},
                ["score"],
            ),
            {
                "201": json("`thanks`: the survey's thank-you text"),
                "409": problem("Answered already"),
                "410": problem("Closed or expired"),
                "429": problem("Too many anonymous answers from this network"),
                "422": problem("Score off the scale, comment too long"),
            },
        ),  # fmt: skip
        f"{base}/dismiss": post(
            "A signed-in customer closed it: the invitation ends unanswered",
            _body({"token": {"type": "string"}}, ["customer", "signature", "token"]),
            {"204": {"description": "Closed"}},
        ),
    }

"""The batch purchase call in the OpenAPI document: a shop's bulk sync, one result per item."""

from __future__ import annotations

from customers.bulk import MAX_BATCH

BATCH_IN = {
    "type": "object",
    "required": ["purchases"],
    "properties": {
        "purchases": {"type": "array", "maxItems": MAX_BATCH, "items": {"$ref": "#/components/schemas/PurchaseIn"}}
    },
}
BATCH_OUT = {
    "type": "object",
    "required": ["results"],
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["order_id", "status"],
                "properties": {
                    "order_id": {"type": ["string", "null"]},
                    "status": {"type": "integer", "enum": [201, 200, 409, 422]},
                    "problem": {"$ref": "#/components/schemas/Problem"},
                },
            },
        }
    },
}


def batch_path(json, problem, body_errors: dict) -> dict:
    return {
        "post": {
            "summary": f"Up to {MAX_BATCH} purchases at once, each like the single call's body; one result per item "
            "in order (201 new, 200 same order_id, 409 erased customer, 422 invalid with its problem); valid items "
            "are stored even when others fail; one lifecycle recompute per batch",
            "requestBody": {"required": True, "content": {"application/json": {"schema": BATCH_IN}}},
            "responses": {
                "200": json("One result per item", BATCH_OUT),
                **body_errors,
                "413": problem(f"More than {MAX_BATCH} items (`max_items`), or a body over 2 MB"),
                "422": problem('The body is not {"purchases": [...]}'),
            },
        }
    }

"""GET /api/v1/responses: answers for export, in pages that a client follows by `next`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.feedback_helpers import answered


def test_responses_come_in_pages_oldest_first(session, api):
    now = datetime.now(UTC)
    answered(session, 1, 3, "Zu teuer", now=now - timedelta(days=2))
    answered(session, 2, 9, now=now - timedelta(days=1))
    answered(session, 3, 10, now=now)

    first = api.get("/api/v1/responses?limit=2")
    assert first.status_code == 200
    assert [(r["customer_external_id"], r["score"]) for r in first.json["responses"]] == [("C-1", 3), ("C-2", 9)]
    assert first.json["responses"][0]["comment"] == "Zu teuer"
    assert first.json["responses"][0]["nps_class"] == "detractor"
    second = api.get(first.json["next"])
    assert [r["customer_external_id"] for r in second.json["responses"]] == ["C-3"]
    assert second.json["next"] is None

    since = (now - timedelta(hours=36)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = api.get(f"/api/v1/responses?since={since}")
    assert [r["customer_external_id"] for r in recent.json["responses"]] == ["C-2", "C-3"]


def test_bad_paging_parameters_are_problems(api):
    for query in ("since=gestern", "limit=0", "limit=5000", "after=-1", "limit=zwei"):
        answer = api.get(f"/api/v1/responses?{query}")
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json", query

"""The weekly manager digest: last week's NPS, trend table, themes and queue health, once per week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from analytics.digest import send_weekly_digest
from messaging.outbox import dispatch_due
from surveys.models import Survey
from tests.feedback_helpers import answered, make_user

MONDAY = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
LAST_WEDNESDAY = MONDAY - timedelta(days=5)


def test_digest_goes_to_managers_once_a_week(session, smtp):
    make_user(session, "chefin@example.com", "manager")
    make_user(session, "agent@example.com", "agent")
    for n, (score, comment) in enumerate(
        [
            (10, None),
            (9, None),
            (10, None),
            (2, "Lieferung zu spät"),
            (4, "Lieferung zu spät, Paket beschädigt"),
            (8, None),
        ],
        start=1,
    ):
        answered(session, n, score, comment, now=LAST_WEDNESDAY)
    assert send_weekly_digest(session, MONDAY - timedelta(days=1)) is None  # Sunday: not digest time
    assert send_weekly_digest(session, MONDAY) == 1
    assert send_weekly_digest(session, MONDAY + timedelta(hours=3)) == 0
    dispatch_due(session, MONDAY)
    assert smtp.by_recipient("agent@example.com") == []
    [mail] = [m for m in smtp.by_recipient("chefin@example.com") if not m["Subject"].startswith("Detractor")]
    assert mail["Subject"] == "Weekly NPS 2026-W46: +17"
    text = mail.get_body(("plain",)).get_content()
    assert "NPS in the week from 2026-11-09: +16.7 (n = 6" in text
    nps_names = ", ".join(session.scalars(select(Survey.name).where(Survey.kind == "nps")))
    assert f"From the NPS surveys: {nps_names}" in text
    assert "lieferung (2)" in text and "spät (2)" in text
    assert "2 open, 2 overdue" in text  # opened Wednesday, first contact was due by Friday
    html = mail.get_body(("html",)).get_content()
    assert "<table" in html and "2026-11-09" in html and "/reports/nps?interval=week" in html


def test_a_week_against_a_small_week_says_too_few_answers_to_test(session, smtp):
    """Both weeks have answers but fewer than NPS_MIN_ANSWERS: the change is shown without a p-value."""
    make_user(session, "chefin@example.com", "manager")
    answered(session, 1, 10, now=LAST_WEDNESDAY - timedelta(days=7))
    answered(session, 2, 3, now=LAST_WEDNESDAY)
    assert send_weekly_digest(session, MONDAY) == 1
    dispatch_due(session, MONDAY)
    [mail] = [m for m in smtp.by_recipient("chefin@example.com") if m["Subject"].startswith("Weekly")]
    text = mail.get_body(("plain",)).get_content()
    assert "Change against the week before: -200.0 (too few answers to test)" in text
    assert "p = " not in text
    assert "too few answers to test" in mail.get_body(("html",)).get_content()

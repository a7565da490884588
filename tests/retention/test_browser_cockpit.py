"""In headless Chromium: a manager reads the cockpit, opens a cell and lands on a customer's page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from retention.answers import apply_answers
from surveys.models import Invitation
from tests.conftest import ARTIFACTS, next_business_morning
from tests.feedback.test_browser_queue import sign_in
from tests.feedback_helpers import make_user
from tests.retention.test_cockpit import customer, placed

pytestmark = pytest.mark.browser


def test_manager_goes_from_a_cockpit_cell_to_the_customer(session, live_server, chromium):
    make_user(session, "chefin@example.com", "manager", "Maria Managerin")
    top = customer(session, "K-1", "A", "existing", 6000, [(5, 2)])
    top.name, top.margin_12m, top.potential_value = "Autohaus Becker", Decimal(1500), Decimal(9000)
    customer(session, "K-2", "A", "existing", 900, [(5, 10)]).name = "Bäckerei Schulz"
    session.commit()
    placed(session)
    context, page = sign_in(chromium, live_server, "chefin@example.com")
    page.goto(f"{live_server}/cockpit")
    cell = page.locator('[data-cell="A-existing"]')
    expect(cell.locator('[data-figure="customers"]')).to_have_text("2")
    expect(page.locator('[data-group="star"] [data-figure="customers"]')).to_have_text("1")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cockpit.png"), full_page=True)
    cell.get_by_title("detractor").click()
    expect(page.locator("h1")).to_contain_text("A · existing · detractor")
    page.get_by_role("link", name="Autohaus Becker").click()
    expect(page.locator("[data-satisfaction]")).to_have_text("detractor (2)")
    expect(page.locator("[data-clv]")).to_contain_text("€4,000.00")  # 1500 x 0.8 / (1 + 0.1 - 0.8)
    context.close()


def test_a_detractor_answer_moves_the_segment_and_the_suggestion_is_worked(session, buy, live_server, chromium):
    """The customer answers 2 in the browser; the cockpit says an answer is on its way, and after the scheduler's
    next tick it counts a detractor in A x existing and the customer page suggests the high-value detractor
    measure, which the manager accepts into the queue."""
    from surveys.jobs import create_due_invitations

    make_user(session, "chefin@example.com", "manager", "Maria Managerin")
    happy = customer(session, "C-1", "A", "existing", 6000, [(200, 10)])
    happy.name = "Autohaus Becker"
    session.commit()
    placed(session)
    send_at = next_business_morning(datetime.now(UTC))
    buy("O-1", "C-1", purchased_at=send_at - timedelta(days=300), name="Autohaus Becker")  # history, not invited
    buy("O-9", "C-1", purchased_at=send_at - timedelta(days=3, hours=12), name="Autohaus Becker")
    create_due_invitations(session, send_at)
    session.commit()
    token = session.scalars(select(Invitation.token).where(Invitation.answered_at.is_(None))).one()

    context = chromium.new_context(locale="de-DE")
    survey = context.new_page()
    survey.goto(f"{live_server}/s/{token}?score=2")
    survey.get_by_role("button", name="Antwort senden").click()
    survey.get_by_role("heading", name="Vielen Dank für Ihre Antwort!").wait_for()
    context.close()

    context, page = sign_in(chromium, live_server, "chefin@example.com")
    page.goto(f"{live_server}/cockpit")
    expect(page.locator("[data-waiting]")).to_have_text("1 new answer is on its way into these figures.")
    apply_answers(session, datetime.now(UTC))  # the scheduler's next tick
    page.reload()
    expect(page.locator("[data-waiting]")).to_have_count(0)
    cell = page.locator('[data-cell="A-existing"]')
    expect(cell.get_by_title("detractor")).to_have_text("1")
    expect(cell.get_by_title("promoter")).to_have_text("0")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cockpit-after-detractor.png"), full_page=True)
    cell.get_by_title("detractor").click()
    page.get_by_role("link", name="Autohaus Becker").click()
    expect(page.locator("[data-segment]")).to_contain_text("A · existing · detractor")
    suggestion = page.locator('[data-rule="High-value detractor"]')
    expect(suggestion.locator("[data-why]")).to_contain_text(
        "A customer, detractor (score 2) → Personal call by the account owner"
    )
    page.screenshot(path=str(ARTIFACTS / "customer-suggestions.png"), full_page=True)
    suggestion.get_by_role("button", name="Accept").click()
    expect(page.locator('[data-rule="High-value detractor"]')).to_contain_text("accepted")
    page.goto(f"{live_server}/queue")
    expect(page.locator("table.queue")).to_contain_text("Personal call by the account owner")
    context.close()

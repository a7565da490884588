"""In headless Chromium: an agent works the top case to resolution; the manager sees the figures change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from messaging.outbox import dispatch_due
from tests.conftest import ARTIFACTS
from tests.feedback_helpers import PASSWORD, answered, make_user

pytestmark = pytest.mark.browser


def sign_in(browser, base: str, email: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return context, page


def test_agent_closes_the_loop_and_manager_sees_it(session, smtp, live_server, chromium):
    make_user(session, "agent@example.com", "agent", "Alex Agent")
    make_user(session, "chefin@example.com", "manager", "Maria Managerin")
    top = answered(session, 1, 1, "Das Paket kam kaputt an", amount=8_000)
    answered(session, 2, 6, "Etwas langsam", amount=40)
    ARTIFACTS.mkdir(exist_ok=True)

    manager_context, manager = sign_in(chromium, live_server, "chefin@example.com")
    manager.goto(f"{live_server}/queue/health")
    expect(manager.locator('[data-figure="open"]')).to_have_text("2")

    agent_context, agent = sign_in(chromium, live_server, "agent@example.com")
    agent.goto(f"{live_server}/queue")
    first_row = agent.locator("table.queue tbody tr").first
    expect(first_row).to_contain_text("Das Paket kam kaputt an")
    expect(first_row).to_contain_text("€8,000 revenue in 12 months")
    agent.screenshot(path=str(ARTIFACTS / "queue.png"), full_page=True)

    first_row.get_by_role("link", name=str(top.id)).click()
    agent.get_by_role("button", name="Take this case").click()
    expect(agent.get_by_role("alert").or_(agent.locator(".flash"))).to_contain_text("The case is yours now.")
    agent.get_by_label("Note").fill("Lager prüft die Verpackung")
    agent.get_by_role("button", name="Add", exact=True).click()
    expect(agent.locator(".timeline")).to_contain_text("Lager prüft die Verpackung")
    agent.get_by_label("Subject").fill("Ihr beschädigtes Paket")
    agent.get_by_label("Message to the customer").fill("Es tut uns leid, Ersatz ist unterwegs.")
    agent.get_by_role("button", name="Send reply").click()
    expect(agent.locator(".flash")).to_contain_text("Reply queued for sending.")
    agent.get_by_label("Root cause").select_option("delivery")
    agent.get_by_role("button", name="Save", exact=True).click()
    agent.get_by_label("Status").select_option("resolved")
    agent.get_by_role("button", name="Change status").click()
    expect(agent.locator("h1")).to_contain_text("Resolved")
    agent.screenshot(path=str(ARTIFACTS / "case.png"), full_page=True)

    assert dispatch_due(session, datetime.now(UTC)).sent == 3  # the reply and the two detractor alerts
    [reply] = smtp.by_recipient("kunde1@example.com")
    assert reply["Subject"] == "Ihr beschädigtes Paket"

    manager.reload()
    expect(manager.locator('[data-figure="open"]')).to_have_text("1")
    expect(manager.locator('table[data-table="owner"]')).to_contain_text("agent@example.com")
    agent_context.close()
    manager_context.close()

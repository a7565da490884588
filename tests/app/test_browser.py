"""End to end in headless Chromium: from the received mail to the thank-you page, on a phone."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from messaging.outbox import dispatch_due
from surveys.jobs import create_due_invitations
from surveys.models import Response
from tests.conftest import ARTIFACTS, next_business_morning

pytestmark = pytest.mark.browser


def test_customer_answers_from_the_mail_on_a_phone(session, buy, smtp, live_server, chromium):
    send_at = next_business_morning(datetime.now(UTC))
    buy(purchased_at=send_at - timedelta(days=3, hours=12), name="Anna Becker")
    create_due_invitations(session, send_at)
    assert dispatch_due(session, send_at).sent == 1
    [mail] = smtp.messages
    html = mail.get_body(("html",)).get_content()
    link = re.search(r'href="([^"]+\?score=9)"', html).group(1)
    assert link.startswith(live_server)

    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="de-DE"
    )
    page = context.new_page()
    page.goto(link)
    assert page.get_by_role("radio", name="9", exact=True).is_checked()
    assert not page.get_by_role("radio", name="3", exact=True).is_checked()
    assert page.get_by_role("group", name="Wie wahrscheinlich ist es").is_visible()
    # Every score is a comfortable touch target.
    box = page.locator("label.score").first.bounding_box()
    assert box["height"] >= 44
    page.get_by_label("Was ist der wichtigste Grund für Ihre Bewertung?").fill("Schnelle Lieferung, netter Service")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "survey-phone.png"), full_page=True)
    page.get_by_role("button", name="Antwort senden").click()
    page.get_by_role("heading", name="Vielen Dank für Ihre Antwort!").wait_for()
    page.screenshot(path=str(ARTIFACTS / "survey-thanks-phone.png"))
    context.close()

    stored = session.scalars(select(Response)).one()
    assert (stored.score, stored.comment) == (9, "Schnelle Lieferung, netter Service")


def test_keyboard_only_customer_can_answer(session, buy, live_server, chromium):
    send_at = datetime.now(UTC)
    buy(purchased_at=send_at - timedelta(days=3, hours=1), locale="en")
    create_due_invitations(session, send_at)
    from surveys.models import Invitation

    token = session.scalars(select(Invitation.token)).one()
    page = chromium.new_page()
    page.goto(f"{live_server}/s/{token}")
    page.get_by_role("radio", name="0", exact=True).focus()
    for _ in range(6):
        page.keyboard.press("ArrowRight")
    assert page.get_by_role("radio", name="6", exact=True).is_checked()
    page.get_by_role("button", name="Send answer").press("Enter")
    page.get_by_role("heading", name="Thank you for your answer!").wait_for()
    assert session.scalars(select(Response.score)).one() == 6

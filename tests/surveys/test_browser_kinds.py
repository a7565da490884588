"""A CSAT survey answered in headless Chromium on a phone, with and without JavaScript: the labelled one-click
link from the mail, the labelled scale on the page, zero axe violations (issue 21)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import select, update

from feedback.models import Case
from messaging.outbox import dispatch_due
from surveys.follow_up_settings import QuestionSpec, add_question
from surveys.follow_ups import answers_of
from surveys.jobs import create_due_invitations
from surveys.models import Invitation, Response, Survey
from surveys.settings import create_survey
from tests.conftest import ARTIFACTS, next_business_morning
from tests.feedback_helpers import make_user

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_a_csat_answer_on_a_phone(session, buy, smtp, live_server, chromium, javascript):
    admin = make_user(session, "admin@example.com", "admin")
    # Only the CSAT survey asks, after purchases here (a resolved case is the default trigger; either works).
    session.execute(update(Survey).values(active=False))
    survey = create_survey(session, "Zufriedenheit", "csat", admin.id, datetime.now(UTC), kind="csat")
    survey.active, survey.trigger, survey.delay_days = True, "purchase", 3
    choices = [("Lieferzeit", "Delivery time"), ("Preis", "Price"), ("Beratung", "Advice")]
    reasons = QuestionSpec("single", "Was lief nicht gut?", "What went wrong?", ["dissatisfied"], choices=choices)
    question = add_question(session, survey, reasons, admin.id, datetime.now(UTC))
    session.commit()
    send_at = next_business_morning(datetime.now(UTC))
    buy(purchased_at=send_at - timedelta(days=3, hours=12), name="Anna Becker")
    create_due_invitations(session, send_at)
    assert dispatch_due(session, send_at).sent == 1
    [mail] = smtp.messages
    html = mail.get_body(("html",)).get_content()
    assert re.findall(r"<b>(\d)</b> &nbsp;([^<]+)</a>", html)[1] == ("2", "unzufrieden")
    link = re.search(r'href="([^"]+\?score=2)"', html).group(1)

    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True,
        locale="de-DE", java_script_enabled=javascript,
    )  # fmt: skip
    page = context.new_page()
    page.goto(link)
    assert page.get_by_role("radio", name="2 unzufrieden").is_checked()
    assert page.get_by_role("group", name="Wie zufrieden waren Sie").is_visible()
    assert page.locator("label.score").count() == 5
    box = page.locator("label.score").first.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 300  # one full-width row per point on a phone
    if javascript:  # axe-core runs as JavaScript in the page: without it, the same HTML was checked already
        results = Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "csat-phone.png"), full_page=True)
    follow_up = page.get_by_role("group", name="Was lief nicht gut?")
    if javascript:  # the question for the chosen class shows at once, and hides again for a happy score
        assert follow_up.is_visible()
        page.get_by_role("radio", name="5 sehr zufrieden").check()
        assert not follow_up.is_visible()
        page.get_by_role("radio", name="2 unzufrieden").check()
        follow_up.get_by_role("radio", name="Beratung").check()
        results = Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
        page.screenshot(path=str(ARTIFACTS / "csat-follow-up-phone.png"), full_page=True)
    else:
        assert not follow_up.is_visible()
    page.get_by_label("Möchten Sie uns noch etwas sagen?").fill("Die Rückmeldung kam spät")
    page.get_by_role("button", name="Antwort senden").click()
    if not javascript:  # one more step: the score is stored, the question for its class follows
        page.get_by_text("Ihre Bewertung wurde gespeichert.").wait_for()
        assert session.scalars(select(Response.score)).one() == 2
        page.get_by_role("group", name="Was lief nicht gut?").get_by_role("radio", name="Beratung").check()
        page.get_by_role("button", name="Senden").click()
    page.get_by_role("heading", name="Vielen Dank für Ihre Antwort!").wait_for()
    context.close()

    stored = session.scalars(select(Response)).one()
    assert (stored.score, stored.comment) == (2, "Die Rückmeldung kam spät")
    [given] = answers_of(session, [stored.id])[stored.id]
    assert (given["question_id"], [c["key"] for c in given["choices"]]) == (question.id, ["advice"])
    assert session.scalars(select(Case.kind).where(Case.response_id == stored.id)).one() == "dissatisfied"


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_the_rating_grid_on_a_phone(session, buy, live_server, chromium, javascript):
    """NPS with the rating grid: one screen of attributes on a phone, rated by tapping, stored with the score."""
    from surveys.rating_grid import ratings_of

    nps = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    nps.rating_grid = True
    session.commit()
    now = datetime.now(UTC)
    buy(purchased_at=now - timedelta(days=3, hours=1))
    create_due_invitations(session, now)
    invitation = session.scalars(select(Invitation)).one()
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True,
        locale="de-DE", java_script_enabled=javascript,
    )  # fmt: skip
    page = context.new_page()
    page.goto(f"{live_server}/s/{invitation.token}?score=7")
    grid = page.get_by_role("group", name="Wie bewerten Sie uns bei")
    box = grid.bounding_box()
    assert box["width"] <= 390 and box["height"] < 844  # the six attributes fit one phone screen
    grid.get_by_role("group", name="Preis").get_by_role("radio", name="2", exact=True).check()
    grid.get_by_role("group", name="Beratung").get_by_role("radio", name="trifft nicht zu").check()
    if javascript:
        results = Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
        page.screenshot(path=str(ARTIFACTS / "rating-grid-phone.png"), full_page=True)
    page.get_by_role("button", name="Antwort senden").click()
    page.get_by_role("heading", name="Vielen Dank für Ihre Antwort!").wait_for()
    context.close()
    response = session.scalars(select(Response)).one()
    assert response.score == 7
    assert ratings_of(session, [response.id])[response.id] == [
        {"attribute": "price", "rating": 2}, {"attribute": "advice", "rating": None},
    ]  # fmt: skip

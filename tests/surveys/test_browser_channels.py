"""Channels end to end against a running server, in Chromium on a phone: the shop's till asks the API for the
receipt's link and prints the QR code, a phone scans it (decoded from the served PNG) and the customer answers; a
visitor answers through an anonymous link."""

from __future__ import annotations

import io
import json
import urllib.request

import pytest
import zxingcpp
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from sqlalchemy import select

from kundenpuls.timeutil import utcnow
from surveys.models import Response, Survey
from surveys.public_links import create_link
from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.one_database]


def fetch(url: str, api_key: str | None = None) -> bytes:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
        return response.read()


def test_a_receipt_qr_code_scanned_and_answered_on_a_phone(session, buy, api_key, live_server, chromium):
    buy("K-2026-0815", name="Anna Becker")
    link = json.loads(fetch(f"{live_server}/api/v1/purchases/K-2026-0815/survey-link", api_key))
    [scanned] = zxingcpp.read_barcodes(Image.open(io.BytesIO(fetch(link["qr"]["png"] + "?size=200"))))
    assert scanned.text == link["url"].replace("/p/", "/q/")

    context = chromium.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="de-DE"
    )
    page = context.new_page()
    page.goto(scanned.text)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "printed-link-phone.png"))
    page.locator("label.score").nth(9).click()
    page.get_by_role("button", name="Antwort senden").click()
    page.get_by_role("heading", name="Vielen Dank für Ihre Antwort!").wait_for()
    page.goto(link["url"])  # the printed link, typed in later: answered already
    page.get_by_role("heading", name="Sie haben diese Umfrage bereits beantwortet.").wait_for()
    context.close()
    stored = session.scalars(select(Response)).one()
    assert (stored.score, stored.channel) == (9, "qr")


def test_an_anonymous_link_answered_on_a_phone(session, live_server, chromium):
    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    link = create_link(session, survey, "Plakat Eingang", None, utcnow(), ask_email=True)
    session.commit()
    context = chromium.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="en-US"
    )
    page = context.new_page()
    page.goto(f"{live_server}/l/{link.slug}")
    assert context.cookies() == []  # reading sets no cookie
    page.get_by_text("Your answer is anonymous").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert not page.get_by_label("Leave this field empty").is_visible()  # the honeypot
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "anonymous-link-phone.png"), full_page=True)
    page.locator("label.score").nth(4).click()
    page.get_by_label("What is the most important reason for your score?").fill("Long queue at the till")
    page.get_by_role("button", name="Send answer").click()
    page.get_by_role("heading", name="Thank you for your answer!").wait_for()
    assert [cookie["name"] for cookie in context.cookies()] == ["kp_answered"]
    page.goto(f"{live_server}/l/{link.slug}")
    page.get_by_role("heading", name="You have already answered this survey.").wait_for()
    context.close()
    stored = session.scalars(select(Response)).one()
    assert (stored.score, stored.channel, stored.customer_id, stored.comment) == (
        4,
        "anonymous",
        None,
        "Long queue at the till",
    )

"""The web widget's script and API: who is asked (signed identity, audience, unsubscribe, erasure, quiet period
across channels, the page), the contact a showing makes, answers through the one answer path, the script's size
and caching, and the origins a widget allows."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from analytics.channel_report import by_channel
from analytics.queries import ReportFilter
from customers.models import Customer
from feedback.models import Case
from kundenpuls.timeutil import utcnow
from surveys.models import Invitation, Response, Survey
from surveys.widgets import create_widget, signature
from tests.conftest import csrf_token
from tests.feedback_helpers import make_user, sign_in

HOST = "https://shop.example.de"


@pytest.fixture
def widget(session):
    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    made = create_widget(session, survey, {"label": "Kundenportal", "origins": HOST}, None, utcnow())
    session.commit()
    return made


def call(client, widget, path, origin=HOST, **body):
    headers = {"Content-Type": "text/plain", **({"Origin": origin} if origin else {})}
    return client.post(f"/api/widget/v1/{widget.public_key}/{path}", data=json.dumps(body), headers=headers)


def signed_in(widget, external_id="C-1"):
    return {"customer": external_id, "signature": signature(widget.secret, external_id)}


def test_a_signed_in_customer_is_asked_once_and_answers_through_the_answer_path(client, session, buy, widget):
    buy("O-1", "C-1")
    check = call(client, widget, "check", page="/konto", lang="de", **signed_in(widget))
    assert check.status_code == 200 and check.json["show"] is True and check.json["anonymous"] is False
    assert check.headers["Access-Control-Allow-Origin"] == HOST and "Set-Cookie" not in check.headers
    assert check.json["texts"]["question"].startswith("Wie wahrscheinlich")
    assert [s["value"] for s in check.json["scale"]] == list(range(11))
    assert session.scalar(select(func.count()).select_from(Invitation)) == 0  # a check alone contacts nobody

    token = call(client, widget, "shown", lang="de", **signed_in(widget)).json["token"]
    invitation = session.scalars(select(Invitation).where(Invitation.token == token)).one()
    assert (invitation.channel, invitation.status, invitation.sent_at is not None) == ("widget", "sent", True)
    # Shown once: a reload, another tab, or the mail's next run finds the customer contacted (quiet period).
    assert call(client, widget, "check", **signed_in(widget)).json == {"show": False, "reason": "quiet"}

    late = "Lieferung kam zu spät"
    answered = call(client, widget, "answer", token=token, score=3, comment=late, **signed_in(widget))
    assert answered.status_code == 201 and answered.json["thanks"]
    response = session.scalars(select(Response)).one()
    assert (response.score, response.channel, response.customer_id) == (3, "widget", invitation.customer_id)
    assert session.scalars(select(Case)).one().response_id == response.id  # a detractor opens a case, as by mail
    again = call(client, widget, "answer", token=token, score=9, **signed_in(widget))
    assert again.status_code == 409 and again.json["reason"] == "answered"


def test_nobody_answers_as_someone_else(client, session, buy, widget):
    buy("O-1", "C-1")
    forged = {"customer": "C-1", "signature": signature("guessed-secret", "C-1")}
    for path in ("check", "shown"):
        refused = call(client, widget, path, **forged)
        assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
        assert refused.json["reason"] == "signature"
    token = call(client, widget, "shown", **signed_in(widget)).json["token"]
    # The token of C-1's showing, with another customer's valid signature or none, answers nothing.
    buy("O-2", "C-2", "b@example.com")
    assert call(client, widget, "answer", token=token, score=9, **forged).status_code == 403
    assert call(client, widget, "answer", token=token, score=9).status_code == 403  # anonymous: not allowed
    # C-2, signed in properly, cannot answer (or close) the survey shown to C-1, even knowing its token.
    assert call(client, widget, "answer", token=token, score=9, **signed_in(widget, "C-2")).status_code == 404
    assert call(client, widget, "dismiss", token=token, **signed_in(widget, "C-2")).status_code == 204
    assert session.scalars(select(Invitation)).one().status == "sent"  # that close changed nothing
    assert session.scalar(select(func.count()).select_from(Response)) == 0


def test_who_is_not_asked(client, session, buy, widget, api):
    buy("O-1", "C-1")
    buy("O-2", "C-2", "b@example.com")
    buy("O-3", "C-3", "c@example.com")
    customer = session.scalars(select(Customer).where(Customer.external_id == "C-1")).one()
    customer.unsubscribed_at = utcnow()
    session.commit()
    assert call(client, widget, "check", **signed_in(widget, "C-1")).json["reason"] == "unsubscribed"
    assert call(client, widget, "shown", **signed_in(widget, "C-1")).status_code == 409
    assert call(client, widget, "check", **signed_in(widget, "nobody")).json["reason"] == "unknown"
    assert api.delete("/api/v1/customers/C-2").status_code == 200
    assert call(client, widget, "check", **signed_in(widget, "C-2")).json["reason"] == "unknown"  # erased
    widget.survey.audience = {"value_classes": ["A"]}
    session.commit()
    assert call(client, widget, "check", **signed_in(widget, "C-3")).json["reason"] == "audience"
    widget.survey.audience = None
    widget.url_patterns = "/konto/*\n/bestellung/fertig"
    session.commit()
    assert call(client, widget, "check", page="/produkte/tasse", **signed_in(widget, "C-3")).json["reason"] == "page"
    assert call(client, widget, "check", page="/konto/daten", **signed_in(widget, "C-3")).json["show"] is True
    # Without a signed id: anonymous visitors are asked only when the widget allows it.
    assert call(client, widget, "check", page="/konto/daten").json == {"show": False, "reason": "anonymous"}
    widget.active = False
    session.commit()
    assert call(client, widget, "check", page="/konto/daten", **signed_in(widget, "C-3")).json["reason"] == "off"


def test_another_worker_s_change_is_read_within_seconds(client, session, buy, widget, monkeypatch):
    """The check reads a widget snapshot kept a few seconds per process; a change made elsewhere (here a plain
    UPDATE, which no ORM event in this process sees) reaches it once that time is up. Customer data is never kept."""
    from sqlalchemy import update

    from surveys import widget_snapshots
    from surveys.widget_models import Widget

    buy("O-1", "C-1")
    moment = [1000.0]
    monkeypatch.setattr(widget_snapshots, "clock", lambda: moment[0])
    assert call(client, widget, "check", **signed_in(widget)).json["show"] is True
    session.execute(update(Widget).where(Widget.id == widget.id).values(active=False))
    session.commit()
    customer = session.scalars(select(Customer).where(Customer.external_id == "C-1")).one()
    customer.unsubscribed_at = utcnow()
    session.commit()
    assert call(client, widget, "check", **signed_in(widget)).json["reason"] == "unsubscribed"  # read at once
    moment[0] += widget_snapshots.SNAPSHOT_SECONDS
    assert call(client, widget, "check", **signed_in(widget)).json["reason"] == "off"


def test_the_quiet_period_holds_across_channels(client, session, buy, widget):
    """A customer mailed last week is not asked on the website; one asked on the website is not mailed."""
    from surveys.jobs import create_due_invitations

    buy("O-1", "C-1", purchased_at=datetime.now(UTC) - timedelta(days=5))
    buy("O-2", "C-2", "b@example.com", purchased_at=datetime.now(UTC) - timedelta(days=5))
    token = call(client, widget, "shown", **signed_in(widget, "C-2")).json["token"]
    create_due_invitations(session, utcnow())
    session.commit()
    ids = dict(session.execute(select(Customer.id, Customer.external_id)).all())
    by_customer = {ids[i.customer_id]: i.channel for i in session.scalars(select(Invitation).order_by(Invitation.id))}
    assert by_customer == {"C-2": "widget", "C-1": "email"}  # C-2 was asked on the website: no mail
    assert call(client, widget, "check", **signed_in(widget, "C-1")).json["reason"] == "quiet"
    assert token


def test_closing_it_is_a_contact_and_ends_the_invitation(client, session, buy, widget):
    buy("O-1", "C-1")
    token = call(client, widget, "shown", **signed_in(widget)).json["token"]
    assert call(client, widget, "dismiss", token=token, **signed_in(widget)).status_code == 204
    assert call(client, widget, "answer", token=token, score=9, **signed_in(widget)).status_code == 410
    assert call(client, widget, "check", **signed_in(widget)).json["reason"] == "quiet"


def test_anonymous_visitors_when_allowed(client, session, widget):
    widget.allow_anonymous = True
    session.commit()
    check = call(client, widget, "check", lang="en")
    assert check.json["show"] is True and check.json["anonymous"] is True
    assert check.json["texts"]["anonymous"] == "Your answer is anonymous: we do not know who you are."
    assert call(client, widget, "answer", score=11).status_code == 422  # off the scale: nothing stored
    assert call(client, widget, "answer", score="9").status_code == 422
    assert call(client, widget, "answer", score=9, comment="x" * 5001).status_code == 422
    assert session.scalar(select(func.count()).select_from(Invitation)) == 0
    done = call(client, widget, "answer", score=10, comment="Toller Laden", lang="en")
    assert done.status_code == 201 and "Set-Cookie" not in done.headers
    response = session.scalars(select(Response)).one()
    assert (response.customer_id, response.channel, response.locale) == (None, "widget", "en")
    today = utcnow().date()
    [row] = [r for r in by_channel(session, today, today, ReportFilter()) if r.channel == "widget"]
    assert row.figure.n == 1 and row.response_rate is None  # anonymous answers count; no rate without deliveries


def test_signed_in_showings_give_the_widget_a_response_rate(client, session, buy, widget):
    for n in (1, 2):
        buy(f"O-{n}", f"C-{n}", f"k{n}@example.com")
    first = call(client, widget, "shown", **signed_in(widget, "C-1")).json["token"]
    call(client, widget, "shown", **signed_in(widget, "C-2"))
    call(client, widget, "answer", token=first, score=9, **signed_in(widget, "C-1"))
    today = utcnow().date()
    [row] = [r for r in by_channel(session, today, today, ReportFilter()) if r.channel == "widget"]
    assert (row.sent, row.answered, row.response_rate) == (2, 1, 50.0)


def test_other_websites_and_bad_requests_are_refused(client, session, widget):
    from sqlalchemy import update

    from surveys.widget_models import Widget

    elsewhere = call(client, widget, "check", origin="https://evil.example")
    assert elsewhere.status_code == 403 and elsewhere.json["reason"] == "origin"
    assert "Access-Control-Allow-Origin" not in elsewhere.headers
    unknown = client.post("/api/widget/v1/nope/check", data="{}", headers={"Origin": HOST})
    assert unknown.status_code == 404 and unknown.mimetype == "application/problem+json"
    broken = client.post(f"/api/widget/v1/{widget.public_key}/check", data="{not json", headers={"Origin": HOST})
    assert broken.status_code == 400 and broken.mimetype == "application/problem+json"
    session.execute(update(Widget).where(Widget.id == widget.id).values(allow_anonymous=True))
    session.commit()
    nul = call(client, widget, "answer", score=9, comment="gut\u0000")  # PostgreSQL stores no NUL in text
    assert nul.status_code == 400 and nul.mimetype == "application/problem+json"
    assert session.scalar(select(func.count()).select_from(Response)) == 0
    preflight = client.options(f"/api/widget/v1/{widget.public_key}/answer", headers={"Origin": HOST})
    assert preflight.headers["Access-Control-Allow-Origin"] == HOST


def test_the_script_is_small_cached_for_a_year_and_named_by_its_content(client, app):
    from surveys.widget_views import script_url

    with app.test_request_context():
        url = script_url()
    path = url.removeprefix(app.config["BASE_URL"])
    served = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert served.status_code == 200 and served.headers["Content-Encoding"] == "gzip"
    assert len(served.data) <= 8 * 1024
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert served.mimetype == "application/javascript" and "Set-Cookie" not in served.headers
    body = gzip.decompress(served.data)
    assert b"eval(" not in body and b"innerHTML" not in body and b"document.cookie" not in body
    stale = client.get("/widget/kp-0000000000000000.js")
    assert stale.status_code == 302 and stale.headers["Location"].endswith(path)


def test_admins_create_and_change_widgets(client, session, widget):
    admin = make_user(session, "admin@example.com", "admin")
    sign_in(client, admin)
    page = client.get(f"/surveys/{widget.survey_id}/widgets")
    assert page.status_code == 200 and widget.public_key in page.text and "hash_hmac('sha256'" in page.text
    bad = client.post(
        f"/surveys/{widget.survey_id}/widgets",
        data={"csrf_token": csrf_token(page.text), "label": "Shop", "origins": "shop.example.de/pfad",
              "after_page_views": "1", "after_seconds": "0", "once_per_days": "90"},
    )  # fmt: skip
    assert bad.status_code == 422 and "An origin is a scheme and a host" in bad.text
    made = client.post(
        f"/surveys/{widget.survey_id}/widgets",
        data={"csrf_token": csrf_token(page.text), "label": "Shop Checkout", "origins": "https://shop.example.de/",
              "url_patterns": "/checkout/fertig", "after_page_views": "2", "after_seconds": "5",
              "once_per_days": "30", "allow_anonymous": "y"},
    )  # fmt: skip
    assert made.status_code == 302
    from surveys.widget_models import Widget

    new = session.scalars(select(Widget).where(Widget.label == "Shop Checkout")).one()
    assert (new.origins, new.after_page_views, new.allow_anonymous) == ("https://shop.example.de", 2, True)
    old_secret = new.secret
    client.post(f"/surveys/widgets/{new.id}/secret", data={"csrf_token": csrf_token(page.text)})
    session.refresh(new)
    assert new.secret != old_secret

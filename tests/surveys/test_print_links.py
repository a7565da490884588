"""Printed survey links: one per purchase, with a QR code that scans, answered by any path, mailed later as the
same invitation, and never for customers who must not be asked."""

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from analytics.models import InvitationsDaily
from customers.models import Customer
from messaging.models import OutboxMessage
from messaging.outbox import dispatch_due
from surveys.jobs import create_due_invitations, queue_reminders
from surveys.models import Invitation, Response, Survey
from surveys.print_links import NoLink, purchase_survey_link
from tests.conftest import csrf_token

BOUGHT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # a Monday
AT_THE_TILL = BOUGHT + timedelta(minutes=2)
MAIL_DUE = BOUGHT + timedelta(days=3)
# Pages opened through the test client run on the real clock: a link they open must not have expired yet (with
# BOUGHT, the printed link's 30 days ran out on 2026-12-02). A Monday of last week, 09:30 UTC.
_today = datetime.now(UTC)
RECENT = (_today - timedelta(days=_today.weekday() + 7)).replace(hour=9, minute=30, second=0, microsecond=0)
LINK = "/api/v1/purchases/{}/survey-link"


def decode(png: bytes) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_the_api_hands_out_one_link_per_purchase_with_its_qr_code(api, buy, client, session, app):
    buy("2026/O-1")
    first = api.get(LINK.format("2026/O-1"))
    assert first.status_code == 201, first.json
    base = app.config["BASE_URL"]
    token = re.fullmatch(rf"{re.escape(base)}/p/([A-Za-z0-9_-]+)", first.json["url"]).group(1)
    assert len(token) == 16  # short enough to type and to print small
    assert first.json["qr"] == {"svg": f"{base}/q/{token}/qr.svg", "png": f"{base}/q/{token}/qr.png"}
    again = api.get(LINK.format("2026/O-1"))
    assert again.status_code == 200 and again.json == first.json
    invitation = session.scalars(select(Invitation)).one()
    assert (invitation.channel, invitation.status, invitation.last_mailed_at) == ("link", "sent", None)
    assert first.json["expires_at"] == (invitation.expires_at).strftime("%Y-%m-%dT%H:%M:%SZ")

    png = client.get(f"/q/{token}/qr.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert decode(png.data) == [f"{base}/q/{token}"]
    assert "private" in png.headers["Cache-Control"]
    small = client.get(f"/q/{token}/qr.png?size=64")
    assert Image.open(io.BytesIO(small.data)).size[0] <= 64 and decode(small.data) == [f"{base}/q/{token}"]
    assert Image.open(io.BytesIO(client.get(f"/q/{token}/qr.png?size=1000").data)).size[0] > 900
    svg = client.get(f"/q/{token}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and 'viewBox="0 0 ' in svg.text and "width=" not in svg.text


def test_qr_and_link_errors_are_clear(api, buy, client):
    buy()
    token = api.get(LINK.format("O-1")).json["url"].rsplit("/", 1)[1]
    for size in ("12", "5000", "abc", "٣٠٠"):
        refused = client.get(f"/q/{token}/qr.png?size={size}")
        assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
        assert refused.json["errors"][0]["field"] == "size"
    assert client.get("/q/not-a-token/qr.png").status_code == 404
    assert client.get("/q/not-a-token/qr.svg").status_code == 404
    missing = api.get(LINK.format("O-404"))
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert "O-404" in missing.json["detail"]
    assert client.get(LINK.format("O-1")).status_code == 401
    unknown_survey = api.get(LINK.format("O-1") + "?survey=nope")
    assert unknown_survey.status_code == 409 and unknown_survey.json["reason"] == "no_survey"


def test_no_link_for_customers_who_unsubscribed_or_were_erased(api, buy, session):
    buy("O-1", "C-1", "a@example.com")
    buy("O-2", "C-2", "b@example.com")
    customer = session.scalars(select(Customer).where(Customer.external_id == "C-1")).one()
    customer.unsubscribed_at = BOUGHT
    session.commit()
    unsubscribed = api.get(LINK.format("O-1"))
    assert unsubscribed.status_code == 409 and unsubscribed.mimetype == "application/problem+json"
    assert unsubscribed.json["reason"] == "unsubscribed"
    handed_out = api.get(LINK.format("O-2")).json["url"]
    assert api.delete("/api/v1/customers/C-2").status_code == 200
    # Erasure replaced the order ids too: the shop's id finds nothing any more.
    assert api.get(LINK.format("O-2")).status_code == 404
    token = handed_out.rsplit("/", 1)[1]
    assert api.get(f"/p/{token}").status_code == 404  # the erased customer's printed link is dead too
    assert session.scalar(select(func.count()).select_from(Invitation).where(Invitation.channel == "link")) == 1


def test_the_quiet_period_holds_across_channels(session, buy):
    buy("O-1", purchased_at=BOUGHT)
    create_due_invitations(session, MAIL_DUE)  # mailed for the first purchase
    buy("O-2", purchased_at=BOUGHT + timedelta(days=20))
    with pytest.raises(NoLink) as refused:
        purchase_survey_link(session, "O-2", None, BOUGHT + timedelta(days=20))
    assert refused.value.reason == "quiet_period"
    buy("O-3", purchased_at=BOUGHT + timedelta(days=100))
    printed = purchase_survey_link(session, "O-3", None, BOUGHT + timedelta(days=100))
    assert printed.created
    session.commit()
    buy("O-4", purchased_at=BOUGHT + timedelta(days=110))
    # The printed link counts as a contact: no invitation for the next purchase within the quiet period; the mail
    # that goes delivers the printed one.
    assert create_due_invitations(session, BOUGHT + timedelta(days=113)) == 1
    assert session.scalar(select(func.count()).select_from(Invitation)) == 2
    assert session.scalars(select(OutboxMessage.invitation_id).order_by(OutboxMessage.id.desc())).first() == (
        printed.invitation.id
    )


def test_the_mail_delivers_the_printed_invitation_and_one_answer_ends_both(session, buy, client, smtp):
    buy(purchased_at=BOUGHT)
    printed = purchase_survey_link(session, "O-1", None, AT_THE_TILL).invitation
    session.commit()
    assert queue_reminders(session, MAIL_DUE) == 0  # paper gets no reminder mail
    assert create_due_invitations(session, MAIL_DUE) == 1
    assert session.scalar(select(func.count()).select_from(Invitation)) == 1
    message = session.scalars(select(OutboxMessage)).one()
    assert message.invitation_id == printed.id
    assert printed.expires_at == MAIL_DUE + timedelta(days=30)  # valid for the mail's full expiry
    assert create_due_invitations(session, MAIL_DUE + timedelta(hours=1)) == 0  # the mail is queued once
    assert dispatch_due(session, MAIL_DUE).sent == 1
    assert f"/s/{printed.token}" in smtp.messages[0].get_body(("plain",)).get_content()
    session.refresh(printed)
    assert printed.sent_at == AT_THE_TILL and printed.last_mailed_at == MAIL_DUE  # handed out, then mailed

    page = client.get(f"/q/{printed.token}")
    assert page.status_code == 200 and 'name="channel" value="qr"' in page.text
    done = client.post(f"/s/{printed.token}", data={"csrf_token": csrf_token(page.text), "score": "9", "channel": "qr"})
    assert done.status_code == 200
    assert session.scalars(select(Response.channel)).one() == "qr"
    assert "bereits beantwortet" in client.get(f"/s/{printed.token}").text  # the mailed link: answered already
    assert queue_reminders(session, MAIL_DUE + timedelta(days=5)) == 0


def test_an_answer_on_paper_before_the_mail_means_no_mail(session, buy, client, api):
    buy(purchased_at=RECENT)
    printed = purchase_survey_link(session, "O-1", None, RECENT + timedelta(minutes=2)).invitation
    session.commit()
    page = client.get(f"/p/{printed.token}")
    answer = {"csrf_token": csrf_token(page.text), "score": "3", "channel": "link"}
    assert client.post(f"/s/{printed.token}", data=answer).status_code == 200
    assert session.scalars(select(Response.channel)).one() == "link"
    assert [r["channel"] for r in api.get("/api/v1/responses").json["responses"]] == ["link"]
    assert create_due_invitations(session, RECENT + timedelta(days=3)) == 0
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_made_up_channel_is_refused_and_nothing_stored(session, buy, client):
    buy(purchased_at=RECENT)
    printed = purchase_survey_link(session, "O-1", None, RECENT + timedelta(minutes=2)).invitation
    session.commit()
    page = client.get(f"/p/{printed.token}")
    refused = client.post(
        f"/s/{printed.token}", data={"csrf_token": csrf_token(page.text), "score": "8", "channel": "fax"}
    )
    assert refused.status_code == 422
    assert session.scalar(select(func.count()).select_from(Response)) == 0


def test_handed_out_links_count_for_the_response_rate(session, buy):
    buy(purchased_at=BOUGHT)
    purchase_survey_link(session, "O-1", None, AT_THE_TILL)
    session.commit()
    assert session.scalar(select(func.sum(InvitationsDaily.sent))) == 1


def test_a_named_survey_and_its_audience(session, buy, api):
    buy()
    nps = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    nps.audience = {"categories": ["Garten"]}  # the purchase is Haushalt
    session.commit()
    refused = api.get(LINK.format("O-1"))
    assert refused.status_code == 409 and refused.json["reason"] == "no_survey"
    nps.audience = None
    session.commit()
    assert api.get(LINK.format("O-1") + f"?survey={nps.key}").json["survey"] == nps.key


def test_two_tills_asking_at_once_get_one_invitation(session, buy, concurrently, postgresql_only):
    buy()

    def ask(worker_session):
        link = purchase_survey_link(worker_session, "O-1", None, AT_THE_TILL)
        worker_session.commit()
        return link.invitation.token

    assert len(set(concurrently(ask, 6))) == 1
    assert session.scalar(select(func.count()).select_from(Invitation)) == 1

"""The rating grid: the offer's attributes rated 1-5 or "does not apply" on the score page, stored with the
score, in the API and the export; attributes kept as data on /surveys/attributes (issue 24)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from surveys.jobs import create_due_invitations
from surveys.models import Invitation, Response, Survey
from surveys.rating_grid import AttributeRating, RatingAttribute, ratings_of
from tests.conftest import csrf_token
from tests.feedback_helpers import make_user, sign_in


@pytest.fixture
def invitation(session, buy):
    nps = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    nps.rating_grid = True
    session.commit()
    now = datetime.now(UTC)
    buy(purchased_at=now - timedelta(days=3, hours=1))
    create_due_invitations(session, now)
    return session.scalars(select(Invitation)).one()


def attribute(session, key: str) -> RatingAttribute:
    return session.scalars(select(RatingAttribute).where(RatingAttribute.key == key)).one()


def test_the_grid_is_on_the_page_and_its_ratings_come_with_the_score(client, session, invitation):
    page = client.get(f"/s/{invitation.token}")
    labels = re.findall(r"<legend>([^<]+)</legend>", page.text)
    assert labels == ["Liefergeschwindigkeit", "Preis", "Beratung", "Produktqualität", "Service", "Auswahl"]
    speed, price, advice = (attribute(session, key) for key in ("delivery_speed", "price", "advice"))
    posted = client.post(
        f"/s/{invitation.token}",
        data={"csrf_token": csrf_token(page.text), "score": "6", f"a{speed.id}": "2", f"a{price.id}": "na",
              f"a{advice.id}": ""},
    )  # fmt: skip
    assert posted.status_code == 200 and "Vielen Dank" in posted.text
    response = session.scalars(select(Response)).one()
    assert ratings_of(session, [response.id])[response.id] == [
        {"attribute": "delivery_speed", "rating": 2}, {"attribute": "price", "rating": None},
    ]  # fmt: skip


def test_a_bad_grid_value_gets_the_form_back_and_stores_nothing(client, session, invitation):
    page = client.get(f"/s/{invitation.token}")
    speed = attribute(session, "delivery_speed")
    posted = client.post(
        f"/s/{invitation.token}", data={"csrf_token": csrf_token(page.text), "score": "9", f"a{speed.id}": "7"}
    )
    assert posted.status_code == 422
    assert session.scalars(select(Response)).all() == [] and session.scalars(select(AttributeRating)).all() == []


def test_ratings_in_the_api_and_the_export_and_attributes_kept_as_data(client, session, api, invitation):
    from customers.models import Customer
    from customers.privacy import export_customer

    page = client.get(f"/s/{invitation.token}")
    service = attribute(session, "service")
    client.post(f"/s/{invitation.token}", data={"csrf_token": csrf_token(page.text), "score": "10",
                                                f"a{service.id}": "5"})  # fmt: skip
    assert api.get("/api/v1/responses").get_json()["responses"][0]["ratings"] == [{"attribute": "service", "rating": 5}]
    customer = session.scalars(select(Customer)).one()
    assert export_customer(session, customer, datetime.now(UTC))["responses"][0]["ratings"][0]["rating"] == 5

    sign_in(client, make_user(session, "admin@example.com", "admin"))
    listing = client.get("/surveys/attributes")
    added = client.post("/surveys/attributes", data={"csrf_token": csrf_token(listing.text),
                                                     "new-label_de": "Verpackung", "new-label_en": "Packaging",
                                                     "new-position": "70"})  # fmt: skip
    assert added.status_code == 302
    retired = client.post(f"/surveys/attributes/{service.id}/retire",
                          data={"csrf_token": csrf_token(listing.text), "retire": "1"})  # fmt: skip
    assert retired.status_code == 302
    nps = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    preview = client.get(f"/surveys/{nps.id}/preview/page?locale=en")
    assert "Packaging" in preview.text and "<legend>Service</legend>" not in preview.text
    patched = api.patch(f"/api/v1/surveys/{nps.id}", {"rating_grid": False})
    assert patched.status_code == 200 and patched.get_json()["rating_grid"] is False

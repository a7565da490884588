"""Survey audiences: who a survey asks, by value class, phase, language, category and earlier answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from customers.models import Customer
from feedback import services as cases
from kundenpuls.audit import AuditEvent
from surveys.jobs import create_due_invitations
from surveys.models import Invitation, Survey
from surveys.settings import create_survey
from tests.conftest import csrf_token, purchase_payload
from tests.feedback_helpers import answered, make_user, sign_in


def invited(session, survey) -> list[str]:
    rows = session.scalars(
        select(Customer.external_id).join(Invitation, Invitation.customer_id == Customer.id)
        .where(Invitation.survey_id == survey.id).order_by(Customer.external_id)
    )  # fmt: skip
    return list(rows)


def default_survey(session) -> Survey:
    return session.scalars(select(Survey).where(Survey.kind == "nps").order_by(Survey.id)).first()


def test_value_class_language_and_category_limit_who_is_asked(session, api):
    now = datetime.now(UTC)
    bought = now - timedelta(days=3, hours=1)
    for n, locale, category in ((1, "de", "Garten"), (2, "de", "Garten"), (3, "en", "Garten"), (4, "de", "Haushalt")):
        payload = purchase_payload(
            f"O-{n}", f"C-{n}", f"k{n}@example.com", bought, category=category, customer={"locale": locale}
        )
        assert api.post("/api/v1/purchases", payload).status_code == 201
    for customer in session.scalars(select(Customer)):
        customer.value_class = "B" if customer.external_id == "C-2" else "A"
    survey = default_survey(session)
    survey.audience = {"value_classes": ["A"], "locales": ["de"], "categories": ["Garten"]}
    session.commit()
    create_due_invitations(session, now)
    assert invited(session, survey) == ["C-1"]


def test_ask_promoters_for_a_review_and_re_ask_detractors_after_their_case(session):
    now = datetime.now(UTC)
    agent = make_user(session, "agent@example.com", "agent")
    earlier = now - timedelta(days=30)
    answered(session, 1, 10, now=earlier)  # promoter
    fixed = answered(session, 2, 2, "kaputt", now=earlier)  # detractor, case resolved
    answered(session, 3, 1, "nie wieder", now=earlier)  # detractor, case still open
    cases.set_root_cause(session, fixed, "delivery", agent, earlier + timedelta(days=1), None)
    cases.change_status(session, fixed, "resolved", agent, earlier + timedelta(days=2), None)
    session.commit()

    review = create_survey(session, "Review", "review", agent.id, now)
    review.active, review.quiet_days = True, 0
    review.audience = {"satisfaction": ["promoter"]}
    again = create_survey(session, "Again", "again", agent.id, now)
    again.active, again.quiet_days = True, 0
    again.audience = {"satisfaction": ["detractor"], "after_resolved_case": True}
    default_survey(session).active = False
    session.commit()
    for n in (1, 2, 3):  # each buys again
        from customers.schemas import PurchaseIn
        from customers.services import record_purchase

        payload = purchase_payload(f"N-{n}", f"C-{n}", f"kunde{n}@example.com", now - timedelta(days=3, hours=1))
        record_purchase(session, PurchaseIn.model_validate(payload), now)
    session.commit()
    create_due_invitations(session, now)
    assert invited(session, review) == ["C-1"]
    assert invited(session, again) == ["C-2"]


def test_admin_counts_the_audience_before_saving_it(client, session, api):
    now = datetime.now(UTC)
    for n, locale in ((1, "de"), (2, "en"), (3, "de")):
        payload = purchase_payload(f"O-{n}", f"C-{n}", f"k{n}@example.com", now - timedelta(days=1),
                                   customer={"locale": locale})  # fmt: skip
        api.post("/api/v1/purchases", payload)
    session.scalars(select(Customer).where(Customer.external_id == "C-3")).one().unsubscribed_at = now
    session.commit()
    sign_in(client, make_user(session, "admin@example.com", "admin"))
    survey = default_survey(session)
    page = client.get(f"/surveys/{survey.id}")
    assert "As saved: 3 customers match, 2 of them can be mailed." in page.text
    form = _fields(page.text)
    form.update({"csrf_token": csrf_token(page.text), "audience_locales": "de", "count": "1"})
    counted = client.post(f"/surveys/{survey.id}", data=form)
    assert "As entered: 2 customers match, 1 of them can be mailed (not saved yet)." in counted.text
    session.expire_all()
    assert default_survey(session).audience is None
    form.pop("count")
    saved = client.post(f"/surveys/{survey.id}", data=form)
    assert saved.status_code == 302
    session.expire_all()
    assert default_survey(session).audience == {"locales": ["de"]}
    change = session.scalars(select(AuditEvent).where(AuditEvent.entity == "survey", AuditEvent.action == "changed"))
    assert change.one().after == {"audience": {"locales": ["de"]}}


def _fields(html: str) -> dict:
    """The survey form's current values, as a browser would post them back."""
    import re

    fields: dict = {}
    for match in re.finditer(r"<input([^>]*)>", html):
        attrs = match.group(1)
        name = re.search(r'name="([^"]+)"', attrs)
        value = re.search(r'value="([^"]*)"', attrs)
        if name is None:
            continue
        if 'type="checkbox"' in attrs:
            if " checked" in attrs:
                fields.setdefault(name.group(1), []).append(value.group(1) if value else "y")
        else:
            fields.setdefault(name.group(1), __import__("html").unescape(value.group(1)) if value else "")
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(
            r'<option[^>]*selected[^>]*value="([^"]*)"|<option[^>]*value="([^"]*)"[^>]*selected', options
        )
        if chosen:
            fields[name] = chosen.group(1) or chosen.group(2)
    for name, text in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', html):
        fields[name] = __import__("html").unescape(text.removeprefix("\r\n").removeprefix("\n"))
    return fields


def test_a_re_ask_survey_follows_resolved_cases_once(session):
    """Trigger "a resolved feedback case": detractors are asked again delay_days after their case was resolved,
    once per case; an open case asks nobody."""
    now = datetime.now(UTC)
    agent = make_user(session, "agent@example.com", "agent")
    fixed = answered(session, 1, 2, "kaputt", now=now - timedelta(days=10))
    answered(session, 2, 1, "nie wieder", now=now - timedelta(days=10))  # its case stays open
    cases.set_root_cause(session, fixed, "delivery", agent, now - timedelta(days=9), None)
    cases.change_status(session, fixed, "resolved", agent, now - timedelta(days=3), None)
    again = create_survey(session, "Nachgefragt", "reask", agent.id, now)
    again.active, again.trigger, again.delay_days, again.quiet_days = True, "case_resolved", 2, 0
    again.audience = {"satisfaction": ["detractor"], "after_resolved_case": True}
    session.commit()

    create_due_invitations(session, now - timedelta(days=2, hours=1))  # resolved only 23 hours before: not yet
    assert invited(session, again) == []
    create_due_invitations(session, now)
    create_due_invitations(session, now + timedelta(hours=1))
    assert invited(session, again) == ["C-1"]
    invitation = session.scalars(select(Invitation).where(Invitation.survey_id == again.id)).one()
    assert invitation.case_id == fixed.id and invitation.purchase_id is None


def test_the_trigger_is_chosen_on_the_survey_form(client, session):
    sign_in(client, make_user(session, "admin@example.com", "admin"))
    survey = default_survey(session)
    page = client.get(f"/surveys/{survey.id}")
    assert "a resolved feedback case" in page.text
    form = _fields(page.text)
    form.update({"csrf_token": csrf_token(page.text), "trigger": "case_resolved"})
    assert client.post(f"/surveys/{survey.id}", data=form).status_code == 302
    session.expire_all()
    assert default_survey(session).trigger == "case_resolved"
    churn = session.scalars(select(Survey).where(Survey.kind == "churn")).one()
    assert "a resolved feedback case" not in client.get(f"/surveys/{churn.id}").text

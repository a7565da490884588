"""Interactions as data (issue 24): the agent records the contact reason, what mattered most and the measure on
the case; the contacts report counts reasons and central problems per segment and month, linked to the cases."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from analytics.contacts import contact_report
from customers.models import Customer
from feedback import services as cases
from feedback.models import Case, ContactReason
from kundenpuls.audit import AuditEvent
from tests.conftest import csrf_token
from tests.feedback_helpers import answered, make_user, sign_in


def reason(session, key: str) -> ContactReason:
    return session.scalars(select(ContactReason).where(ContactReason.key == key)).one()


def test_the_agent_records_the_interaction_on_the_case(client, session):
    case = answered(session, 1, 2, "Paket kam nicht")
    agent = make_user(session, "agent@example.com", "agent")
    sign_in(client, agent)
    page = client.get(f"/cases/{case.id}")
    assert "data-interaction" in page.text
    assert "Frage zur Lieferung" in page.text or "Question about a delivery" in page.text
    delivery = reason(session, "delivery_status")
    saved = client.post(
        f"/cases/{case.id}/interaction",
        data={"csrf_token": csrf_token(page.text), "version": str(case.version), "contact_reason_id": str(delivery.id),
              "customer_priority": "Lieferung vor dem Fest", "measure_taken": "Express-Nachlieferung"},
    )  # fmt: skip
    assert saved.status_code == 302, saved.text
    session.expire_all()
    case = session.get(Case, case.id)
    assert (case.contact_reason.key, case.customer_priority, case.measure_taken) == (
        "delivery_status", "Lieferung vor dem Fest", "Express-Nachlieferung",
    )  # fmt: skip
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "interaction")).one()
    assert event.after["measure_taken"] == "Express-Nachlieferung" and event.actor_id == agent.id
    stale = client.post(
        f"/cases/{case.id}/interaction",
        data={"csrf_token": csrf_token(page.text), "version": "1", "contact_reason_id": "0"},
    )
    assert stale.status_code == 302 and session.get(Case, case.id).contact_reason_id == delivery.id
    bad = client.post(
        f"/cases/{case.id}/interaction",
        data={"csrf_token": csrf_token(page.text), "version": str(case.version), "contact_reason_id": "99999"},
    )
    assert bad.status_code == 422


def test_the_contacts_report_counts_reasons_and_problems_per_segment_and_month(client, session):
    agent = make_user(session, "agent@example.com", "agent")
    delivery, invoice = reason(session, "delivery_status"), reason(session, "invoice")
    plan = [(1, delivery, "delivery", datetime(2026, 10, 5, tzinfo=UTC)),
            (2, delivery, "delivery", datetime(2026, 11, 5, tzinfo=UTC)),
            (3, invoice, "billing", datetime(2026, 11, 6, tzinfo=UTC)),
            (4, delivery, "service", datetime(2026, 11, 7, tzinfo=UTC))]  # fmt: skip
    for n, contact, cause, at in plan:
        case = answered(session, n, 1, "schlecht", now=at)
        cases.set_root_cause(session, case, cause, agent, at, None)
        case.contact_reason_id = contact.id
    for customer in session.scalars(select(Customer)):
        customer.value_class = "A" if customer.external_id != "C-3" else "B"
    session.commit()
    report = contact_report(session, date(2026, 10, 1), date(2026, 11, 30))
    assert report.cases == 4 and report.months == ["2026-10-01", "2026-11-01"]
    top = report.reasons[0]
    assert (top.key, top.cases, top.per_month) == ("delivery_status", 3, {"2026-10-01": 1, "2026-11-01": 2})
    assert len(top.latest) == 3 and top.latest == sorted(top.latest, reverse=True)
    assert [(p.key, p.cases) for p in report.problems] == [("delivery", 2), ("billing", 1), ("service", 1)]
    only_a = contact_report(session, date(2026, 10, 1), date(2026, 11, 30), value_class="A")
    assert [(r.key, r.cases) for r in only_a.reasons] == [("delivery_status", 3)]

    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    page = client.get("/reports/contacts?from=2026-10-01&to=2026-11-30")
    assert page.status_code == 200 and 'data-table="reasons"' in page.text and f"/cases/{top.latest[0]}" in page.text


def test_an_admin_keeps_the_contact_reasons_and_cases_keep_theirs(client, session):
    """The generic list page (surveys.option_admin) for contact reasons: add, rename (the key stays), retire (no
    longer offered; a case that has it keeps it), at least one stays; admins only; bad input loses nothing."""
    case = answered(session, 1, 2, "Paket kam nicht")
    agent = make_user(session, "agent@example.com", "agent")
    sign_in(client, agent)
    assert client.get("/cases/contact-reasons").status_code == 403
    from feedback.interactions import set_interaction

    set_interaction(session, case, reason(session, "invoice").id, None, None, agent, datetime.now(UTC), None)
    session.commit()
    client.post("/logout", data={"csrf_token": csrf_token(client.get(f"/cases/{case.id}").text)})
    sign_in(client, make_user(session, "admin@example.com", "admin"))
    listing = client.get("/cases/contact-reasons", headers={"Accept-Language": "en"})
    assert listing.status_code == 200 and 'data-key="invoice"' in listing.text
    token = csrf_token(listing.text)
    bad = client.post("/cases/contact-reasons", data={"csrf_token": token, "new-label_de": "", "new-label_en": "Gift"})
    assert bad.status_code == 422 and 'value="Gift"' in bad.text
    added = client.post("/cases/contact-reasons", data={"csrf_token": token, "new-label_de": "Gutschein einlösen",
                                                         "new-label_en": "Redeem a voucher"})  # fmt: skip
    assert added.status_code == 302
    voucher = reason(session, "redeem_a_voucher")
    assert voucher.position > reason(session, "other").position  # after the last one
    invoice = reason(session, "invoice")
    renamed = client.post(f"/cases/contact-reasons/{invoice.id}", data={
        "csrf_token": token, f"o{invoice.id}-label_de": "Rechnung", f"o{invoice.id}-label_en": "Invoice",
        f"o{invoice.id}-position": str(invoice.position)})  # fmt: skip
    assert renamed.status_code == 302
    retired = client.post(f"/cases/contact-reasons/{invoice.id}/retire", data={"csrf_token": token, "retire": "1"})
    assert retired.status_code == 302
    session.expire_all()
    invoice = session.get(ContactReason, invoice.id)
    assert (invoice.key, invoice.label_en, invoice.retired_at is not None) == ("invoice", "Invoice", True)
    page = client.get(f"/cases/{case.id}", headers={"Accept-Language": "en"}).text
    assert "Redeem a voucher" in page and "Invoice" in page  # the case keeps its retired reason
    assert 'href="/cases/contact-reasons"' in page  # admins reach the list from the case
    other = client.get(f"/cases/{answered(session, 2, 1, 'Kaputt').id}", headers={"Accept-Language": "en"}).text
    assert "Redeem a voucher" in other and ">Invoice<" not in other
    for r in session.scalars(select(ContactReason).where(ContactReason.retired_at.is_(None))).all()[1:]:
        client.post(f"/cases/contact-reasons/{r.id}/retire", data={"csrf_token": token, "retire": "1"})
    last = session.scalars(select(ContactReason).where(ContactReason.retired_at.is_(None))).one()
    refused = client.post(f"/cases/contact-reasons/{last.id}/retire", data={"csrf_token": token, "retire": "1"})
    assert (
        refused.status_code == 302
        and "At least one must stay on offer"
        in client.get("/cases/contact-reasons", headers={"Accept-Language": "en"}).text
    )
    session.expire_all()
    assert session.get(ContactReason, last.id).retired_at is None

"""Admin pages for the integrations: webhook endpoints with their delivery log, and the detractor alert."""

from __future__ import annotations

import base64
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, SelectChoice, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from integrations.alerts import alert_recipients, alert_settings
from integrations.delivery import resend
from integrations.events import emit, forget_endpoints
from integrations.models import EVENTS, WebhookDelivery, WebhookEndpoint
from integrations.outbound import AddressRefused, check_host
from kundenpuls import audit
from kundenpuls.auth import role_required
from kundenpuls.extensions import db
from kundenpuls.inputs import query_int
from kundenpuls.timeutil import utcnow

bp = Blueprint("integrations", __name__, url_prefix="/settings")

EVENT_LABELS = {
    "response.created": _l("every answer"),
    "response.follow_ups": _l("the follow-up answers given after a score"),
    "detractor.created": _l("a detractor answer (NPS 0–6)"),
    "case.opened": _l("a case opened"),
    "case.resolved": _l("a case closed (resolved or won't fix)"),
    "customer.churned": _l("a customer cancelled"),
}
DELIVERY_STATUS_LABELS = {
    "pending": _l("waiting"),
    "sending": _l("being sent"),
    "delivered": _l("delivered"),
    "failed": _l("failed"),
    "cancelled": _l("cancelled"),
}
DELIVERY_STATUSES = tuple(DELIVERY_STATUS_LABELS)
PAGE = 50


def new_secret() -> str:
    """32 random bytes, base64, with the Standard Webhooks prefix."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class EndpointForm(FlaskForm):
    url = StringField(_l("Address (URL)"), validators=[InputRequired(), Length(max=500)])
    description = StringField(_l("Description"), validators=[Optional(), Length(max=200)])
    events = SelectMultipleField(
        _l("Events"),
        choices=[SelectChoice(event, f"{event}: {EVENT_LABELS[event]}") for event in EVENTS],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    active = BooleanField(_l("Active"), default=True)

    def validate_url(self, field) -> None:
        parts = urlsplit(field.data.strip())
        allowed = ("https", "http") if current_app.config["WEBHOOK_ALLOW_HTTP"] else ("https",)
        if parts.scheme not in allowed or not parts.hostname:
            raise ValidationError(
                _("Enter a full https:// address.")
                if "http" not in allowed
                else _("Enter a full http:// or https:// address.")
            )
        if parts.username or parts.password:
            raise ValidationError(_("Leave credentials out of the address; the signature authenticates us."))
        try:
            check_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        except AddressRefused:
            raise ValidationError(
                _("This address is in a private network. Enter a public address, or ask the operator to allow it.")
            ) from None
        except ValueError:
            raise ValidationError(_("Enter a full http:// or https:// address.")) from None

    def validate_events(self, field) -> None:
        if not field.data:
            raise ValidationError(_("Choose at least one event."))


class AlertForm(FlaskForm):
    detractor_alerts = BooleanField(_l("Mail an alert for every detractor answer"))
    to_managers = BooleanField(_l("to every manager"))
    recipients = StringField(_l("and to these addresses (comma-separated)"), validators=[Length(max=1000)])

    def validate_recipients(self, field) -> None:
        from email_validator import EmailNotValidError, validate_email

        for address in (a.strip() for a in (field.data or "").split(",")):
            if not address:
                continue
            try:
                validate_email(address, check_deliverability=False)
            except EmailNotValidError:
                raise ValidationError(_("%(address)s is not an email address.", address=address)) from None


def _overview(form: EndpointForm, alert_form: AlertForm, code: int = 200):
    endpoints = db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()
    counts: dict[int, dict[str, int]] = {}
    for endpoint_id, status, n in db.session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count()).group_by(
            WebhookDelivery.endpoint_id, WebhookDelivery.status
        )
    ):
        counts.setdefault(endpoint_id, {})[status] = n
    settings = alert_settings(db.session)
    page = render_template(
        "integrations/webhooks.html",
        endpoints=endpoints,
        counts=counts,
        form=form,
        alert_form=alert_form,
        alert_to=alert_recipients(db.session, settings),
        labels=EVENT_LABELS,
        history=audit.trail(db.session, "alert_settings", settings.id or 0)[-5:],
    )
    return page, code


@bp.get("/webhooks")
@role_required("admin")
def webhooks():
    settings = alert_settings(db.session)
    return _overview(EndpointForm(formdata=None), AlertForm(formdata=None, obj=settings))


@bp.post("/webhooks")
@role_required("admin")
def webhook_create():
    form = EndpointForm()
    if not form.validate():
        return _overview(form, AlertForm(formdata=None, obj=alert_settings(db.session)), 422)
    now = utcnow()
    endpoint = WebhookEndpoint(
        url=form.url.data.strip(),
        description=(form.description.data or "").strip() or None,
        secret=new_secret(),
        events="," + ",".join(e for e in EVENTS if e in form.events.data) + ",",
        active=form.active.data,
        created_at=now,
    )
    db.session.add(endpoint)
    db.session.flush()
    audit.record(db.session, "webhook", endpoint.id, "created", current_user.id, now, after=_snapshot(endpoint))
    db.session.commit()
    forget_endpoints()
    flash(_("Endpoint added. Give its signing secret to the receiver."), "info")
    return redirect(url_for(".webhook", endpoint_id=endpoint.id))


def _snapshot(endpoint: WebhookEndpoint) -> dict:
    return {"url": endpoint.url, "events": endpoint.event_list, "active": endpoint.active}


def _endpoint_page(endpoint: WebhookEndpoint, form: EndpointForm, code: int = 200):
    status = request.args.get("status")
    if status not in DELIVERY_STATUSES:
        status = None
    page = max(request.args.get("page", 1, type=query_int), 1)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    deliveries = db.session.scalars(
        query.order_by(WebhookDelivery.id.desc()).offset((page - 1) * PAGE).limit(PAGE + 1)
    ).all()
    return render_template(
        "integrations/webhook.html",
        endpoint=endpoint,
        form=form,
        deliveries=deliveries[:PAGE],
        more=len(deliveries) > PAGE,
        page=page,
        status=status,
        statuses=DELIVERY_STATUSES,
        delivery_statuses=DELIVERY_STATUS_LABELS,
        history=audit.trail(db.session, "webhook", endpoint.id)[-10:],
    ), code


@bp.get("/webhooks/<int:endpoint_id>")
@role_required("admin")
def webhook(endpoint_id: int):
    endpoint = db.get_or_404(WebhookEndpoint, endpoint_id)
    form = EndpointForm(formdata=None, obj=endpoint)
    form.events.data = endpoint.event_list
    return _endpoint_page(endpoint, form)


@bp.post("/webhooks/<int:endpoint_id>")
@role_required("admin")
def webhook_save(endpoint_id: int):
    endpoint = db.get_or_404(WebhookEndpoint, endpoint_id)
    form = EndpointForm()
    if not form.validate():
        return _endpoint_page(endpoint, form, 422)
    before = _snapshot(endpoint)
    endpoint.url = form.url.data.strip()
    endpoint.description = (form.description.data or "").strip() or None
    endpoint.events = "," + ",".join(e for e in EVENTS if e in form.events.data) + ","
    endpoint.active = form.active.data
    audit.record(db.session, "webhook", endpoint.id, "changed", current_user.id, utcnow(), before, _snapshot(endpoint))
    db.session.commit()
    forget_endpoints()
    flash(_("Endpoint saved."), "info")
    return redirect(url_for(".webhook", endpoint_id=endpoint.id))


@bp.post("/webhooks/<int:endpoint_id>/rotate")
@role_required("admin")
def webhook_rotate(endpoint_id: int):
    endpoint = db.get_or_404(WebhookEndpoint, endpoint_id)
    if not FlaskForm().validate():
        abort(400)
    endpoint.secret = new_secret()
    audit.record(db.session, "webhook", endpoint.id, "secret_rotated", current_user.id, utcnow())
    db.session.commit()
    flash(_("New signing secret made. Deliveries from now on are signed with it."), "info")
    return redirect(url_for(".webhook", endpoint_id=endpoint.id))


@bp.post("/webhooks/<int:endpoint_id>/ping")
@role_required("admin")
def webhook_ping(endpoint_id: int):
    """A test event for this endpoint only, through the same outbox as the real ones."""
    endpoint = db.get_or_404(WebhookEndpoint, endpoint_id)
    if not FlaskForm().validate():
        abort(400)
    now = utcnow()
    emit(db.session, "ping", f"ping.{secrets.token_hex(8)}", {"endpoint_id": endpoint.id}, now, [endpoint.id])
    db.session.commit()
    flash(_("Test event queued; the scheduler sends it within a minute."), "info")
    return redirect(url_for(".webhook", endpoint_id=endpoint.id))


@bp.post("/webhooks/deliveries/<int:delivery_id>/resend")
@role_required("admin")
def delivery_resend(delivery_id: int):
    delivery = db.get_or_404(WebhookDelivery, delivery_id)
    if not FlaskForm().validate():
        abort(400)
    now = utcnow()
    if resend(db.session, delivery, now):
        audit.record(
            db.session, "webhook", delivery.endpoint_id, "resent", current_user.id, now, note=delivery.event_id
        )
        db.session.commit()
        flash(_("Delivery queued again."), "info")
    else:
        flash(_("This delivery is still waiting to be sent."), "error")
    return redirect(url_for(".webhook", endpoint_id=delivery.endpoint_id))


@bp.post("/alerts")
@role_required("admin")
def alerts_save():
    form = AlertForm()
    settings = alert_settings(db.session)
    if not form.validate():
        return _overview(EndpointForm(formdata=None), form, 422)
    if settings.id is None:
        db.session.add(settings)
    before = {"detractor_alerts": settings.detractor_alerts, "to_managers": settings.to_managers,
              "recipients": settings.recipients}  # fmt: skip
    settings.detractor_alerts = form.detractor_alerts.data
    settings.to_managers = form.to_managers.data
    settings.recipients = ", ".join(a.strip() for a in (form.recipients.data or "").split(",") if a.strip())
    db.session.flush()
    after = {"detractor_alerts": settings.detractor_alerts, "to_managers": settings.to_managers,
             "recipients": settings.recipients}  # fmt: skip
    audit.record(db.session, "alert_settings", settings.id, "changed", current_user.id, utcnow(), before, after)
    db.session.commit()
    flash(_("Alert settings saved."), "info")
    return redirect(url_for(".webhooks"))

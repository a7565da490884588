"""Staff pages of the feedback queue: the queue, the case page, queue health and the CSV export."""

from __future__ import annotations

import functools
import itertools

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import SelectChoice

from feedback import services, wording
from feedback.forms import (
    NOTE_LABELS,
    PRIORITY_LABELS,
    ROOT_CAUSE_LABELS,
    STATUS_LABELS,
    AssignForm,
    InteractionForm,
    NoteForm,
    ReplyForm,
    RootCauseForm,
    StatusForm,
    TakeForm,
)
from feedback.interactions import contact_reasons, set_interaction
from feedback.models import OPEN, Case
from feedback.queries import (
    COUNT_CAP,
    PAGE_SIZE,
    QueueFilter,
    customer_picture,
    export_rows,
    queue_count,
    queue_health,
    queue_page,
    staff_choices,
)
from kundenpuls import audit
from kundenpuls.auth import role_required
from kundenpuls.csvfile import csv_chunks
from kundenpuls.extensions import db
from kundenpuls.inputs import query_int
from kundenpuls.models import User
from kundenpuls.timeutil import utcnow
from surveys.follow_ups import answers_of
from surveys.models import Survey

bp = Blueprint("feedback", __name__)


def _filters() -> QueueFilter:
    args = request.args
    return QueueFilter(
        status=args.get("status", "open"),
        owner=args.get("owner", ""),
        segment=args.get("segment", "") if args.get("segment", "") in ("A", "B", "C") else "",
        survey=args.get("survey", type=query_int),
        overdue=args.get("overdue") == "1",
        page=max(args.get("page", 1, type=query_int), 1),
    )


@bp.get("/queue")
@role_required("agent")
def queue():
    filters, now = _filters(), utcnow()
    cases = queue_page(db.session, filters, current_user.id, now)
    gettext = wording.page_gettext()
    return render_template(
        "feedback/queue.html",
        cases=cases[:PAGE_SIZE],
        has_next=len(cases) > PAGE_SIZE,
        total=queue_count(db.session, filters, current_user.id, now),
        count_cap=COUNT_CAP,
        filters=filters,
        staff=staff_choices(db.session),
        surveys=db.session.execute(select(Survey.id, Survey.name, Survey.name_de).order_by(Survey.name)).all(),
        now=now,
        open_statuses=OPEN,
        status_labels={status: str(label) for status, label in STATUS_LABELS.items()},
        priority_labels={level: str(label) for level, label in PRIORITY_LABELS.items()},
        why=functools.partial(wording.why, gettext=gettext),
        due=functools.partial(wording.due, gettext=gettext),
        # One url_for instead of one per row: "/cases/0" less its "0".
        case_url_prefix=url_for("feedback.case_page", case_id=0)[:-1],
    )


def _case(case_id: int) -> Case:
    return db.get_or_404(Case, case_id)


@bp.get("/cases/<int:case_id>")
@role_required("agent")
def case_page(case_id: int):
    case, now = _case(case_id), utcnow()
    return _render_case(case, now)


def _interaction_form(case: Case, form: InteractionForm | None) -> InteractionForm:
    form = form or InteractionForm(
        contact_reason_id=case.contact_reason_id or 0, customer_priority=case.customer_priority,
        measure_taken=case.measure_taken, version=case.version,
    )  # fmt: skip
    locale = str(get_locale())
    reasons = contact_reasons(db.session, case.contact_reason_id)
    form.contact_reason_id.choices = [SelectChoice(0, "—")] + [SelectChoice(r.id, r.label(locale)) for r in reasons]
    return form


def _render_case(case: Case, now, code: int = 200, **forms):
    staff = staff_choices(db.session)
    assign = forms.get("assign") or AssignForm(owner_id=case.owner_id or 0, version=case.version)
    assign.owner_id.choices = [SelectChoice(0, _("nobody"))] + [SelectChoice(u.id, u.label) for u in staff]
    reply = forms.get("reply") or ReplyForm(reply_key=services.new_reply_key(), subject=_reply_subject(case))
    return (
        render_template(
            "feedback/case.html",
            case=case,
            now=now,
            picture=customer_picture(db.session, case, now),
            follow_ups=answers_of(db.session, [case.response_id]).get(case.response_id, []) if case.response_id else [],
            timeline=audit.trail(db.session, "case", case.id),
            assign_form=assign,
            status_form=forms.get("status") or StatusForm(status=case.status, version=case.version),
            cause_form=forms.get("cause") or RootCauseForm(root_cause=case.root_cause or "", version=case.version),
            note_form=forms.get("note") or NoteForm(),
            interaction_form=_interaction_form(case, forms.get("interaction")),
            reply_form=reply,
            take_form=TakeForm(),
            status_labels=STATUS_LABELS,
            cause_labels=ROOT_CAUSE_LABELS,
            note_labels=NOTE_LABELS,
            why=wording.why,
            due=wording.due,
        ),
        code,
    )


def _reply_subject(case: Case) -> str:
    locale = case.customer.locale if case.customer else "en"
    return "Ihr Feedback an uns" if locale == "de" else "Your feedback"


def _done(case: Case, message: str):
    db.session.commit()
    flash(message, "info")
    return redirect(url_for("feedback.case_page", case_id=case.id))


def _conflict(case_id: int):
    db.session.rollback()
    case = _case(case_id)
    who = case.owner.name or case.owner.email if case.owner else _("someone")
    flash(_("%(who)s changed this case a moment ago. Please check the page and try again.", who=who), "error")
    return redirect(url_for("feedback.case_page", case_id=case_id))


@bp.post("/cases/<int:case_id>/take")
@role_required("agent")
def take(case_id: int):
    case, form = _case(case_id), TakeForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.take(db.session, case, current_user, utcnow())
        db.session.commit()
    except services.AlreadyTaken as taken:
        db.session.rollback()
        who = taken.owner.name or taken.owner.email if taken.owner else _("someone")
        flash(_("%(who)s has already taken this case.", who=who), "error")
        return redirect(url_for("feedback.case_page", case_id=case_id))
    except StaleDataError:
        return _conflict(case_id)
    flash(_("The case is yours now."), "info")
    return redirect(url_for("feedback.case_page", case_id=case_id))


@bp.post("/cases/<int:case_id>/assign")
@role_required("agent")
def assign(case_id: int):
    case, form = _case(case_id), AssignForm()
    if not form.validate_on_submit():
        return _render_case(case, utcnow(), 422, assign=form)
    owner = db.session.get(User, form.owner_id.data) if form.owner_id.data else None
    if form.owner_id.data and (owner is None or not owner.active):
        flash(_("This person cannot take cases."), "error")
        return _render_case(case, utcnow(), 422, assign=form)
    try:
        services.assign(db.session, case, owner, current_user, utcnow(), form.version.data)
        return _done(case, _("Owner changed."))
    except (services.CaseConflict, StaleDataError):
        return _conflict(case_id)


@bp.post("/cases/<int:case_id>/status")
@role_required("agent")
def status(case_id: int):
    case, form = _case(case_id), StatusForm()
    if not form.validate_on_submit():
        return _render_case(case, utcnow(), 422, status=form)
    try:
        services.change_status(db.session, case, form.status.data, current_user, utcnow(), form.version.data)
        return _done(case, _("Status changed."))
    except ValueError:
        db.session.rollback()
        flash(_("Please set a root cause before resolving the case."), "error")
        return _render_case(_case(case_id), utcnow(), 422, status=form)
    except (services.CaseConflict, StaleDataError):
        return _conflict(case_id)


@bp.post("/cases/<int:case_id>/root-cause")
@role_required("agent")
def root_cause(case_id: int):
    case, form = _case(case_id), RootCauseForm()
    if not form.validate_on_submit():
        return _render_case(case, utcnow(), 422, cause=form)
    try:
        services.set_root_cause(
            db.session, case, form.root_cause.data or None, current_user, utcnow(), form.version.data
        )
        return _done(case, _("Root cause saved."))
    except (services.CaseConflict, StaleDataError):
        return _conflict(case_id)


@bp.post("/cases/<int:case_id>/interaction")
@role_required("agent")
def interaction(case_id: int):
    case, form = _case(case_id), InteractionForm()
    if not form.validate_on_submit():
        return _render_case(case, utcnow(), 422, interaction=form)
    try:
        set_interaction(db.session, case, form.contact_reason_id.data or None, form.customer_priority.data,
                        form.measure_taken.data, current_user, utcnow(), form.version.data)  # fmt: skip
        return _done(case, _("Interaction saved."))
    except ValueError:
        db.session.rollback()
        form.contact_reason_id.errors = [_("Please choose one of the reasons offered.")]
        return _render_case(_case(case_id), utcnow(), 422, interaction=form)
    except (services.CaseConflict, StaleDataError):
        return _conflict(case_id)


@bp.post("/cases/<int:case_id>/note")
@role_required("agent")
def note(case_id: int):
    case, form = _case(case_id), NoteForm()
    if not form.validate_on_submit():
        return _render_case(case, utcnow(), 422, note=form)
    try:
        services.add_note(db.session, case, current_user, form.text.data, form.kind.data, utcnow())
        return _done(case, _("Note added."))
    except StaleDataError:
        return _conflict(case_id)


@bp.post("/cases/<int:case_id>/reply")
@role_required("agent")
def reply(case_id: int):
    case, form = _case(case_id), ReplyForm()
    if not form.validate_on_submit():
        return _render_case(case, utcnow(), 422, reply=form)
    if case.customer is None or not case.customer.email:
        flash(_("This customer has no email address."), "error")
        return _render_case(case, utcnow(), 422, reply=form)
    try:
        services.send_reply(
            db.session, case, current_user, form.subject.data, form.text.data, form.reply_key.data, utcnow()
        )
        db.session.commit()
    except StaleDataError:
        return _conflict(case_id)
    except IntegrityError:
        # The same form sent twice (double click, reload): its reply_key is in the outbox already.
        db.session.rollback()
        flash(_("This reply was sent already."), "info")
        return redirect(url_for("feedback.case_page", case_id=case_id))
    flash(_("Reply queued for sending."), "info")
    return redirect(url_for("feedback.case_page", case_id=case_id))


@bp.get("/queue/health")
@role_required("manager")
def health():
    now = utcnow()
    return render_template("feedback/health.html", health=queue_health(db.session, now), now=now)


EXPORT_COLUMNS = (
    "id",
    "created_at",
    "kind",
    "score",
    "status",
    "priority",
    "priority_points",
    "owner",
    "root_cause",
    "customer_external_id",
    "customer_value_12m",
    "first_contact_due_at",
    "first_contact_at",
    "resolution_due_at",
    "resolved_at",
    "escalation_level",
    "comment",
)


@bp.get("/cases/export.csv")
@role_required("manager")
def export():
    """All cases matching the queue's filters, streamed (no page size), for spreadsheets."""
    filters, now = _filters(), utcnow()

    def generate():
        yield from csv_chunks(itertools.chain([EXPORT_COLUMNS], export_rows(db.session, filters, current_user.id, now)))

    headers = {"Content-Disposition": f"attachment; filename=cases-{now:%Y%m%d}.csv"}
    return Response(stream_with_context(generate()), mimetype="text/csv", headers=headers)

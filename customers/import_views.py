"""CSV imports in the browser (admins): the same importers and rules as `flask import customers|purchases`, the
counts and the failed rows (line, reason, the row) to download, fix and import again.

The file is imported in the request, 500 rows per batch and commit like the CLI; a run is recorded with its
counts and its error report. With JavaScript the upload shows a progress bar (static/import_progress.js);
without it the form posts as any form does.
"""

from __future__ import annotations

import csv
import io
import time

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from customers.csv_import import HeaderError, error_report, import_customers, import_purchases, open_csv
from customers.models import ImportRun
from kundenpuls.auth import role_required
from kundenpuls.extensions import db
from kundenpuls.timeutil import utcnow

bp = Blueprint("imports", __name__)

IMPORTERS = {"customers": import_customers, "purchases": import_purchases}
KIND_LABELS = {"customers": _l("Customers"), "purchases": _l("Purchases")}
MAX_MB = 20  # a year of a shop's orders; the rest of the app takes 2 MB per request


def _page(error: str | None = None, kind: str = "purchases", code: int = 200):
    runs = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(20)).all()
    return render_template(
        "customers/imports.html", runs=runs, kinds=KIND_LABELS, error=error, chosen=kind, max_mb=MAX_MB
    ), code


@bp.get("/settings/imports")
@role_required("admin")
def imports():
    return _page()


@bp.post("/settings/imports")
@role_required("admin")
def upload():
    request.max_content_length = MAX_MB * 1024 * 1024
    kind = request.form.get("kind", "")
    file = request.files.get("file")
    if kind not in IMPORTERS:
        return _page(_("Choose what the file holds: customers or purchases."), code=422)
    if file is None or not file.filename:
        return _page(_("Choose a CSV file."), kind, 422)
    try:
        text = file.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        return _page(_("The file is not UTF-8 text: save it as CSV (UTF-8) and try again."), kind, 422)
    started, clock = utcnow(), time.perf_counter()
    reader = open_csv(io.StringIO(text, newline=""))
    try:
        report = IMPORTERS[kind](db.session, reader, started)
    except HeaderError as exc:
        db.session.rollback()
        return _page(_("Wrong header, nothing imported: %(problem)s", problem=str(exc)), kind, 422)
    run = ImportRun(
        kind=kind, filename=file.filename[:255], created=report.created, unchanged=report.unchanged,
        failed=len(report.errors), errors_csv=error_report(report, list(reader.fieldnames or [])) if report.errors
        else None, actor_id=current_user.id, started_at=started, finished_at=utcnow(),
    )  # fmt: skip
    db.session.add(run)
    db.session.commit()
    current_app.logger.info("import %s of %s: %s rows in %.1f s", run.id, kind, run.rows, time.perf_counter() - clock)
    flash(_("Imported: %(created)s new, %(unchanged)s known, %(failed)s failed.", created=run.created,
            unchanged=run.unchanged, failed=run.failed), "info" if not run.failed else "error")  # fmt: skip
    return redirect(url_for("imports.run_page", run_id=run.id), 303)


@bp.get("/settings/imports/<int:run_id>")
@role_required("admin")
def run_page(run_id: int):
    run = db.get_or_404(ImportRun, run_id)
    shown = list(_rows(run.errors_csv))[:100] if run.errors_csv else []
    return render_template("customers/import_run.html", run=run, kinds=KIND_LABELS, errors=shown)


@bp.get("/settings/imports/<int:run_id>/errors.csv")
@role_required("admin")
def run_errors(run_id: int):
    run = db.get_or_404(ImportRun, run_id)
    if not run.errors_csv:
        abort(404)
    name = f"{run.filename.rsplit('.', 1)[0]}.errors.csv".replace('"', "")
    return Response(
        run.errors_csv, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def _rows(errors_csv: str):
    reader = csv.reader(io.StringIO(errors_csv))
    next(reader, None)
    for line, message, *_cells in reader:
        yield line, message

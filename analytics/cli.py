"""`flask model fit [--as-of YYYY-MM-DD]`: fit the purchase-behaviour models now and print the fit as JSON."""

from __future__ import annotations

import json
from datetime import date

import click
from flask.cli import AppGroup

from analytics.purchase_models import FitBusy, fit_json, fit_models
from kundenpuls.extensions import db
from kundenpuls.timeutil import check_day, utcnow

model_cli = AppGroup("model", help="Purchase-behaviour models (BG/NBD, Gamma-Gamma).")


@model_cli.command("fit")
@click.option("--as-of", "as_of_text", default=None, help="Calibration day, YYYY-MM-DD (UTC; default yesterday).")
def model_fit(as_of_text: str | None) -> None:
    """Fit on purchases up to the end of that day, store the fit, score every customer; exit 1 if it failed."""
    now = utcnow()
    as_of = None
    if as_of_text is not None:
        try:
            as_of = check_day(date.fromisoformat(as_of_text.strip()))
        except ValueError:
            raise click.BadParameter(f"{as_of_text!r} is not a date YYYY-MM-DD", param_hint="--as-of") from None
        if as_of >= now.date():
            raise click.BadParameter("the calibration day must be before today (UTC)", param_hint="--as-of")
    try:
        record = fit_models(db.session, now, as_of)
    except FitBusy as busy:
        raise click.ClickException(f"{busy}; try again when it is done") from None
    click.echo(json.dumps(fit_json(record), indent=2))
    if record.status != "good":
        raise click.ClickException(f"the fit failed: {record.reason}; the previous good fit stays in use")

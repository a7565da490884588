"""`flask import customers FILE` and `flask import purchases FILE`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from customers.csv_import import HeaderError, import_customers, import_purchases, open_csv, write_error_report
from kundenpuls.extensions import db
from kundenpuls.timeutil import utcnow

import_cli = AppGroup("import", help="Import customers or purchases from CSV.")


def _count_rows(path: Path) -> int:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return max(sum(1 for _ in open_csv(handle)), 0)


def _run(path: Path, importer) -> None:
    total = _count_rows(path)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = open_csv(handle)
        with click.progressbar(length=total, label=f"Importing {path.name}", file=sys.stderr) as bar:
            try:
                report = importer(db.session, reader, utcnow(), on_row=lambda: bar.update(1))
            except HeaderError as exc:
                raise click.ClickException(f"{path.name}: wrong header: {exc}") from None
    click.echo(
        f"{report.rows} rows: {report.created} created, {report.unchanged} already known, {len(report.errors)} failed"
    )
    if report.errors:
        for error in report.errors[:50]:
            click.echo(f"line {error.line}: {error.message}", err=True)
        if len(report.errors) > 50:
            click.echo(f"... and {len(report.errors) - 50} more", err=True)
        errors_path = path.with_name(path.name + ".errors.csv")
        write_error_report(errors_path, report, list(reader.fieldnames or []))
        click.echo(f"Failed rows with reasons: {errors_path}", err=True)
        raise SystemExit(1)


@import_cli.command("customers")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_customers_command(file: Path) -> None:
    """Create or update customers (columns: external_id, email, name, locale, timezone)."""
    _run(file, import_customers)


@import_cli.command("purchases")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_purchases_command(file: Path) -> None:
    """Import purchases; order ids already known are skipped, so a re-import creates nothing twice."""
    _run(file, import_purchases)

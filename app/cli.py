"""Shell commands that need every package: the scheduler and the demo data (the core's own are in
kundenpuls/cli.py, the CSV import in customers/cli.py)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from app.demo_texts import DEMO_CUSTOMERS, DEMO_SEED
from kundenpuls.extensions import db
from kundenpuls.timeutil import parse_instant, utcnow

scheduler_cli = AppGroup("scheduler", help="Scheduled work: invitations, reminders, expiry, mail.")
demo_cli = AppGroup("demo", help="Demo data.")


@scheduler_cli.command("tick")
@click.option("--now", "now_text", default=None, help="ISO-8601 instant to run as (default: the clock).")
def scheduler_tick(now_text: str | None) -> None:
    """Run every kind of due work once and print what was done."""
    from app.scheduler import tick

    try:
        now = parse_instant(now_text) if now_text else utcnow()
    except ValueError:
        raise click.BadParameter(f"{now_text!r} is not an ISO-8601 date and time", param_hint="--now") from None
    results, failures = tick(now)
    for name, result in results.items():
        if isinstance(result, dict):
            result = ", ".join(f"{k}={v}" for k, v in result.items())
        click.echo(f"{name}: {result}")
    if failures:
        raise click.ClickException(f"failed: {', '.join(failures)} (see the log)")


@scheduler_cli.command("run")
@click.option("--interval", default=60, show_default=True, help="Seconds between ticks.")
def scheduler_run(interval: int) -> None:
    """Run the scheduler until stopped (one process; more are safe on PostgreSQL)."""
    from app.scheduler import run_forever

    click.echo(f"Scheduler running, a tick every {interval}s. Ctrl+C stops it.")
    run_forever(current_app._get_current_object(), interval)


@demo_cli.command("seed")
@click.option("--customers", "count", default=DEMO_CUSTOMERS, show_default=True)
@click.option("--seed", default=DEMO_SEED, show_default=True)
@click.option("--if-empty", is_flag=True, help="Do nothing when customers exist already.")
def demo_seed(count: int, seed: int, if_empty: bool) -> None:
    """Realistic demo data: customers, two years of purchases, answers with patterns."""
    from app.demo import seed_demo
    from customers.models import Customer

    if if_empty and db.session.scalar(select(func.count()).select_from(Customer)):
        click.echo("Customers exist already: no demo data added.")
        return
    try:
        summary = seed_demo(db.session, utcnow(), customers=count, seed=seed)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("Demo data: " + ", ".join(f"{v} {k}" for k, v in summary.items()))


def register_commands(app: Flask) -> None:
    from analytics.cli import model_cli
    from customers.cli import import_cli
    from kundenpuls.cli import register_commands as register_core_commands

    register_core_commands(app)
    for group in (scheduler_cli, demo_cli, outbox_cli, import_cli, model_cli):
        app.cli.add_command(group)


outbox_cli = AppGroup("outbox", help="Outgoing mail.")


@outbox_cli.command("status")
def outbox_status() -> None:
    """What waits and when the next mail goes out (make run prints it in its banner)."""
    from messaging.queries import mail_health, outbox_counts

    now = utcnow()
    health, counts = mail_health(db.session, now), outbox_counts(db.session)
    waiting = health.due + health.held + health.retrying
    click.echo(
        f"Outgoing mail: {counts['sent']} sent, {waiting} waiting ({health.held} for their send window, "
        f"{health.retrying} for a retry), {health.failed} failed."
    )
    if health.next_at is None:
        return
    zone = ZoneInfo(current_app.config["STAFF_TIMEZONE"])
    if health.due:
        click.echo("Mail is due now: the scheduler sends it within a minute.")
    else:
        at = health.next_at.astimezone(zone)
        click.echo(f"The next mail goes out {at:%a %Y-%m-%d %H:%M} ({zone.key}).")

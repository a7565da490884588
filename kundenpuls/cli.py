"""Shell commands: staff users, API keys, the scheduler and demo data."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from kundenpuls import audit
from kundenpuls.extensions import db
from kundenpuls.models import ROLES, ApiKey, User
from kundenpuls.passwords import password_problem
from kundenpuls.timeutil import parse_instant, utcnow

users_cli = AppGroup("users", help="Staff accounts.")
apikeys_cli = AppGroup("apikeys", help="API keys for shop and ERP integrations.")
scheduler_cli = AppGroup("scheduler", help="Scheduled work: invitations, reminders, expiry, mail.")
demo_cli = AppGroup("demo", help="Demo data.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default=None)
def create_user(email: str, role: str, password: str, name: str | None) -> None:
    """Create a staff account (or reset its password and role)."""
    problem = password_problem(password, email)
    if problem:
        raise click.ClickException(problem)
    user = db.session.scalars(select(User).where(func.lower(User.email) == email.lower())).one_or_none()
    if user is None:
        user = User(email=email, created_at=utcnow())
        db.session.add(user)
    user.role, user.name, user.active = role, name or user.name, True
    user.set_password(password)
    db.session.commit()
    click.echo(f"{user.email} ({user.role}) is ready.")


@apikeys_cli.command("create")
@click.argument("name")
def create_apikey(name: str) -> None:
    """Print a new API key once; only its hash is stored."""
    key = ApiKey.generate()
    db.session.add(ApiKey(name=name, prefix=key[:10], key_hash=ApiKey.hash_key(key), created_at=utcnow()))
    db.session.commit()
    click.echo(key)


@apikeys_cli.command("list")
def list_apikeys() -> None:
    """Every key's id, name, prefix, creation and revocation (never the key)."""
    for key in db.session.scalars(select(ApiKey).order_by(ApiKey.id)):
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        click.echo(f"{key.id}\t{key.name}\t{key.prefix}...\t{key.created_at:%Y-%m-%d}\t{state}")


@apikeys_cli.command("revoke")
@click.argument("key")
def revoke_apikey(key: str) -> None:
    """Revoke a key at once, named by its id, its prefix (as `list` shows it) or the whole key."""
    active = select(ApiKey).where(ApiKey.revoked_at.is_(None))
    named = key.removesuffix("...")
    if named.isascii() and named.isdigit():
        matches = db.session.scalars(active.where(ApiKey.id == int(named))).all()
    elif len(named) <= 10:  # a prefix, as `list` shows it
        matches = db.session.scalars(active.where(ApiKey.prefix == named)).all()
    else:
        matches = db.session.scalars(active.where(ApiKey.key_hash == ApiKey.hash_key(named))).all()
    if len(matches) != 1:
        raise click.ClickException(
            f"no active key matches {key!r}" if not matches else f"{len(matches)} keys match {key!r}; use the id"
        )
    now = utcnow()
    matches[0].revoked_at = now
    audit.record(db.session, "api_key", matches[0].id, "revoked", None, now, note="command line")
    db.session.commit()
    click.echo(f"revoked key {matches[0].id} ({matches[0].name}); requests with it now get 401")


@scheduler_cli.command("tick")
@click.option("--now", "now_text", default=None, help="ISO-8601 instant to run as (default: the clock).")
def scheduler_tick(now_text: str | None) -> None:
    """Run every kind of due work once and print what was done."""
    from kundenpuls.scheduler import tick

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
    from kundenpuls.scheduler import run_forever

    click.echo(f"Scheduler running, a tick every {interval}s. Ctrl+C stops it.")
    run_forever(current_app._get_current_object(), interval)


@demo_cli.command("seed")
@click.option("--customers", "count", default=3000, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option("--if-empty", is_flag=True, help="Do nothing when customers exist already.")
def demo_seed(count: int, seed: int, if_empty: bool) -> None:
    """Realistic demo data: customers, two years of purchases, answers with patterns."""
    from customers.models import Customer
    from kundenpuls.demo import seed_demo

    if if_empty and db.session.scalar(select(func.count()).select_from(Customer)):
        click.echo("Customers exist already: no demo data added.")
        return
    try:
        summary = seed_demo(db.session, utcnow(), customers=count, seed=seed)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("Demo data: " + ", ".join(f"{v} {k}" for k, v in summary.items()))


def register_commands(app: Flask) -> None:
    from customers.cli import import_cli

    for group in (users_cli, apikeys_cli, scheduler_cli, demo_cli, import_cli):
        app.cli.add_command(group)

"""Shell commands of the core: staff accounts and API keys."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from kundenpuls import audit
from kundenpuls.extensions import db
from kundenpuls.models import ROLES, ApiKey, User
from kundenpuls.passwords import password_problem
from kundenpuls.timeutil import utcnow

users_cli = AppGroup("users", help="Staff accounts.")
apikeys_cli = AppGroup("apikeys", help="API keys for shop and ERP integrations.")


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


def register_commands(app: Flask) -> None:
    """The core's own commands: staff accounts and API keys."""
    for group in (users_cli, apikeys_cli):
        app.cli.add_command(group)

"""Staff sign-in and sign-out."""

from __future__ import annotations

import functools
import hmac

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import EmailField, PasswordField
from wtforms.validators import InputRequired

from kundenpuls.dbpool import first_statement
from kundenpuls.extensions import db, limiter, login_manager
from kundenpuls.models import User
from kundenpuls.redirects import local_path

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[InputRequired()])
    password = PasswordField(_l("Password"), validators=[InputRequired()])


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    user_id, _, token = session_id.partition(":")
    user = first_statement(db.session, lambda: db.session.get(User, int(user_id))) if user_id.isdigit() else None
    if user is None or not token or not hmac.compare_digest(user.session_token, token):
        return None
    return user


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _submitted_email() -> str:
    return "login:" + (request.form.get("email") or "").strip().lower()


def role_required(role: str):
    """Signed in and at least `role` (agent < manager < admin); others get 403, anonymous users the login."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_submitted_email)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalars(
            select(User).where(func.lower(User.email) == form.email.data.strip().lower())
        ).one_or_none()
        if User.password_matches(user, form.password.data) and user.active:
            login_user(user)
            return redirect(local_path(request.args.get("next")) or url_for("home.index"))
        flash(_l("Email or password is wrong."), "error")
        return render_template("staff/login.html", form=form), 401
    return render_template("staff/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    current_user.end_sessions()
    db.session.commit()
    logout_user()
    return redirect(url_for("auth.login"))

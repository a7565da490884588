"""Staff accounts in the browser (admins): invite a colleague by email, change a role, deactivate; and the
set-password page the invitation links to. The rules live in kundenpuls.staff; this module adds the pages and
the invitation mail, which is why it sits in the roof (the core cannot queue mail)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length, Optional

from kundenpuls.auth import role_required
from kundenpuls.extensions import db, limiter
from kundenpuls.models import ROLE_LABELS, ROLES, User
from kundenpuls.staff import (
    INVITE_HOURS,
    LinkInvalid,
    StaffError,
    change_role,
    invite,
    set_active,
    set_password,
    set_password_token,
    user_for_token,
)
from kundenpuls.timeutil import utcnow
from messaging.mail import queue_mail

bp = Blueprint("staff_admin", __name__)

MAIL_KINDS = {"staff_invite": _l("invitation of a colleague")}
ERRORS = {
    "exists": _l("This address has an active account already."),
    "last admin": _l("Kundenpuls needs at least one active admin: make someone else admin first."),
    "yourself": _l("You cannot deactivate your own account."),
    "unknown role": _l("Choose a role."),
}


class InviteForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[InputRequired(), Email(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    role = SelectField(_l("Role"), choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES], default="agent")


class PasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[InputRequired(), Length(max=128)])
    repeat = PasswordField(
        _l("The same again"), validators=[InputRequired(), EqualTo("password", message=_l("The two differ."))]
    )


def _page(form: InviteForm, code: int = 200):
    users = db.session.scalars(select(User).order_by(User.active.desc(), User.role, User.email)).all()
    return render_template(
        "staff/users.html", users=users, form=form, roles=ROLES, role_labels=ROLE_LABELS, hours=INVITE_HOURS
    ), code


@bp.get("/settings/users")
@role_required("admin")
def users():
    return _page(InviteForm())


@bp.post("/settings/users")
@role_required("admin")
def invite_user():
    form = InviteForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    now = utcnow()
    try:
        user = invite(db.session, form.email.data, form.name.data, form.role.data, current_user, now)
    except StaffError as exc:
        form.email.errors = [ERRORS[str(exc)]]
        return _page(form, 422)
    link = f"{current_app.config['BASE_URL']}{url_for('staff_admin.password_page', token=set_password_token(user))}"
    inviter = current_user.name or current_user.email
    text = render_template("emails/staff_invite.txt", user=user, inviter=inviter, link=link, hours=INVITE_HOURS)
    subject = _("%(inviter)s invites you to Kundenpuls", inviter=inviter)
    queue_mail(db.session, f"staff_invite:{user.id}:{user.session_token}", "staff_invite", user.email, subject,
               text, now)  # fmt: skip
    db.session.commit()
    flash(_("%(email)s is invited: the mail with the link is on its way.", email=user.email), "info")
    return redirect(url_for("staff_admin.users"))


def _change(user_id: int, change) -> object:
    user = db.get_or_404(User, user_id)
    try:
        change(user)
    except StaffError as exc:
        db.session.rollback()
        flash(str(ERRORS.get(str(exc), exc)), "error")
        return _page(InviteForm(formdata=None), 422)
    db.session.commit()
    flash(_("Saved."), "info")
    return redirect(url_for("staff_admin.users"))


@bp.post("/settings/users/<int:user_id>/role")
@role_required("admin")
def user_role(user_id: int):
    role = request.form.get("role", "")
    return _change(user_id, lambda user: change_role(db.session, user, role, current_user, utcnow()))


@bp.post("/settings/users/<int:user_id>/active")
@role_required("admin")
def user_active(user_id: int):
    active = request.form.get("active") == "1"
    return _change(user_id, lambda user: set_active(db.session, user, active, current_user, utcnow()))


@bp.route("/set-password/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
def password_page(token: str):
    """The link from the invitation: choose a password, then sign in. Used, forged or expired links get a page
    that says so (410), and the admin can invite again."""
    try:
        user = user_for_token(db.session, token)
    except LinkInvalid as exc:
        return render_template("staff/set_password.html", expired=exc.expired, invalid=True), 410
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            set_password(db.session, user, form.password.data, utcnow())
        except StaffError as exc:
            form.password.errors = [str(exc)]
        else:
            db.session.commit()
            flash(_("Your password is set. Sign in with it."), "info")
            return redirect(url_for("auth.login"))
    code = 422 if request.method == "POST" else 200
    return render_template("staff/set_password.html", form=form, user=user, invalid=False), code

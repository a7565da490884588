"""The web widget's script and its API, called from the host page's origin.

The script's URL carries a hash of its content, so it is cached for a year and a new version is a new URL (an old
hash is redirected to the current one, briefly cached). The API takes POSTs with a text/plain JSON body, a "simple"
request that needs no CORS preflight: the check costs one round trip. The customer id and its signature travel in
the body, never in a URL (nor in access logs). Nothing here sets a cookie.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
from pathlib import Path

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user

from kundenpuls.extensions import csrf, db, exempt_from_limits, limiter
from kundenpuls.problems import Problem
from kundenpuls.timeutil import utcnow
from surveys.kinds import KINDS
from surveys.public_links import network_of
from surveys.services import MAX_COMMENT, AlreadyAnswered, InvitationExpired, OffScale, UnknownInvitation
from surveys.widget_models import Widget
from surveys.widget_snapshots import widget_snapshot
from surveys.widgets import (
    answer_anonymously,
    answer_shown,
    decide,
    dismissed,
    origin_allowed,
    shown,
    signature,
    signed,
    widget_by_key,
)

bp = Blueprint("widgets", __name__)
# The check runs on every page view of a shop and writes nothing; a bad signature or an anonymous visitor costs
# it no database work, an unknown key one indexed lookup: a limit would cost more than it saves (bench/widget).
exempt_from_limits("widgets.check")
csrf.exempt(bp)

LOCALES = ("de", "en")
YEAR = "public, max-age=31536000, immutable"
API = "/api/widget/v1/<key>"


@functools.cache
def _script(folder: str) -> tuple[bytes, bytes, str]:
    """(the script, gzipped, its content hash), read once per process."""
    body = (Path(folder) / "widget" / "kundenpuls-widget.js").read_bytes()
    return body, gzip.compress(body, compresslevel=9, mtime=0), hashlib.sha256(body).hexdigest()[:16]


def script_digest() -> str:
    return _script(current_app.static_folder)[2]


def script_url() -> str:
    """The script's URL for the snippet, with its content hash."""
    return current_app.config["BASE_URL"] + url_for("widgets.script", digest=script_digest())


@bp.get("/widget/kp-<digest>.js")
def script(digest: str):
    body, packed, current = _script(current_app.static_folder)
    if digest != current:
        response = redirect(url_for("widgets.script", digest=current), 302)
        response.headers["Cache-Control"] = "public, max-age=300"
        return response
    zipped = "gzip" in request.headers.get("Accept-Encoding", "")
    response = current_app.response_class(packed if zipped else body, mimetype="application/javascript")
    if zipped:
        response.headers["Content-Encoding"] = "gzip"
    response.headers.update({"Cache-Control": YEAR, "Vary": "Accept-Encoding", "ETag": f'"{current}"'})
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def _widget(key: str) -> Widget:
    return _allowed(widget_by_key(db.session, key))


def _allowed(widget: Widget | None) -> Widget:
    """The widget named in the URL, asked from an origin it allows."""
    if widget is None:
        raise Problem(404, "Not Found", "No widget has this key.")
    g.widget = widget
    if not origin_allowed(widget, request.headers.get("Origin")):
        raise Problem(403, "Forbidden", "This widget is not set up for this website.", extensions={"reason": "origin"})
    return widget


def _body() -> dict:
    try:
        body = json.loads(request.get_data(cache=True, as_text=True) or "{}")
    except ValueError:
        raise Problem(400, "Bad Request", "The body is not JSON.") from None
    if not isinstance(body, dict):
        raise Problem(400, "Bad Request", "The body is not a JSON object.")
    return body


def _identity(widget: Widget, body: dict) -> str | None:
    """The signed-in customer's external id, or None for an anonymous visitor; 403 for a wrong signature."""
    customer = body.get("customer")
    if customer in (None, ""):
        return None
    if not isinstance(customer, str) or len(customer) > 100 or not signed(widget, customer, body.get("signature")):
        raise Problem(
            403, "Forbidden", "The customer id's signature does not match this widget's secret.",
            extensions={"reason": "signature"},
        )  # fmt: skip
    return customer


def _locale(body: dict) -> str:
    lang = str(body.get("lang") or "")[:2].lower()
    return lang if lang in LOCALES else request.accept_languages.best_match(LOCALES) or "de"


@bp.post(f"{API}/check")
def check(key: str):
    """Whether to show the survey to this visitor now, and if so what it says."""
    snapshot = widget_snapshot(db.session, key)  # read-only, a few seconds old at most
    widget = _allowed(snapshot.widget)
    body = _body()
    external_id = _identity(widget, body)
    page = body.get("page")
    decision = decide(db.session, widget, external_id, page if isinstance(page, str) else None, utcnow())
    if not decision.show:
        return jsonify(show=False, reason=decision.reason)
    # The answer depends only on the widget, the language and whether the visitor is anonymous: serialised once
    # per snapshot (the 1 KB of texts and scale was a tenth of the check's time in-process).
    shape = (_locale(body), external_id is None)
    answer = snapshot.memo.get(shape)
    if answer is None:
        content = _content(widget, shape[0])
        answer = snapshot.memo[shape] = json.dumps({"show": True, "anonymous": shape[1], **content}).encode()
    return current_app.response_class(answer, mimetype="application/json")


def _content(widget: Widget, locale: str) -> dict:
    survey, kind = widget.survey, KINDS[widget.survey.kind]
    labelled = kind.key != "nps"
    with force_locale(locale):
        texts = {
            "question": survey.text(locale, "question"),
            "hint": None
            if labelled
            else _(
                "0 means %(low)s, 10 means %(high)s.",
                low=survey.text(locale, "low_label"),
                high=survey.text(locale, "high_label"),
            ),
            "comment": survey.text(locale, "comment_label"),
            "optional": _("optional"),
            "send": _("Send answer"),
            "close": _("Close the survey"),
            "choose": _("Please choose a score from %(low)s to %(high)s.", low=kind.low, high=kind.high),
            "anonymous": _("Your answer is anonymous: we do not know who you are."),
            "failed": _("Your answer could not be sent. Please try again."),
        }
    scale = [
        {"value": n, "label": survey.text(locale, f"label_{n}") if labelled else None, "class": kind.classify(n)}
        for n in kind.scale
    ]
    rules = {"after_page_views": widget.after_page_views, "after_seconds": widget.after_seconds}
    return {"lang": locale, "texts": texts, "scale": scale, "rules": rules, "once_per_days": widget.once_per_days}


@bp.post(f"{API}/shown")
def shown_view(key: str):
    """A signed-in customer sees the widget: the contact is made; the answer and a close name its token."""
    widget = _widget(key)
    body = _body()
    external_id = _identity(widget, body)
    if external_id is None:
        raise Problem(422, "Unprocessable Content", "Only a signed-in customer's showing is recorded.")
    now = utcnow()
    decision = decide(db.session, widget, external_id, None, now)
    if not decision.show:  # asked meanwhile (another tab), unsubscribed, ...: the contact is not made twice
        raise Problem(409, "Conflict", "This customer is not asked now.", extensions={"reason": decision.reason})
    invitation = shown(db.session, widget, decision.customer_id, _locale(body), now)
    db.session.commit()
    return jsonify(token=invitation.token), 201


def _anonymous_answer() -> bool:
    try:
        body = json.loads(request.get_data(cache=True, as_text=True) or "{}")
    except ValueError:
        return True
    return not (isinstance(body, dict) and body.get("token"))


def _network() -> str:
    return network_of(request.remote_addr)


def _limit() -> str:
    return current_app.config["ANONYMOUS_RATE_LIMIT"]


@bp.post(f"{API}/answer")
@limiter.limit(_limit, key_func=_network, exempt_when=lambda: not _anonymous_answer())
def answer(key: str):
    """The answer, through the one answer path: a signed-in customer's names the token `shown` gave."""
    widget = _widget(key)
    body = _body()
    kind = KINDS[widget.survey.kind]
    score, comment = body.get("score"), body.get("comment") or None
    if not (isinstance(score, int) and not isinstance(score, bool) and score in kind.scale):
        raise Problem(422, "Unprocessable Content", f"The score must be a whole number from {kind.low} to {kind.high}.")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise Problem(422, "Unprocessable Content", f"The comment must be text of at most {MAX_COMMENT} characters.")
    locale, now, token = _locale(body), utcnow(), body.get("token")
    try:
        if token:
            external_id = _identity(widget, body) if isinstance(token, str) else None
            if external_id is None:
                raise Problem(403, "Forbidden", "An answer to a shown survey names its customer, signed.")
            submitted = answer_shown(db.session, widget, external_id, token, score, comment, now)
        else:
            if not widget.allow_anonymous:
                raise Problem(
                    403, "Forbidden", "This widget takes no anonymous answers.", extensions={"reason": "anonymous"}
                )
            submitted = answer_anonymously(db.session, widget, score, comment, locale, now)
    except UnknownInvitation:
        raise Problem(404, "Not Found", "No shown survey has this token.") from None
    except AlreadyAnswered:
        raise Problem(409, "Conflict", "This survey was answered already.", extensions={"reason": "answered"}) from None
    except InvitationExpired:
        raise Problem(410, "Gone", "This survey was closed or has expired.") from None
    except OffScale as exc:
        raise Problem(422, "Unprocessable Content", str(exc)) from None
    db.session.commit()
    return jsonify(thanks=widget.survey.text(submitted.response.locale, "thanks")), 201


@bp.post(f"{API}/dismiss")
def dismiss(key: str):
    """The visitor closed it: a signed-in customer's contact ends unanswered (an anonymous one's browser
    remembers it, nothing reaches the server)."""
    widget = _widget(key)
    body = _body()
    external_id = _identity(widget, body)
    if external_id is None or not isinstance(body.get("token"), str):
        raise Problem(422, "Unprocessable Content", "A close names the shown survey's token and its customer.")
    dismissed(db.session, widget, external_id, body["token"], utcnow())
    db.session.commit()
    return "", 204


@bp.after_request
def cors(response):
    """The host page reads the API's answers: its origin is allowed when the widget lists it (or lists none)."""
    if request.path.startswith("/api/widget/"):
        origin = request.headers.get("Origin")
        widget = g.get("widget")
        if origin and (widget is None or origin_allowed(widget, origin)):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = "POST"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            response.headers["Access-Control-Max-Age"] = "86400"
        response.headers["Vary"] = "Origin"
    return response


@bp.get("/widget/demo")
def demo():
    """A host page to try a widget on: as a signed-in customer (signed here, as the host's server would) or as
    an anonymous visitor. Staff only in production."""
    if current_app.config["KUNDENPULS_ENV"] == "production" and not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    widgets = db.session.query(Widget).order_by(Widget.id).all()
    chosen = next((w for w in widgets if w.public_key == request.args.get("key")), widgets[0] if widgets else None)
    customer = (request.args.get("customer") or "").strip()[:100]
    signed_as = signature(chosen.secret, customer) if chosen and customer else None
    return render_template(
        "surveys/widget_demo.html",
        widgets=widgets,
        chosen=chosen,
        customer=customer,
        signed_as=signed_as,
        script=script_url(),
    )

"""Printed survey links: the API that hands one out per purchase, and its QR code as SVG or PNG."""

from __future__ import annotations

import io
from functools import lru_cache

import segno
from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select

from kundenpuls.apiauth import require_api_key
from kundenpuls.extensions import csrf, db
from kundenpuls.problems import Problem
from kundenpuls.timeutil import utcnow
from surveys.channels import LINK, PATHS, QR
from surveys.models import Invitation
from surveys.print_links import Busy, NoLink, purchase_survey_link

bp = Blueprint("survey_links", __name__)
csrf.exempt(bp)

# PNG width in pixels: the default prints sharp at 2.5 cm and 300 dpi; a module is a whole number of pixels.
PNG_SIZE, PNG_MIN, PNG_MAX = 300, 64, 2000
BORDER = 4  # the quiet zone the QR standard asks for, in modules
# Links and codes are fixed per token: a printer may cache them (privately: the token is the customer's).
CACHE = {"Cache-Control": "private, max-age=86400"}


def link_url(token: str, channel: str) -> str:
    return f"{current_app.config['BASE_URL']}/{PATHS[channel]}/{token}"


@bp.get("/api/v1/purchases/<path:order_id>/survey-link")
@require_api_key
def survey_link(order_id: str):
    """The purchase's printable survey link and its QR code; the same on every call."""
    survey_key = request.args.get("survey") or None
    try:
        found = purchase_survey_link(db.session, order_id, survey_key, utcnow())
    except NoLink as refused:
        raise Problem(409, "No survey link", refused.detail, extensions={"reason": refused.reason}) from None
    except Busy:
        raise Problem(
            503, "Busy", "Invitations are being created; retry shortly.", headers={"Retry-After": "2"}
        ) from None
    if found is None:
        raise Problem(404, "Not Found", f"No purchase has the order id {order_id!r}.")
    db.session.commit()
    invitation = found.invitation
    qr_base = f"{link_url(invitation.token, QR)}/qr"
    body = {
        "url": link_url(invitation.token, LINK),
        "qr": {"svg": f"{qr_base}.svg", "png": f"{qr_base}.png"},
        "expires_at": invitation.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "survey": invitation.survey.key,
        "status": invitation.status,
    }
    return jsonify(body), 201 if found.created else 200


def _known(token: str) -> None:
    """Codes only for real invitations: the endpoint is no QR generator for any text."""
    if len(token) > 64 or db.session.scalar(select(Invitation.id).where(Invitation.token == token)) is None:
        raise Problem(404, "Not Found", "No invitation has this link.")


@lru_cache(maxsize=1024)
def _code(url: str) -> segno.QRCode:
    return segno.make(url, error="m", micro=False)


@bp.get(f"/{PATHS[QR]}/<token>/qr.svg")
def qr_svg(token: str):
    _known(token)
    return svg_response(link_url(token, QR))


@bp.get(f"/{PATHS[QR]}/<token>/qr.png")
def qr_png(token: str):
    size = png_size()
    _known(token)
    return png_response(link_url(token, QR), size)


def svg_response(url: str) -> Response:
    """Vector, for print: a viewBox and no fixed size, so the layout sets it (at least 2 cm across)."""
    out = io.BytesIO()
    _code(url).save(out, kind="svg", border=BORDER, xmldecl=False, omitsize=True, title="QR")
    return Response(out.getvalue(), mimetype="image/svg+xml", headers=CACHE)


def png_size() -> int:
    """`size`: the width in pixels the image may take (64-2000, default 300)."""
    raw = request.args.get("size", str(PNG_SIZE))
    if not raw.isascii() or not raw.isdigit() or not PNG_MIN <= int(raw) <= PNG_MAX:
        message = f"size: a whole number of pixels from {PNG_MIN} to {PNG_MAX}"
        raise Problem(422, "Invalid parameters", message, [{"field": "size", "message": message}])
    return int(raw)


def png_response(url: str, size: int) -> Response:
    """Modules stay whole pixels: the image is the largest whole multiple of the code's width that fits `size`."""
    code = _code(url)
    width, _height = code.symbol_size(scale=1, border=BORDER)
    out = io.BytesIO()
    code.save(out, kind="png", border=BORDER, scale=max(1, size // width))
    return Response(out.getvalue(), mimetype="image/png", headers=CACHE)

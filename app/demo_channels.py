"""Demo channels: some receipts of the last half year carried a printed link (answered by its QR code, typed in,
or from the mail that followed), and a shop counter's anonymous link collected answers, so the NPS report's channel
table and filter show something on a first look; a web widget waits on /widget/demo to be tried."""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from surveys.channels import ANONYMOUS, EMAIL, LINK, QR
from surveys.models import Invitation, Response, Survey
from surveys.public_links import create_link, network_of
from surveys.widgets import create_widget

PRINTED_SHARE = 0.2
# How printed links were answered: most scan the code.
ANSWER_PATHS = ((QR, 0.55), (LINK, 0.25), (EMAIL, 0.2))
COUNTER_ANSWERS = 80
# Counter customers were asked right after being served: a little happier than the mail's average.
COUNTER_SCORES = (10, 10, 9, 9, 9, 8, 8, 7, 6, 4)
COUNTER_COMMENTS = ("Sehr nette Beratung", "Kurze Wartezeit", "Die Kasse war lange besetzt", "")


def printed_links(session: Session, survey: Survey, now: datetime, seed: int) -> int:
    """Mark a share of the last half year's invitations as printed on the receipt, and how each was answered."""
    rng = random.Random(seed + 22)  # its own generator: the rest of the demo stays as it is calibrated
    ids = session.scalars(
        select(Invitation.id)
        .where(Invitation.survey_id == survey.id, Invitation.created_at > now - timedelta(days=182))
        .order_by(Invitation.id)
    ).all()
    printed = [invitation_id for invitation_id in ids if rng.random() < PRINTED_SHARE]
    by_path: dict[str, list[int]] = {path: [] for path, _share in ANSWER_PATHS}
    for invitation_id in printed:
        by_path[rng.choices([p for p, _ in ANSWER_PATHS], [w for _, w in ANSWER_PATHS])[0]].append(invitation_id)
    for chunk in range(0, len(printed), 5000):
        part = printed[chunk : chunk + 5000]
        session.execute(update(Invitation).where(Invitation.id.in_(part)).values(channel=LINK))
    for path, invitation_ids in by_path.items():
        for chunk in range(0, len(invitation_ids), 5000):
            part = invitation_ids[chunk : chunk + 5000]
            session.execute(update(Response).where(Response.invitation_id.in_(part)).values(channel=path))
    return len(printed)


def counter_link(session: Session, survey: Survey, now: datetime, seed: int) -> int:
    """An anonymous link at the shop counter, answered COUNTER_ANSWERS times over the last 90 days."""
    rng = random.Random(seed + 23)
    link = create_link(session, survey, "Ladentheke Filiale Mitte", None, now - timedelta(days=90))
    invitations, answers = [], []
    for n in range(COUNTER_ANSWERS):
        at = now - timedelta(days=rng.uniform(0, 90))
        token = secrets.token_urlsafe(24)
        invitations.append({
            "token": token, "survey_id": survey.id, "customer_id": None, "locale": rng.choice(("de", "de", "en")),
            "channel": ANONYMOUS, "status": "answered", "created_at": at, "expires_at": at + timedelta(days=1),
            "answered_at": at, "public_link_id": link.id, "network": network_of(f"198.51.100.{n % 200}"),
        })  # fmt: skip
    session.execute(insert(Invitation), invitations)
    ids = dict(
        session.execute(select(Invitation.token, Invitation.id).where(Invitation.public_link_id == link.id)).all()
    )
    for row in invitations:
        answers.append({
            "invitation_id": ids[row["token"]], "survey_id": survey.id, "customer_id": None,
            "score": rng.choice(COUNTER_SCORES), "comment": rng.choice(COUNTER_COMMENTS) or None,
            "locale": row["locale"], "channel": ANONYMOUS, "created_at": row["answered_at"],
        })  # fmt: skip
    session.execute(insert(Response), answers)
    return len(answers)


def portal_widget(session: Session, survey: Survey, now: datetime) -> str:
    """A widget for the customer portal, open to anonymous visitors too, to try on /widget/demo; its public key."""
    values = {"label": "Kundenportal (Demo)", "allow_anonymous": True}
    return create_widget(session, survey, values, None, now).public_key

"""The rating grid: attributes of the offer (delivery speed, price, advice, ...) that a customer rates 1-5 or "does
not apply" on the survey page after the score (issue 24). The attributes are one list kept as data, with German
and English labels, retired like churn reasons; a survey shows the grid when its `rating_grid` is on.

Ratings arrive with the score in the same POST (the grid needs no JavaScript: it is the same for every class) and
are stored after it; the importance report (analytics.importance) reads them.
"""

from __future__ import annotations

import re

from sqlalchemy import ForeignKey, exists, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from kundenpuls.extensions import db
from surveys.models import Option

RATINGS = range(1, 6)
NOT_APPLICABLE = "na"
# A grid field as the page posts it: a rating or "does not apply".
VALUE = re.compile(r"[1-5]|na")
MAX_ATTRIBUTES = 10


class RatingAttribute(Option, db.Model):
    """An attribute of the offer the grid asks about; retired ones are no longer asked, their ratings stay."""

    __tablename__ = "rating_attributes"

    id: Mapped[int] = mapped_column(primary_key=True)


class AttributeRating(db.Model):
    """One attribute's rating in one answer; `rating` None: the customer said it does not apply."""

    __tablename__ = "attribute_ratings"

    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id"), primary_key=True)
    attribute_id: Mapped[int] = mapped_column(ForeignKey("rating_attributes.id"), primary_key=True, index=True)
    rating: Mapped[int | None] = mapped_column()


def active_attributes(session: Session) -> list[RatingAttribute]:
    """The attributes asked now, in the admin's order."""
    return list(
        session.scalars(
            select(RatingAttribute)
            .where(RatingAttribute.retired_at.is_(None))
            .order_by(RatingAttribute.position, RatingAttribute.id)
        )
    )


def grid_values(form) -> dict[int, str] | None:
    """The grid fields of a posted form (a<id> -> "1".."5" or "na"), or None when one is malformed: checked before
    the score is stored, so a bad grid value gets the form back and nothing is lost."""
    values = {}
    for name in form:
        if name.startswith("a") and name[1:].isascii() and name[1:].isdigit() and len(name) < 11:
            value = form.get(name, "")
            if value == "":
                continue
            if not VALUE.fullmatch(value):
                return None
            values[int(name[1:])] = value
    return values


def store_ratings(session: Session, response_id: int, values: dict[int, str]) -> int:
    """Store the ratings of the attributes on offer (others are ignored); once per answer."""
    if not values or session.scalar(select(exists().where(AttributeRating.response_id == response_id))):
        return 0
    offered = {attribute.id for attribute in active_attributes(session)}
    rows = [
        AttributeRating(response_id=response_id, attribute_id=attribute_id,
                        rating=None if value == NOT_APPLICABLE else int(value))
        for attribute_id, value in sorted(values.items())
        if attribute_id in offered
    ]  # fmt: skip
    session.add_all(rows)
    session.flush()
    return len(rows)


def ratings_of(session: Session, response_ids: list[int]) -> dict[int, list[dict]]:
    """Per response: its ratings as plain data (API, export)."""
    found: dict[int, list[dict]] = {}
    rows = session.execute(
        select(AttributeRating.response_id, RatingAttribute.key, AttributeRating.rating)
        .join(RatingAttribute, RatingAttribute.id == AttributeRating.attribute_id)
        .where(AttributeRating.response_id.in_(response_ids))
        .order_by(AttributeRating.response_id, RatingAttribute.position, RatingAttribute.id)
    )
    for response_id, key, rating in rows:
        found.setdefault(response_id, []).append({"attribute": key, "rating": rating})
    return found

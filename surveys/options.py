"""Lists kept as data (surveys.models.Option: churn reasons, rating attributes, contact reasons): add, rename,
reorder, retire and restore an entry, audited. One set of rules for all of them: the key is made once from the
English label and never changes (exports, webhooks and rules name entries by it), an entry is retired, never
deleted, so that old answers and cases still show and count it."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kundenpuls import audit
from surveys.models import Option

LABEL_FIELDS = ("label_de", "label_en", "position")


def option_key(label_en: str, taken: set[str]) -> str:
    """A stable key from the English label, unique among `taken`."""
    plain = unicodedata.normalize("NFKD", label_en).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "_", plain).strip("_")[:36] or "choice"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


def all_options(session: Session, model: type[Option]) -> list:
    """Entries on offer first in the admin's order, then retired ones."""
    return list(session.scalars(select(model).order_by(model.retired_at.is_not(None), model.position, model.id)))


def active_options(session: Session, model: type[Option]) -> list:
    """The entries on offer now, in the admin's order."""
    return [option for option in all_options(session, model) if option.retired_at is None]


def add_option(
    session: Session, model: type[Option], entity: str, values: dict, actor_id: int, now: datetime,
    fields: tuple[str, ...] = LABEL_FIELDS,
):  # fmt: skip
    """A new entry after the last one unless a position is given; audited as `entity`."""
    values = {name: values.get(name) for name in fields}
    if values.get("position") is None:
        values["position"] = (session.scalar(select(func.max(model.position))) or 0) + 10
    option = model(key=option_key(values["label_en"], set(session.scalars(select(model.key)))), **values)
    session.add(option)
    session.flush()
    after = {name: getattr(option, name) for name in ("key", *fields)}
    audit.record(session, entity, option.id, "created", actor_id, now, after=after)
    return option


def update_option(
    session: Session, option: Option, entity: str, values: dict, actor_id: int, now: datetime,
    fields: tuple[str, ...] = LABEL_FIELDS,
) -> bool:  # fmt: skip
    """Rename or reorder (the key stays); False when nothing changed."""
    before, after = audit.apply_changes(option, values, fields)
    if after:
        session.flush()
        audit.record(session, entity, option.id, "changed", actor_id, now, before, after)
    return bool(after)


def set_retired(session: Session, option: Option, entity: str, retired: bool, actor_id: int, now: datetime) -> None:
    """Retire (no longer offered) or restore an entry; what points at it stays untouched either way."""
    if (option.retired_at is not None) == retired:
        return
    option.retired_at = now if retired else None
    session.flush()
    audit.record(session, entity, option.id, "retired" if retired else "restored", actor_id, now)

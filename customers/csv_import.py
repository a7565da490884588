"""CSV import of customers and purchases: valid rows are kept, bad rows reported by line."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from customers.history import replay_if_out_of_order
from customers.lifecycle import recompute_phases
from customers.schemas import CustomerIn, PurchaseIn
from customers.services import record_purchase, upsert_customer
from kundenpuls.csvfile import SafeWriter
from kundenpuls.inputs import error_list

COMMIT_EVERY = 500

PURCHASE_COLUMNS = ("order_id", "customer_external_id", "email", "amount", "purchased_at")
PURCHASE_OPTIONAL = ("name", "locale", "timezone", "margin", "currency", "category")
CUSTOMER_COLUMNS = ("external_id", "email")
CUSTOMER_OPTIONAL = ("name", "locale", "timezone", "potential")

_DECIMAL_COMMA = re.compile(r"^-?\d{1,3}(\.\d{3})*,\d+$|^-?\d+,\d+$")


class HeaderError(ValueError):
    """The file's header does not name the columns we need; nothing was imported."""


@dataclass
class RowError:
    line: int
    message: str
    row: dict


@dataclass
class ImportReport:
    created: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.created + self.unchanged + len(self.errors)


def open_csv(handle: TextIO) -> csv.DictReader:
    """A DictReader for comma, semicolon or tab separated files (German exports use ';')."""
    sample = handle.read(64 * 1024)
    handle.seek(0)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return csv.DictReader(handle, dialect=dialect)


def check_header(reader: csv.DictReader, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in required if name not in header]
    unknown = [name for name in header if name not in required + optional]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s): {', '.join(unknown)}")
        raise HeaderError(
            "; ".join(parts) + f". Expected: {', '.join(required)} (required), {', '.join(optional)} (optional)."
        )
    reader.fieldnames = header


def _decimal(value: str | None) -> str | None:
    if value and _DECIMAL_COMMA.match(value.strip()):
        return value.strip().replace(".", "").replace(",", ".")
    return value


def _purchase_payload(row: dict) -> dict:
    return {
        "order_id": row.get("order_id"),
        "customer": {
            "external_id": row.get("customer_external_id"),
            "email": row.get("email"),
            "name": row.get("name") or None,
            "locale": row.get("locale") or None,
            "timezone": row.get("timezone") or None,
        },
        "amount": _decimal(row.get("amount")),
        "margin": _decimal(row.get("margin")),
        "currency": row.get("currency") or "EUR",
        "category": row.get("category") or None,
        "purchased_at": row.get("purchased_at"),
    }


def _rows(reader: csv.DictReader) -> Iterator[tuple[int, dict]]:
    for row in reader:
        if None in row:  # more cells than header columns
            yield reader.line_num, {"__extra__": row.pop(None), **row}
        else:
            yield reader.line_num, row


def _import(
    session: Session,
    reader: csv.DictReader,
    now: datetime,
    store: Callable[[dict], bool],
    on_row: Callable[[], None] | None,
    before_commit: Callable[[], None] = lambda: None,
) -> ImportReport:
    report = ImportReport()
    pending = 0
    for line, row in _rows(reader):
        try:
            if "__extra__" in row:
                raise ValueError("the row has more cells than the header has columns")
            if any(value is None for value in row.values()):
                raise ValueError("the row has fewer cells than the header has columns")
            with session.begin_nested():
                created = store(row)
            report.created += created
            report.unchanged += not created
        except ValidationError as exc:
            message = "; ".join(f"{e['field']}: {e['message']}" for e in error_list(exc))
            report.errors.append(RowError(line, message, row))
        except (ValueError, SQLAlchemyError) as exc:
            report.errors.append(RowError(line, str(exc).splitlines()[0], row))
        pending += 1
        if pending >= COMMIT_EVERY:
            before_commit()
            session.commit()
            pending = 0
        if on_row:
            on_row()
    before_commit()
    session.commit()
    return report


def import_purchases(
    session: Session, reader: csv.DictReader, now: datetime, on_row: Callable[[], None] | None = None
) -> ImportReport:
    """Import purchases (and their customers); an order id already known is left as it is."""
    check_header(reader, PURCHASE_COLUMNS, PURCHASE_OPTIONAL)

    touched: dict[int, datetime] = {}  # customer id: the earliest purchase of theirs this batch brought

    def store(row: dict) -> bool:
        data = PurchaseIn.model_validate(_purchase_payload(row), context={"now": now})
        purchase, created = record_purchase(session, data, now, recompute=False)
        if created:
            earlier = touched.get(purchase.customer_id)
            touched[purchase.customer_id] = min(earlier, data.purchased_at) if earlier else data.purchased_at
        return created

    def recompute_touched() -> None:
        """Phases move once per batch of rows, not once per row; histories that older rows rewrite are replayed."""
        recompute_phases(session, now, "purchase", sorted(touched))
        replay_if_out_of_order(session, now, touched)
        touched.clear()

    return _import(session, reader, now, store, on_row, recompute_touched)


def import_customers(
    session: Session, reader: csv.DictReader, now: datetime, on_row: Callable[[], None] | None = None
) -> ImportReport:
    """Create or update customers by their external id."""
    check_header(reader, CUSTOMER_COLUMNS, CUSTOMER_OPTIONAL)

    def store(row: dict) -> bool:
        values = {k: (v or None) for k, v in row.items()}
        values["potential"] = _decimal(values.get("potential"))
        data = CustomerIn.model_validate(values)
        return upsert_customer(session, data, now)[1]

    return _import(session, reader, now, store, on_row)


def write_error_report(path: Path, report: ImportReport, fieldnames: list[str]) -> None:
    """The failed rows with their line and reason, ready to fix and import again."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = SafeWriter(handle)
        writer.writerow(["line", "error", *fieldnames])
        for error in report.errors:
            writer.writerow([error.line, error.message, *(error.row.get(name) for name in fieldnames)])

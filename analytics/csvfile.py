"""A table as a CSV download: the one shape every report's "Download CSV" takes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from flask import Response


def csv_download(rows: Iterable[Iterable], filename: str) -> Response:
    """`rows` (header included, if any) as an attachment; None is written as an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return Response(
        buffer.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={filename}"}
    )

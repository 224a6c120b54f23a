"""The one CSV writer of every export (funders' reports, access log, ...).

Spreadsheets run a cell that starts like a formula (``=``, ``+``, ``-``,
``@``, or tab/CR before one), so a member's home town ``=HYPERLINK(...)`` would
run on the funder's machine (CSV injection, OWASP). Text cells that start with
one of these characters get a leading apostrophe, which shows the text as typed.
Numbers we computed ourselves are written as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """The whole file as text: ``header`` then ``rows``, every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()

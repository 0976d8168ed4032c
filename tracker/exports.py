"""CSV export of the issues a list shows: the import's columns (so a file exported here
imports back) plus read-only ones the import ignores, every cell formula-safe.

Streamed from a server-side cursor, so a million rows cost the memory of a few thousand and
the first bytes leave at once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet, TextField
from django.db.models.expressions import RawSQL

from tracker.models import Issue
from tracker.rules import CSV_EXPORT_COLUMNS, CSV_LABEL_SEPARATOR, csv_cell_out

CHUNK_ROWS = 2000

# The issue's label names, as the list shows them (by name), joined for the labels column.
_LABELS_SQL = (
    "SELECT string_agg(l.name, %s ORDER BY l.name) FROM issue_labels il"
    ' JOIN labels l ON l.id = il.label_id WHERE il.issue_id = "issues"."id"'
)


class _Line:
    """A file-like target for csv.writer that hands back what was written."""

    def write(self, text: str) -> str:
        return text


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return csv_cell_out(value)


def issues_csv(queryset: QuerySet[Issue]) -> Iterator[str]:
    """The CSV lines (header first) of `queryset`, filtered and ordered by the caller."""
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_EXPORT_COLUMNS)
    rows = (
        queryset.prefetch_related(None)
        .annotate(labels_text=RawSQL(_LABELS_SQL, (CSV_LABEL_SEPARATOR,), TextField()))
        .values_list(*(c if c != "labels" else "labels_text" for c in CSV_EXPORT_COLUMNS))
    )
    # A transaction of its own: the cursor then streams, where outside one PostgreSQL would
    # hold (materialise) the whole result before the first row.
    with transaction.atomic():
        for row in rows.iterator(chunk_size=CHUNK_ROWS):
            yield writer.writerow([_cell(value) for value in row])

"""CSV export of the issues a list shows: the import's columns (so a file exported here
imports back) plus read-only ones the import ignores, every cell formula-safe.

Streamed from a server-side cursor, so a million rows cost the memory of a few thousand and
the first bytes leave at once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db import transaction
from django.db.models import QuerySet, TextField
from django.db.models.expressions import RawSQL

from tracker.models import Issue
from tracker.rules import CSV_EXPORT_COLUMNS, CSV_LABEL_SEPARATOR, csv_cell_out

CHUNK_ROWS = 2000
# Rows joined into one piece of the answer: each piece costs the response and the server a
# little, whatever its size.
PIECE_ROWS = 100
# The dates as the API writes them, formatted by PostgreSQL (migration 0003): reading them
# into datetimes only to format them back took a third of the export's time.
_DATES = ("created_at", "updated_at", "resolved_at")

# The issue's label names, as the list shows them (by name), joined for the labels column.
_LABELS_SQL = (
    "SELECT string_agg(l.name, %s ORDER BY l.name) FROM issue_labels il"
    ' JOIN labels l ON l.id = il.label_id WHERE il.issue_id = "issues"."id"'
)


class _Line:
    """A file-like target for csv.writer that hands back what was written."""

    def write(self, text: str) -> str:
        return text


def issues_csv(queryset: QuerySet[Issue]) -> Iterator[str]:
    """The CSV of `queryset`, filtered and ordered by the caller: its header line, then its
    rows, PIECE_ROWS lines at a time."""
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_EXPORT_COLUMNS)
    text = {
        f"{name}_text": RawSQL(f'tracker_isoformat("issues"."{name}", %s)', ("UTC",), TextField())
        for name in _DATES
    }
    text["labels_text"] = RawSQL(_LABELS_SQL, (CSV_LABEL_SEPARATOR,), TextField())
    rows = (
        queryset.prefetch_related(None)
        .annotate(**text)
        .values_list(*(f"{c}_text" if f"{c}_text" in text else c for c in CSV_EXPORT_COLUMNS))
    )
    # A transaction of its own: the cursor then streams, where outside one PostgreSQL would
    # hold (materialise) the whole result before the first row.
    with transaction.atomic():
        piece: list[str] = []
        for row in rows.iterator(chunk_size=CHUNK_ROWS):
            piece.append(writer.writerow([csv_cell_out(value) for value in row]))
            if len(piece) == PIECE_ROWS:
                yield "".join(piece)
                piece.clear()
        if piece:
            yield "".join(piece)

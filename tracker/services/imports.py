"""The CSV import: read -> check -> write, in batches, all in one transaction.

The file is read as a stream (imports/csv_reading.py), so memory does not grow with its
size. Rows are checked in batches with the field rules (imports/rows.py), so a row gets
the same message the API would give; each batch checks its assignees in one query and
writes its issues and label links with PostgreSQL COPY and its `issue_created` events
through events.record, never a query per row. Every valid row of one file is written in
ONE transaction: a failure midway leaves nothing behind, and the same file can be sent again.

Problems with the file as a whole raise ImportFileError (400, or 413 for FileTooLarge) and
write nothing; problems with a row are reported in ImportResult.errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from django.db import transaction
from django.utils import timezone

from tracker.imports import pg_copy
from tracker.imports.csv_reading import read_rows
from tracker.imports.pg_copy import NULL, escape
from tracker.imports.rows import (
    CheckedRow,
    Columns,
    FailedRowsReport,
    ImportResult,
    batches,
    in_column_order,
    read_ahead,
    row_errors,
)
from tracker.models import Issue, IssueEvent, IssueLabel, Label, User
from tracker.rules import invalid_assignee, name_key, resolved_at_for

from . import events
from .events import Change
from .labels import labels_get_or_create

BATCH_SIZE = 5_000
ISSUE_COPY_COLUMNS = (
    *("id", "title", "description", "status", "assignee_id", "priority", "due_date"),
    *("version", "created_at", "updated_at", "resolved_at"),
)

ProgressCallback = Callable[[int, int], None]


class _Assignees:
    """Names of the users seen so far, so each batch asks only about ids it has not met."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.missing: set[int] = set()

    def load(self, ids: set[int]) -> None:
        unseen = ids - self.names.keys() - self.missing
        if unseen:
            found = dict(User.objects.filter(pk__in=unseen).values_list("id", "name"))
            self.names.update(found)
            self.missing |= unseen - found.keys()


def _write_batch(
    rows: list[CheckedRow], *, change: Change, assignees: _Assignees, labels: dict[str, Label]
) -> None:
    """Insert a batch of valid rows with their events and labels. Call inside the import's
    transaction. `labels`: the labels met so far, by `name_key`."""
    ids = pg_copy.reserve_ids(Issue._meta.db_table, len(rows))
    stamp = change.at.isoformat()
    pg_copy.copy_lines(
        Issue._meta.db_table,
        ISSUE_COPY_COLUMNS,
        (
            f"{pk}\t{escape(r.title)}\t{escape(r.description)}\t{r.status}\t"
            f"{NULL if r.assignee_id is None else r.assignee_id}\t{r.priority}\t"
            f"{NULL if r.due_date is None else r.due_date.isoformat()}\t1\t{stamp}\t{stamp}\t"
            f"{resolved_at_for(r.status, stamp) or NULL}\n"
            for pk, r in zip(ids, rows, strict=True)
        ),
    )
    # Each label's key once per row (a million-row file has a third of a million of them).
    keys = [[name_key(name) for name in r.labels] for r in rows]
    new_names: dict[str, str] = {}  # the first spelling in the file wins, as in a row
    for r, row_keys in zip(rows, keys, strict=True):
        for name, key in zip(r.labels, row_keys, strict=True):
            if key not in labels:
                new_names.setdefault(key, name)
    if new_names:
        labels.update(labels_get_or_create(list(new_names.values())))
    events.record(
        change,
        [
            events.created_event(
                pk,
                title=r.title,
                status=r.status,
                assignee_id=r.assignee_id,
                assignee_name=assignees.names.get(r.assignee_id)
                if r.assignee_id is not None
                else None,
                # As stored: a row's `bug` is the label `Bug` when that exists.
                labels=[labels[key].name for key in row_keys],
                priority=r.priority,
                due_date=r.due_date,
            )
            for pk, r, row_keys in zip(ids, rows, keys, strict=True)
        ],
        bulk=True,
    )
    links = [
        f"{pk}\t{labels[key].pk}\n"
        for pk, row_keys in zip(ids, keys, strict=True)
        for key in row_keys
    ]
    if links:
        pg_copy.copy_lines(IssueLabel._meta.db_table, ("issue_id", "label_id"), links)


def issues_import(
    binary: IO[bytes],
    *,
    dry_run: bool = False,
    actor: User | None = None,
    source: str = IssueEvent.Source.IMPORT,
    batch_size: int = BATCH_SIZE,
    progress: ProgressCallback | None = None,
    failed_rows: FailedRowsReport | None = None,
) -> ImportResult:
    """Import the issues of a CSV file (a binary file, left open), reading it once.

    Valid rows are created, all in one transaction; invalid rows are reported, and written
    to `failed_rows` when given. With `dry_run`, everything is checked and nothing is
    written (not even new labels). `progress(rows_read, bytes_read)` is called after each
    batch. Raises ImportFileError.
    """
    header, rows = read_rows(binary)
    columns = Columns(header)
    if failed_rows is not None:
        failed_rows.start(header)
    result = ImportResult(ignored_columns=columns.ignored, dry_run=dry_run)
    assignees = _Assignees()
    labels: dict[str, Label] = {}
    change = Change(events.recorded_actor(actor), source, timezone.now())

    checked_batches = (
        ([columns.check(number, cells) for number, cells in batch], binary.tell())
        for batch in batches(rows, batch_size)
    )
    with transaction.atomic():
        for checked, bytes_read in read_ahead(checked_batches):
            assignees.load({r.assignee_id for r in checked if r.assignee_id is not None})
            valid: list[CheckedRow] = []
            for row in checked:
                errors = row.errors
                if row.assignee_id in assignees.missing:
                    errors = in_column_order([*errors, *row_errors(invalid_assignee(), row.number)])
                if errors:
                    result.failed += 1
                    result.errors += errors
                    if failed_rows is not None:
                        failed_rows.add(row, errors)
                else:
                    valid.append(row)
            result.total_rows += len(checked)
            result.created += len(valid)
            if valid and not dry_run:
                _write_batch(valid, change=change, assignees=assignees, labels=labels)
            if progress is not None:
                progress(result.total_rows, bytes_read)
    return result


def issues_import_check_file(binary: IO[bytes]) -> None:
    """What can be refused before a row is read (for an import that runs later): not a
    UTF-8 CSV file by its first bytes, empty, no `title` column. Rewinds `binary`. Raises
    ImportFileError. A problem further down the file fails the import when it runs."""
    try:
        header, rows = read_rows(binary)
        Columns(header)
        del rows  # closes the reader, leaving `binary` open
    finally:
        binary.seek(0)

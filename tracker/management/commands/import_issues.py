"""`manage.py import_issues FILE.csv`: the CSV import of POST /issues/import, from the
command line and without its upload size limit."""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from tracker import services
from tracker.errors import ImportFileError
from tracker.imports.rows import FailedRowsReport, ImportResult
from tracker.rules import csv_columns_help
from tracker.services.imports import BATCH_SIZE

SHOWN_ERRORS = 20


class Command(BaseCommand):
    help = (
        "Import issues from a CSV file. The header names the columns (any case, surrounding "
        f"spaces ignored): {csv_columns_help()}; other columns are ignored. Valid rows are "
        "created in one transaction, invalid rows are reported by row number (data rows "
        "count from 1). A progress bar shows when the output is a terminal."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The CSV file (UTF-8).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Validate and report; write nothing."
        )
        parser.add_argument(
            "--errors-out",
            type=Path,
            metavar="ERRORS.csv",
            help="Write the failed rows here: the file's columns plus `row` and `error`, "
            "ready to be fixed and imported again.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help=f"Rows validated and written together (default {BATCH_SIZE}).",
        )

    def handle(self, *args, file: Path, dry_run: bool, errors_out: Path | None, **options):
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        started = time.monotonic()
        with ExitStack() as stack:
            binary = stack.enter_context(file.open("rb"))
            report = None
            if errors_out is not None:
                out = stack.enter_context(errors_out.open("w", encoding="utf-8", newline=""))
                report = FailedRowsReport(out)
            bar = self._progress_bar(file.stat().st_size)

            def progress(rows: int, done: int) -> None:
                if bar is not None:
                    bar.update(done - bar.n)

            try:
                result = services.issues_import(
                    binary,
                    dry_run=dry_run,
                    batch_size=options["batch_size"],
                    progress=progress if bar is not None else None,
                    failed_rows=report,
                )
            except ImportFileError as exc:
                if errors_out is not None:
                    stack.close()
                    errors_out.unlink(missing_ok=True)
                raise CommandError(exc.message) from exc
            finally:
                if bar is not None:
                    bar.close()
        self._summary(result, time.monotonic() - started, errors_out)

    def _progress_bar(self, size: int) -> tqdm | None:
        # Only for a person watching: logs and pipes get the summary alone.
        if not self.stdout.isatty():
            return None
        return tqdm(total=size, unit="B", unit_scale=True, desc="Importing", file=sys.stdout)

    def _summary(self, result: ImportResult, elapsed: float, errors_out: Path | None) -> None:
        rate = result.total_rows / elapsed if elapsed > 0 else 0.0
        verb = "would be created" if result.dry_run else "created"
        self.stdout.write(
            f"{result.total_rows:,} rows read: {result.created:,} {verb}, "
            f"{result.failed:,} failed ({elapsed:.1f} s, {rate:,.0f} rows/s)."
        )
        if result.dry_run:
            self.stdout.write("Dry run: nothing was written.")
        if result.ignored_columns:
            self.stdout.write(f"Ignored columns: {', '.join(result.ignored_columns)}")
        for error in result.errors[:SHOWN_ERRORS]:
            self.stdout.write(self.style.WARNING(f"  row {error.row}: {error.error}"))
        hidden = len(result.errors) - SHOWN_ERRORS
        if hidden > 0:
            hint = "" if errors_out else " (use --errors-out FILE to get them all)"
            self.stdout.write(f"  ... and {hidden:,} more errors{hint}")
        if errors_out is not None:
            self.stdout.write(f"Failed rows written to {errors_out}.")

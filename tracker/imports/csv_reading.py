"""Reading an uploaded CSV file: refuse what is not a UTF-8 CSV file before any row is
checked, then stream its rows (memory does not grow with the file)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import IO

from tracker.errors import ImportFileError

SNIFF_BYTES = 8_192
# The csv module refuses fields over 128 KB by default; a long description is no reason to
# reject a file, and the upload limit bounds every field anyway.
csv.field_size_limit(64 * 1024 * 1024)

# Magic numbers of files people upload by mistake instead of a CSV export.
BINARY_SIGNATURES = {
    b"PK\x03\x04": "an Excel workbook or a ZIP archive",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) workbook",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
}


def _sniff(binary: IO[bytes]) -> None:
    """Refuse binary files from their first bytes, then rewind."""
    head = binary.read(SNIFF_BYTES)
    binary.seek(0)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(
            "The file is UTF-16 text, not UTF-8; save it as 'CSV UTF-8' and upload it again",
            code="not_utf8",
        )
    for signature, kind in BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise ImportFileError(
                f"This looks like {kind}, not a CSV file; export it as CSV (UTF-8) first",
                code="not_csv",
            )
    if b"\x00" in head:
        raise ImportFileError("This is a binary file, not a CSV file", code="not_csv")


def _lines(text: Iterable[str]) -> Iterator[str]:
    # PostgreSQL text cannot hold NUL; a text file never does.
    for line in text:
        if "\x00" in line:
            raise ImportFileError(
                "The file contains NUL bytes: it is not a CSV file", code="not_csv"
            )
        yield line


def _is_blank(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


def read_rows(binary: IO[bytes]) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header cells and an iterator of (row number, cells) over the non-blank data rows.

    `binary` must be seekable; it is left open. Raises ImportFileError for empty, binary,
    non-UTF-8 or malformed files (while iterating, for problems further down the file).
    """
    _sniff(binary)
    # utf-8-sig drops Excel's byte-order mark; newline="" lets the csv module see the
    # line endings, as it needs to for quoted fields that contain newlines.
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    # strict: an unterminated quote or a stray one is a malformed file, not a row to guess at.
    reader = csv.reader(_lines(text), strict=True)

    def rows() -> Iterator[list[str]]:
        try:
            yield from reader
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                "The file is not UTF-8 text; save it as 'CSV UTF-8' and upload it again",
                code="not_utf8",
            ) from exc
        except csv.Error as exc:
            raise ImportFileError(
                f"The file is not valid CSV (line {reader.line_num}): {exc}", code="not_csv"
            ) from exc
        finally:
            # Detach so the wrapper's cleanup does not close the caller's file (unless the
            # caller closed it already, when the rows were abandoned).
            if not binary.closed:
                text.detach()

    stream = rows()
    header = next((cells for cells in stream if not _is_blank(cells)), None)
    if header is None:
        raise ImportFileError("The file is empty", code="empty_file")

    def numbered() -> Iterator[tuple[int, list[str]]]:
        number = 0
        for cells in stream:
            if not _is_blank(cells):
                number += 1
                yield number, cells

    return header, numbered()

"""Files kept in the database for a job (table job_file_chunks), so that any worker can
read them: written chunk by chunk, read back as a stream. Never a whole file in memory.

Every chunk but a file's last holds exactly CHUNK_BYTES, so a position in the file tells
which chunk holds it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import connection

from tracker.models import JobFileChunk

CHUNK_BYTES = 1024 * 1024
TABLE = JobFileChunk._meta.db_table


@dataclass
class Written:
    size: int = 0
    lines: int = 0


class ChunkWriter:
    """Writes a job's file in chunks on Django's connection (so in the caller's transaction).
    `write(bytes)` as often as needed, then `close()`."""

    def __init__(self, job_id: int, kind: str) -> None:
        self.job_id = job_id
        self.kind = kind
        self.seq = 0
        self.buffer = bytearray()
        self.written = Written()
        self._last_byte = b"\n"

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.written.size += len(data)
        self.written.lines += data.count(b"\n")
        self._last_byte = data[-1:]
        self.buffer += data
        while len(self.buffer) >= CHUNK_BYTES:
            self._insert(bytes(self.buffer[:CHUNK_BYTES]))
            del self.buffer[:CHUNK_BYTES]

    def close(self) -> Written:
        if self.buffer:
            self._insert(bytes(self.buffer))
            self.buffer.clear()
        if self._last_byte != b"\n":
            self.written.lines += 1  # a last line without its line break
        return self.written

    def _insert(self, data: bytes) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (job_id, kind, seq, data) VALUES (%s, %s, %s, %s)",
                [self.job_id, self.kind, self.seq, data],
            )
        self.seq += 1


class TextChunkWriter(io.TextIOBase):
    """A text file (UTF-8) written into a job's chunks, for csv.writer."""

    def __init__(self, job_id: int, kind: str) -> None:
        super().__init__()
        self.chunks = ChunkWriter(job_id, kind)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.chunks.write(text.encode("utf-8"))
        return len(text)

    def close(self) -> None:
        if not self.closed:
            self.chunks.close()
        super().close()


def write_all(job_id: int, kind: str, chunks: Iterable[bytes]) -> Written:
    writer = ChunkWriter(job_id, kind)
    for chunk in chunks:
        writer.write(chunk)
    return writer.close()


class ChunkReader(io.RawIOBase):
    """A job's file, read back as a seekable binary stream, one chunk in memory at a time.

    It reads on a connection of its own: the import reads the file in a helper thread while
    its own transaction writes on Django's connection. Committed chunks only. Close it (or
    use it as a context manager) to close the connection."""

    def __init__(self, job_id: int, kind: str, *, connection_params: dict[str, Any]) -> None:
        super().__init__()
        self.job_id = job_id
        self.kind = kind
        self._conn = psycopg.connect(**connection_params, autocommit=True)
        row = self._conn.execute(
            f"SELECT count(*), coalesce(sum(octet_length(data)), 0) FROM {TABLE}"
            " WHERE job_id = %s AND kind = %s",
            [job_id, kind],
        ).fetchone()
        self.chunk_count, self.size = (int(row[0]), int(row[1])) if row else (0, 0)
        self.position = 0
        self._seq = -1
        self._data = b""

    @classmethod
    def open(cls, job_id: int, kind: str) -> io.BufferedReader:
        raw = cls(job_id, kind, connection_params=connection.get_connection_params())
        return io.BufferedReader(raw, buffer_size=64 * 1024)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer: Any) -> int:
        if self.position >= self.size:
            return 0
        seq, start = divmod(self.position, CHUNK_BYTES)
        if seq != self._seq:
            row = self._conn.execute(
                f"SELECT data FROM {TABLE} WHERE job_id = %s AND kind = %s AND seq = %s",
                [self.job_id, self.kind, seq],
            ).fetchone()
            self._data = bytes(row[0]) if row else b""
            self._seq = seq
        piece = self._data[start : start + len(buffer)]
        if not piece:
            return 0
        view = memoryview(buffer).cast("B")
        view[: len(piece)] = piece
        self.position += len(piece)
        return len(piece)

    def close(self) -> None:
        if not self.closed:
            self._conn.close()
            self._data = b""
        super().close()


def delete(job_id: int, kind: str) -> None:
    JobFileChunk.objects.filter(job_id=job_id, kind=kind).delete()


def exists(job_id: int, kind: str) -> bool:
    return JobFileChunk.objects.filter(job_id=job_id, kind=kind).exists()


def stream(job_id: int, kind: str) -> Iterable[bytes]:
    """The chunks in order, one query each (for a download)."""
    seq = 0
    while True:
        data = (
            JobFileChunk.objects.filter(job_id=job_id, kind=kind, seq=seq)
            .values_list("data", flat=True)
            .first()
        )
        if data is None:
            return
        yield bytes(data)
        seq += 1

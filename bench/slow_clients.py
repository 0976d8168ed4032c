"""`make bench-slow`: can slow clients starve the server? Starts the server exactly as
`make serve` does (or measures BASE_URL), opens connections that trickle their headers or
their bodies at one byte a second, and meanwhile sends ordinary requests, counting how many
fail and how long they take.

    python bench/slow_clients.py [--clients 200] [--seconds 20] [--upload-mb 14] [--readers 8]

Every connection goes to 127.0.0.1 only, and every loop stops after `--seconds`. Then one
long upload (a CSV import of `--upload-mb` megabytes, sent at full speed) must be answered,
not cut off by a timeout of the server's own. Last, `--readers` clients ask for the CSV
export of what the upload made (tens of megabytes) and read it at one byte a second, while
ordinary requests are timed again.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_bench import free_port, psql, start_tracker, stop, upload_csv


async def trickle(host: str, port: int, head: bytes, tail: bytes, until: float) -> str:
    """Send `head` at once, then `tail` one byte a second until `until`; how it ended."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return "refused"
    try:
        writer.write(head)
        await writer.drain()
        for byte in tail:
            if time.monotonic() >= until:
                return "held"
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(1), timeout=1.0)
            except TimeoutError:
                continue
            if not data:
                return "closed by server"
        return "finished"
    except OSError:
        return "reset by server"
    finally:
        writer.close()


def slow_headers(port: int) -> tuple[bytes, bytes]:
    return f"GET /users HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode(), b"X-Slow: " + b"a" * 600


def slow_body(port: int) -> tuple[bytes, bytes]:
    body = b'{"title": "' + b"a" * 600 + b'"}'
    head = (
        f"POST /issues HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head, body


async def ordinary(base: str, until: float, timeout: float) -> tuple[list[float], int]:
    """GET /issues/1 and GET /users, one after another, until `until`: latencies and failures
    (no answer within `timeout` seconds)."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    failures = 0

    def fetch(path: str) -> float:
        started = time.perf_counter()
        with urllib.request.urlopen(base + path, timeout=timeout) as response:
            response.read()
        return (time.perf_counter() - started) * 1000

    while time.monotonic() < until:
        for path in ("/users", "/issues?per_page=20"):
            try:
                latencies.append(await loop.run_in_executor(None, fetch, path))
            except OSError:
                failures += 1
        await asyncio.sleep(0.02)
    return latencies, failures


async def slow_reader(host: str, port: int, until: float) -> str:
    """Ask for the CSV export, then read one byte a second until `until`."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return "refused"
    try:
        writer.write(f"GET /issues/export HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        await writer.drain()
        while time.monotonic() < until:
            if not await reader.read(1):
                return "closed by the server"
            await asyncio.sleep(1)
        return "still reading"
    except OSError:
        return "reset by the server"
    finally:
        writer.close()


async def run(base: str, port: int, kind: str, clients: int, seconds: float) -> None:
    until = time.monotonic() + seconds
    if kind == "readers":
        tasks = [slow_reader("127.0.0.1", port, until) for _ in range(clients)]
    else:
        head, tail = slow_headers(port) if kind == "headers" else slow_body(port)
        tasks = [trickle("127.0.0.1", port, head, tail, until) for _ in range(clients)]
    await asyncio.sleep(0)
    # The exports are real work (seconds of a thread each): requests asked meanwhile may
    # wait for a thread that long, and no longer.
    timeout = 60 if kind == "readers" else 10
    results = await asyncio.gather(ordinary(base, until, timeout), *tasks)
    (latencies, failures), outcomes = results[0], results[1:]
    ordered = sorted(latencies)
    p99 = ordered[math.ceil(len(ordered) * 0.99) - 1] if ordered else float("nan")
    counts = {outcome: outcomes.count(outcome) for outcome in set(outcomes)}
    doing = "reading the export" if kind == "readers" else f"trickling {kind}"
    print(
        f"{clients} clients {doing} for {seconds:.0f} s: "
        f"{len(latencies)} ordinary requests answered, {failures} failed, "
        f"p50 {statistics.median(latencies) if latencies else float('nan'):.1f} ms, "
        f"p99 {p99:.1f} ms, slowest {max(latencies, default=float('nan')):.0f} ms; "
        f"slow connections: {counts}"
    )


def long_upload(base: str, megabytes: int) -> None:
    line = "title,assignee_id,status,description\n"
    row = "a long import row with some text in it,,open,and a description of it\n"
    rows = max(1, megabytes * 1_000_000 // len(row))
    text = line + row * rows
    started = time.perf_counter()
    try:
        answer = upload_csv(base, text, filename="big.csv")
        outcome = f"answered, {answer['created']:,} issues created"
    except Exception as exc:  # the outcome is the figure
        outcome = f"failed: {exc!r}"
    print(
        f"upload of {len(text) / 1e6:.1f} MB ({rows:,} rows): {outcome} "
        f"after {time.perf_counter() - started:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--upload-mb", type=int, default=14)
    parser.add_argument("--readers", type=int, default=8)
    args = parser.parse_args()
    base = os.environ.get("BASE_URL")
    server = database = None
    if base is None:
        (Path(__file__).parent / "out").mkdir(exist_ok=True)
        database = "issuetracker_bench_slow"
        psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        psql(f"CREATE DATABASE {database}")
        port = free_port()
        server = start_tracker(port, database)
        base = f"http://127.0.0.1:{port}"
    port = int(base.rsplit(":", 1)[1])
    try:
        for kind in ("headers", "body"):
            asyncio.run(run(base, port, kind, args.clients, args.seconds))
        if args.upload_mb:
            long_upload(base, args.upload_mb)
        if args.readers:
            asyncio.run(run(base, port, "readers", args.readers, args.seconds))
    finally:
        if server is not None:
            stop(server)
            psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


if __name__ == "__main__":
    main()

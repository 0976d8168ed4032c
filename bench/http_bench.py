"""`make bench-http`: the hot API paths over HTTP, on the server exactly as `make serve` runs
it, with wrk. With PEER_URL set, the same workload against another server speaking the
contract, and the ratios of the two.

    python bench/http_bench.py                      # WRK_DURATION=8s WRK_CONN=16 WEB_CONCURRENCY=2
    PEER_URL=http://127.0.0.1:9000 python bench/http_bench.py

The original system can be run beside it with ../shared/peer/peer_live.py, which sets
BASE_URL for the command it runs:

    python3 ../shared/peer/peer_live.py /tmp/peer -- \\
        sh -c 'PEER_URL=$BASE_URL .venv/bin/python bench/http_bench.py'

The tracker runs on a scratch database, `issuetracker_bench_http_<random>`, made for the
run and dropped after it (a name of its own, so that two runs at once do not collide).
Every workload step is the same for both servers: 20 users, 300 issues, a 20,000-row CSV
import over HTTP, then wrk on each endpoint; PATCH sends each request to an issue that has
not been changed yet, so every one of them is a success. Both servers are seeded first; then
they take turns endpoint by endpoint, so that a ratio compares two measurements seconds
apart rather than minutes.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DURATION = os.environ.get("WRK_DURATION", "8s")
CONNECTIONS = os.environ.get("WRK_CONN", "16")
PROCESSES = os.environ.get("WEB_CONCURRENCY", "2")
CSV_ROWS = int(os.environ.get("CSV_ROWS", "20000"))
SERVER = "postgres://postgres@127.0.0.1:5432"


def request(base: str, method: str, path: str, body: object = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=300) as response:
        return json.loads(response.read())


def upload_csv(base: str, text: str, *, filename: str = "bulk.csv") -> dict:
    """POST /issues/import of `text` as a multipart upload; the answer's JSON."""
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: text/csv\r\n\r\n{text}\r\n--{boundary}--\r\n"
    ).encode()
    req = urllib.request.Request(base + "/issues/import", data=body, method="POST")
    req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    with urllib.request.urlopen(req, timeout=600) as response:
        return json.loads(response.read())


def cpu_busy(seconds: float) -> float:
    """The share of the machine's CPU time that was busy over the next `seconds`."""

    def times() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, all

    idle, total = times()
    time.sleep(seconds)
    idle_after, total_after = times()
    return 1 - (idle_after - idle) / max(total_after - total, 1)


def settle(limit: float = 60.0) -> None:
    """Wait (up to `limit` seconds) until the machine is nearly idle: a server may still be
    working off requests of the previous step that wrk gave up on (the original's list of
    every issue takes seconds each), which would otherwise be measured against the next."""
    deadline = time.monotonic() + limit
    while cpu_busy(0.5) > 0.15:
        if time.monotonic() > deadline:
            print(f"warning: the machine is still busy after {limit:.0f} s; measuring anyway")
            return


def wrk(base: str, path: str, script: str | None = None) -> dict:
    settle()
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency"]
    if script:
        command += ["-s", script]
    out = subprocess.run([*command, base + path], capture_output=True, text=True).stdout

    def millis(percent: str) -> float:
        found = re.search(rf"{percent}%\s+([\d.]+)(us|ms|s)\b", out)
        if not found:
            return float("nan")
        return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50": millis("50"),
        "p99": millis("99"),
        "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def lua(text: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(text)
    return handle.name


def post_script(body: dict) -> str:
    return lua(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )


def patch_script(first_id: int, count: int) -> str:
    """Each request retitles the next issue of [first_id, first_id + count) that no other
    request has touched, with version 1: every PATCH is a success that writes."""
    return lua(
        f"""
local first, count, threads = {first_id}, {count}, 0
function setup(thread) thread:set("offset", threads) threads = threads + 1 end
local n = 0
function request()
  local id = first + (offset + n * 2) % count
  n = n + 1
  return wrk.format("PATCH", "/issues/" .. id,
    {{["Content-Type"] = "application/json"}}, '{{"title": "patched by wrk", "version": 1}}')
end
"""
    )


Step = tuple[str, str | None]  # a path and the wrk script that makes its requests


def prepare(base: str) -> tuple[dict[str, dict], dict[str, Step]]:
    """The same seeding against any server speaking the contract at `base`: the CSV import's
    figure, and the wrk step of each endpoint with this server's ids."""
    rng = random.Random(7)
    users = [request(base, "POST", "/users", {"name": f"u{n}"})["id"] for n in range(20)]
    ids = [
        request(base, "POST", "/issues", {"title": f"seed {n}", "assignee_id": rng.choice(users)})[
            "id"
        ]
        for n in range(300)
    ]
    rows = [
        f"imported {n},{rng.choice(users)},{rng.choice(['open', 'closed'])}"
        for n in range(CSV_ROWS)
    ]
    started = time.perf_counter()
    summary = upload_csv(base, "title,assignee_id,status\n" + "\n".join(rows) + "\n")
    elapsed = time.perf_counter() - started
    assert summary["created"] == CSV_ROWS, summary
    first_imported = max(ids) + 1
    target = ids[len(ids) // 2]
    results = {"csv_import": {"rps": CSV_ROWS / elapsed, "unit": "rows/s"}}
    steps: dict[str, Step] = {
        "GET /issues/{id}": (f"/issues/{target}", None),
        "GET /issues?per_page=100": ("/issues?per_page=100", None),
        "GET /users": ("/users", None),
        "POST /issues": ("/issues", post_script({"title": "wrk issue", "assignee_id": users[0]})),
        "PATCH /issues/{id}": ("/issues/0", patch_script(first_imported, CSV_ROWS)),
        "POST /issues/{id}/comments": (
            f"/issues/{target}/comments",
            post_script({"body": "wrk comment", "author_id": users[1]}),
        ),
        "GET /reports/top-assignees": ("/reports/top-assignees", None),
        "GET /reports/latency": ("/reports/latency", None),
    }
    return results, steps


def measure(servers: dict[str, str]) -> dict[str, dict[str, dict]]:
    """Each server's figures (by its name in `servers`, name -> base URL). With several,
    they take turns on each endpoint, the first going first on one endpoint and last on the
    next: the machine's slow and fast spells then fall on both sides alike, rather than on
    whichever ran its whole workload in them."""
    results, steps = {}, {}
    for name, base in servers.items():
        results[name], steps[name] = prepare(base)
    order = list(servers)
    for n, endpoint in enumerate(steps[order[0]]):
        for name in order if n % 2 == 0 else reversed(order):
            path, script = steps[name][endpoint]
            results[name][endpoint] = wrk(servers[name], path, script)
    return results


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_tracker(port: int, database: str) -> subprocess.Popen:
    """`make serve`, as a user runs it, on a scratch database."""
    env = dict(
        os.environ,
        DATABASE_URL=f"{SERVER}/{database}",
        DJANGO_SECRET_KEY="bench-only-key",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY=PROCESSES,
        LOG_LEVEL="WARNING",
    )
    log = open(ROOT / "bench" / "out" / "http-server.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        ["make", "--no-print-directory", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"make serve stopped; see {log.name}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/users", timeout=1)
            return server
        except OSError:
            time.sleep(0.3)
    stop(server)
    sys.exit("the server did not answer within 120 s")


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def psql(sql: str) -> None:
    subprocess.run(["psql", f"{SERVER}/postgres", "-qc", sql], check=True, capture_output=True)


def show(results: dict[str, dict], peer: dict[str, dict] | None) -> None:
    print(f"\nwrk -t2 -c{CONNECTIONS} -d{DURATION}; {PROCESSES} server processes each")
    header = f"{'endpoint':<28} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'non2xx':>6}"
    if peer:
        header += f" | {'peer req/s':>10} {'p99 ms':>7} {'non2xx':>6} | {'ratio':>5}"
    print(header)
    for name, row in results.items():
        if "unit" in row:
            line = (
                f"{name + ' (' + row['unit'] + ')':<28} {row['rps']:8.0f} {'':>7} {'':>7} {'':>6}"
            )
        else:
            line = (
                f"{name:<28} {row['rps']:8.0f} {row['p50']:7.1f} {row['p99']:7.1f}"
                f" {row['non2xx']:6d}"
            )
        if peer:
            other = peer[name]
            ratio = row["rps"] / other["rps"] if other["rps"] else float("inf")
            if "unit" in other:
                line += f" | {other['rps']:10.0f} {'':>7} {'':>6} | {ratio:5.2f}"
            else:
                line += (
                    f" | {other['rps']:10.0f} {other['p99']:7.1f} {other['non2xx']:6d}"
                    f" | {ratio:5.2f}"
                )
        print(line)


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `apt-get install wrk` (Debian's package), then again.")
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    database = f"issuetracker_bench_http_{uuid.uuid4().hex[:10]}"
    psql(f"CREATE DATABASE {database}")
    port = free_port()
    server = start_tracker(port, database)
    servers = {"tracker": f"http://127.0.0.1:{port}"}
    peer_url = os.environ.get("PEER_URL")
    if peer_url:
        servers["peer"] = peer_url.rstrip("/")
    try:
        measured = measure(servers)
    finally:
        stop(server)
        psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    results, peer = measured["tracker"], measured.get("peer")
    show(results, peer)


if __name__ == "__main__":
    main()

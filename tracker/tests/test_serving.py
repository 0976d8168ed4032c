"""issuetracker/serving.py: the bridge `make serve` runs Django behind. With fake ASGI
servers for the corner cases, and once with the real server and clients that trickle."""

from __future__ import annotations

import asyncio
import errno
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from issuetracker import serving
from issuetracker.serving import ClientGone, DiskBudget, Spool, WSGIBridge

ROOT = Path(__file__).resolve().parents[2]


def echo_app(environ, start_response):
    body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"] or 0))
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Path", environ["PATH_INFO"])])
    return [b"got ", body, b" ", environ["QUERY_STRING"].encode()]


def call(
    bridge,
    scope,
    chunks: list[bytes],
    *,
    disconnect_after: int | None = None,
    stall_after: int | None = None,
):
    """Run one request through the bridge: the body in `chunks`; the fake client goes away
    after `disconnect_after` messages were sent to it, or accepts nothing more after
    `stall_after`."""
    sent: list[dict] = []

    async def run():
        queue = [
            {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1}
            for n, chunk in enumerate(chunks)
        ]

        async def receive():
            if queue:
                await asyncio.sleep(0.01)  # a client sending slowly
                return queue.pop(0)
            await asyncio.sleep(3600)

        async def send(message):
            if disconnect_after is not None and len(sent) >= disconnect_after:
                raise ConnectionResetError("client went away")
            if stall_after is not None and len(sent) >= stall_after:
                await asyncio.sleep(60)  # longer than call() waits
            sent.append(message)

        await bridge({"type": "http", **scope}, receive, send)

    # In a thread of its own: the browser tests leave an event loop running in this one. A
    # bridge that hangs fails the test instead of holding the run.
    pool = ThreadPoolExecutor(1)
    try:
        pool.submit(asyncio.run, run()).result(timeout=30)
    finally:
        pool.shutdown(wait=False)
    return sent


SCOPE = {
    "method": "POST",
    "path": "/issues/ü",
    "query_string": b"a=1",
    "headers": [(b"content-type", b"text/plain"), (b"x-one", b"1"), (b"x-one", b"2")],
    "http_version": "1.1",
    "scheme": "http",
    "server": ("127.0.0.1", 8000),
    "client": ("127.0.0.1", 5000),
}


def test_the_body_arrives_whole_before_the_app_runs():
    bridge = WSGIBridge(echo_app, threads=2, max_bytes=1000)
    start, *body = call(bridge, SCOPE, [b"one ", b"two ", b"three"])
    assert start["status"] == 200
    # PATH_INFO is the UTF-8 path read as latin-1 (PEP 3333), and it went back out as such.
    assert (b"x-path", "/issues/ü".encode()) in start["headers"]
    assert b"".join(message["body"] for message in body) == b"got one two three a=1"
    assert body[-1]["more_body"] is False


def test_a_body_over_the_limit_is_a_413_without_running_the_app():
    ran = []

    def app(environ, start_response):
        ran.append(True)
        return echo_app(environ, start_response)

    bridge = WSGIBridge(app, threads=1, max_bytes=5)
    sent = call(bridge, SCOPE, [b"1234", b"5678"])
    assert sent[0]["status"] == 413
    assert b"request_too_large" in sent[1]["body"]
    assert ran == []


@pytest.mark.parametrize("apart", [True, False], ids=["long requests apart", "one pool"])
def test_ordinary_requests_do_not_wait_behind_long_ones(apart):
    """With every thread for long requests busy, an ordinary request is answered at once; in
    one pool (no long requests named) it waits for them. Shutting down waits for both."""
    running, release = threading.Semaphore(0), threading.Event()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/issues/export":
            running.release()
            release.wait(10)
        return echo_app(environ, start_response)

    bridge = WSGIBridge(
        app,
        threads=2,
        max_bytes=1000,
        long_requests=[("GET", "/issues/export")] if apart else [],
        long_threads=2,
    )

    async def request(path: str) -> list[dict]:
        sent: list[dict] = []

        async def receive():
            if not sent:
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.sleep(3600)

        async def send(message):
            sent.append(message)

        await bridge({"type": "http", **SCOPE, "method": "GET", "path": path}, receive, send)
        return sent

    async def shut_down() -> list[str]:
        told = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        answers: list[str] = []

        async def receive():
            return told.pop(0)

        async def send(message):
            answers.append(message["type"])

        await bridge({"type": "lifespan"}, receive, send)
        return answers

    async def scenario() -> tuple[list[dict] | None, list[bool]]:
        exports = [asyncio.ensure_future(request("/issues/export")) for _ in range(2)]
        for _ in range(2):
            assert await asyncio.to_thread(running.acquire, timeout=10), "an export never ran"
        try:
            ordinary = await asyncio.wait_for(request("/users"), 2)
        except TimeoutError:
            ordinary = None
        waiting = [export.done() for export in exports]
        release.set()
        for sent in await asyncio.gather(*exports):
            assert sent[0]["status"] == 200
        assert await shut_down() == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        return ordinary, waiting

    ordinary, exports_done = in_own_thread(scenario())
    assert exports_done == [False, False]
    if apart:
        assert ordinary is not None and ordinary[0]["status"] == 200
    else:
        assert ordinary is None  # still waiting for a thread after 2 s


def counting_app(chunks: int | None, closed: threading.Event, *, fail_after: int | None = None):
    """A WSGI app streaming `chunks` numbered chunks of 1,000 bytes (None: for ever;
    failing after `fail_after` of them); `closed` is set when it is closed."""

    class Counting:
        streaming = True

        def __iter__(self) -> Iterator[bytes]:
            for n in range(chunks) if chunks is not None else itertools.count():
                if n == fail_after:
                    raise RuntimeError("the answer failed halfway")
                yield f"{n:09d}\n".encode() * 100

        def close(self) -> None:
            closed.set()

    def app(environ, start_response):
        start_response("200 OK", [])
        return Counting()

    return app


def test_a_client_leaving_a_streamed_answer_frees_the_thread():
    closed = threading.Event()
    bridge = WSGIBridge(counting_app(None, closed), threads=1, max_bytes=1000, spool_bytes=100_000)
    sent = call(bridge, SCOPE, [b""], disconnect_after=5)
    assert len(sent) == 5
    assert closed.wait(5)
    # The one thread is free again: the next request is answered.
    assert call(WSGIBridge(echo_app, threads=1, max_bytes=10), SCOPE, [b"ok"])[0]["status"] == 200


def test_a_client_that_stops_reading_a_streamed_answer_frees_the_thread(monkeypatch):
    monkeypatch.setattr(serving, "SEND_DEADLINE", 0.2)
    closed = threading.Event()
    bridge = WSGIBridge(counting_app(None, closed), threads=1, max_bytes=1000, spool_bytes=100_000)
    started = time.monotonic()
    sent = call(bridge, SCOPE, [b""], stall_after=3)
    # The answer's start and two chunks went out; the third was never accepted.
    assert len(sent) == 3
    assert closed.wait(5)
    assert time.monotonic() - started < 5


def test_a_client_gone_stops_the_answer_even_where_sending_to_it_raises_nothing():
    """Granian tells of a closed connection through receive(); a send to it passes without
    an error. The thread must stop all the same, not make an endless answer for no one."""
    closed = threading.Event()
    bridge = WSGIBridge(counting_app(None, closed), threads=1, max_bytes=1000, spool_bytes=100_000)
    sent: list[dict] = []

    async def run():
        messages = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive():
            if messages:
                return messages.pop()
            await asyncio.sleep(0.2)
            return {"type": "http.disconnect"}

        async def send(message):
            await asyncio.sleep(0.001)
            sent.append(message)

        await bridge({"type": "http", **SCOPE}, receive, send)

    in_own_thread(run())
    assert closed.wait(5)
    assert all(message.get("more_body", True) for message in sent)
    assert bridge.disk.used == 0


def counted(chunks: int) -> bytes:
    return b"".join(f"{n:09d}\n".encode() * 100 for n in range(chunks))


@pytest.fixture
def small_spool(monkeypatch):
    """Spool sizes small enough for an answer of a few hundred kilobytes to spill to several
    files."""
    monkeypatch.setattr(serving, "MEMORY_BYTES", 20_000)
    monkeypatch.setattr(serving, "SEGMENT_BYTES", 50_000)
    monkeypatch.setattr(serving, "SEND_BYTES", 8_000)


def test_a_slow_reader_holds_no_thread_and_gets_the_whole_answer_in_order(small_spool):
    closed = threading.Event()
    bridge = WSGIBridge(counting_app(300, closed), threads=1, max_bytes=1000)
    thread_done_at: list[int] = []

    async def run():
        received: list[dict] = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            await asyncio.sleep(0.002)  # a client reading slowly
            if closed.is_set() and not thread_done_at:
                thread_done_at.append(len(received))
                # The one thread is free: another request is answered meanwhile.
                other = await asyncio.wait_for(
                    run_bridge(WSGIBridge(echo_app, threads=1, max_bytes=10)), 5
                )
                assert other[0]["status"] == 200
            received.append(message)

        await bridge({"type": "http", **SCOPE}, receive, send)
        return received

    async def run_bridge(other_bridge):
        sent: list[dict] = []

        async def receive():
            return {"type": "http.request", "body": b"ok", "more_body": False}

        async def send(message):
            sent.append(message)

        await other_bridge({"type": "http", **SCOPE}, receive, send)
        return sent

    received = in_own_thread(run())
    start, *body = received
    assert start["status"] == 200
    assert b"".join(message["body"] for message in body) == counted(300)
    assert body[-1]["more_body"] is False
    # The answer was made while the client had read only part of it...
    assert thread_done_at and thread_done_at[0] < len(received) // 2
    # ...through temporary files, each gone once sent.
    assert all(len(message["body"]) <= 8_000 for message in body)
    assert bridge.disk.used == 0


def test_a_stalled_reader_costs_disk_within_the_budget_until_the_deadline(small_spool, monkeypatch):
    monkeypatch.setattr(serving, "SEND_DEADLINE", 0.5)
    closed = threading.Event()
    bridge = WSGIBridge(counting_app(None, closed), threads=1, max_bytes=1000, spool_bytes=120_000)
    used: list[int] = []

    async def run():
        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            if message.get("body"):
                await asyncio.sleep(0.3)
                used.append(bridge.disk.used)  # the endless answer, waiting for the client
                await asyncio.sleep(60)  # then accepts nothing more

        await bridge({"type": "http", **SCOPE}, receive, send)

    started = time.monotonic()
    in_own_thread(run())
    assert closed.wait(5)
    assert time.monotonic() - started < 5
    assert 50_000 <= used[0] <= 120_000
    assert bridge.disk.used == 0


def read_slowly(bridge: WSGIBridge, sent: list[dict]) -> None:
    """A GET through `bridge` by a client taking a millisecond over each message. What it
    received is in `sent`, also when the bridge raises."""

    async def run():
        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            await asyncio.sleep(0.001)
            sent.append(message)

        await bridge({"type": "http", **SCOPE}, receive, send)

    in_own_thread(run())


def body_of(sent: list[dict]) -> bytes:
    return b"".join(message.get("body", b"") for message in sent)


def test_an_answer_failing_halfway_stops_short_of_its_end_and_the_error_is_raised(
    small_spool,
):
    closed = threading.Event()
    bridge = WSGIBridge(counting_app(100, closed, fail_after=60), threads=1, max_bytes=1000)
    sent: list[dict] = []
    with pytest.raises(RuntimeError, match="failed halfway"):
        read_slowly(bridge, sent)
    assert body_of(sent) == counted(60)
    assert all(message.get("more_body", True) for message in sent)
    assert closed.is_set()
    assert bridge.disk.used == 0


def test_spool_files_are_whole_however_short_the_system_writes(small_spool, monkeypatch):
    write = os.pwrite
    monkeypatch.setattr(os, "pwrite", lambda fd, data, offset: write(fd, data[:333], offset))
    bridge = WSGIBridge(counting_app(200, threading.Event()), threads=1, max_bytes=1000)
    sent: list[dict] = []
    read_slowly(bridge, sent)
    assert body_of(sent) == counted(200)
    assert sent[-1]["more_body"] is False
    assert bridge.disk.used == 0


def test_a_full_disk_ends_the_answer_short_and_gives_its_budget_back(small_spool, monkeypatch):
    write = os.pwrite
    writes = []

    def pwrite(fd, data, offset):
        writes.append(offset)
        if len(writes) == 20:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    closed = threading.Event()
    bridge = WSGIBridge(counting_app(300, closed), threads=1, max_bytes=1000)
    sent: list[dict] = []
    with pytest.raises(OSError, match="No space"):
        read_slowly(bridge, sent)
    assert counted(300).startswith(body_of(sent))
    assert all(message.get("more_body", True) for message in sent)
    assert closed.is_set()
    assert bridge.disk.used == 0


def test_a_made_answer_is_sent_whole_even_if_closing_it_fails(small_spool, caplog):
    app = counting_app(50, threading.Event())

    def failing_close(environ, start_response):
        answer = app(environ, start_response)
        answer.close = lambda: 1 / 0
        return answer

    sent: list[dict] = []
    read_slowly(WSGIBridge(failing_close, threads=1, max_bytes=1000), sent)
    assert body_of(sent) == counted(50)
    assert sent[-1]["more_body"] is False
    assert "Closing a streamed answer failed" in caplog.text


def test_room_another_answer_frees_on_disk_goes_to_a_thread_waiting_for_it(small_spool):
    """Two answers share the budget: one fills it, and the other's thread waits until the
    first one's client goes away, not until its own client reads."""
    loop = asyncio.new_event_loop()
    budget = DiskBudget(60_000)
    hog, waiting = Spool(loop, budget), Spool(loop, budget)
    for _ in range(80):  # 20,000 bytes in memory, then 60,000 on disk: the whole budget
        hog.put(b"x" * 1000)
    assert budget.used == 60_000

    def fill() -> None:
        for _ in range(21):  # the last one needs the disk
            waiting.put(b"y" * 1000)

    thread = threading.Thread(target=fill)
    thread.start()
    try:
        thread.join(0.5)
        assert thread.is_alive()  # its memory is full, and the disk too
        hog._close()  # as when its client goes away
        thread.join(2)
        assert not thread.is_alive()
        assert budget.used == 1000
    finally:
        waiting._close()
        thread.join(2)
        loop.close()
    assert budget.used == 0


def test_a_client_leaving_during_a_failing_write_leaves_no_file_and_no_budget_taken(
    small_spool, monkeypatch
):
    loop = asyncio.new_event_loop()
    budget = DiskBudget(1_000_000)
    spool = Spool(loop, budget)
    for _ in range(21):  # 20,000 bytes in memory, then a file
        spool.put(b"x" * 1000)
    writing, go_on = threading.Event(), threading.Event()

    def failing_write(fd, data, offset):
        writing.set()
        go_on.wait(5)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", failing_write)
    raised: list[BaseException] = []

    def put() -> None:
        try:
            spool.put(b"y" * 1000)
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=put)
    thread.start()
    assert writing.wait(5)
    spool._close()  # as when the client goes away, while the thread writes
    go_on.set()
    thread.join(5)
    loop.close()
    assert [type(exc) for exc in raised] == [ClientGone]
    assert budget.used == 0


def in_own_thread(coroutine):
    """Run `coroutine` to its end in a thread and event loop of its own (see call())."""
    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(asyncio.run, coroutine).result(timeout=30)
    finally:
        pool.shutdown(wait=False)


# --- The real server.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving_process(**environ: str | None) -> Iterator[tuple[str, subprocess.Popen]]:
    """`make serve`'s server command on the test database (one worker, two threads), in a
    session of its own, at the test run's priority unless `WEB_NICE` is given (None: the
    server's default): its address and its process. `environ` adds to the environment."""
    port = free_port()
    database = settings.DATABASES["default"]
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
        f"{database['NAME']}",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="test-only",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        WEB_THREADS="2",
        WEB_NICE="0",  # timed tests do not wait behind the database and the other tests
    )
    for name, value in environ.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1"),
            *("--port", str(port), "--workers", "1", "--loop", "uvloop", "--no-ws"),
            "issuetracker.serving:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/users", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield base, server
    finally:
        server.terminate()
        server.wait(20)


@pytest.fixture
def served(transactional_db) -> Iterator[str]:
    with serving_process() as (base, _):
        yield base


def children(parent: int) -> list[int]:
    """The processes whose parent is `parent` (their ids)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("nice", [None, "3", "0"])
def test_the_server_yields_the_cpu_to_the_database(transactional_db, nice):
    """Every thread of the worker, and its session's autogroup where the kernel has them,
    runs at WEB_NICE (10 unless set): the database on the machine gets the CPU first."""
    expected = max(int(nice or 10), os.getpriority(os.PRIO_PROCESS, 0))  # it inherits ours
    with serving_process(WEB_NICE=nice) as (base, server):
        assert urllib.request.urlopen(base + "/users", timeout=5).status == 200
        workers = children(server.pid)
        assert workers
        for worker in workers:
            threads = [int(task.name) for task in Path(f"/proc/{worker}/task").iterdir()]
            assert {os.getpriority(os.PRIO_PROCESS, thread) for thread in threads} == {expected}
            autogroup = Path(f"/proc/{worker}/autogroup")
            if autogroup.exists():  # a kernel with autogroups (CONFIG_SCHED_AUTOGROUP)
                assert autogroup.read_text().split()[-1] == str(int(nice or 10))


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="a kernel without autogroups")
def test_an_autogroup_already_nicer_stays_so():
    """In a session of its own: the niceness written first stays when the server asks for
    less (a process started under `nice -n 15` keeps 15, and so does its group)."""
    code = (
        "from issuetracker.serving import _nicer_autogroup\n"
        "_nicer_autogroup(15)\n"
        "_nicer_autogroup(10)\n"
        "print(open('/proc/self/autogroup').read().split()[-1])\n"
    )
    env = dict(os.environ, DJANGO_DEBUG="true")
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
    )
    assert done.stdout.strip() == "15", done.stderr


def test_clients_trickling_bodies_do_not_hold_the_threads(served):
    port = int(served.rsplit(":", 1)[1])
    # Ten times as many slow bodies as the server has threads, each stopping halfway.
    slow = []
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(
            b"POST /issues HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"title": "'
        )
        slow.append(sock)
    try:
        with urllib.request.urlopen(served + "/users", timeout=10) as response:
            assert response.status == 200
        request = urllib.request.Request(
            served + "/issues",
            data=b'{"title": "answered while others trickle"}',
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
    finally:
        for sock in slow:
            sock.close()


def test_clients_not_reading_the_export_do_not_hold_the_threads(served):
    """As many clients as the server has threads ask for an export of about 12 MB, far more
    than the sockets' buffers hold, and read none of it: the exports are made all the same,
    and the threads are free for the next requests long before the clients would count as
    gone (SEND_DEADLINE)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO issues (title, description, status, priority, version, created_at,"
            " updated_at) SELECT 'Filler ' || g, repeat('words ', 40), 'open', 'none', 1,"
            " now(), now() FROM generate_series(1, 40000) g"
        )
        cursor.execute(
            "INSERT INTO issue_events (issue_id, event, version, created_at, details, source)"
            " SELECT id, 'issue_created', 1, now(), '{}', 'api' FROM issues"
        )
    port = int(served.rsplit(":", 1)[1])
    stalled = []
    for _ in range(2):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /issues/export HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        stalled.append(sock)
    try:
        time.sleep(0.5)  # the exports start first
        with urllib.request.urlopen(served + "/users", timeout=15) as response:
            assert response.status == 200
    finally:
        for sock in stalled:
            sock.close()


def test_the_environ_joins_cookie_fields_as_one_cookie_and_strips_the_root_path():
    seen: dict = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("204 No Content", [])
        return []

    scope = {
        **SCOPE,
        "root_path": "/tracker",
        "path": "/tracker/issues/1",
        "headers": [(b"cookie", b"sessionid=abc"), (b"cookie", b"csrftoken=xyz")],
    }
    call(WSGIBridge(app, threads=1, max_bytes=10), scope, [b""])
    assert seen["HTTP_COOKIE"] == "sessionid=abc; csrftoken=xyz"
    assert (seen["SCRIPT_NAME"], seen["PATH_INFO"]) == ("/tracker", "/issues/1")

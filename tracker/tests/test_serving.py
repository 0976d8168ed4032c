"""issuetracker/serving.py: the bridge `make serve` runs Django behind. With fake ASGI
servers for the corner cases, and once with the real server and clients that trickle."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings

from issuetracker import serving
from issuetracker.serving import WSGIBridge

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


def endless_app(closed: threading.Event):
    """A WSGI app streaming an answer that never ends; `closed` is set when it is closed."""

    class Endless:
        streaming = True

        def __iter__(self) -> Iterator[bytes]:
            while True:
                yield b"x" * 1000

        def close(self) -> None:
            closed.set()

    def app(environ, start_response):
        start_response("200 OK", [])
        return Endless()

    return app


def test_a_client_leaving_a_streamed_answer_frees_the_thread():
    closed = threading.Event()
    bridge = WSGIBridge(endless_app(closed), threads=1, max_bytes=1000)
    sent = call(bridge, SCOPE, [b""], disconnect_after=5)
    assert len(sent) == 5
    assert closed.wait(5)
    # The one thread is free again: the next request is answered.
    assert call(WSGIBridge(echo_app, threads=1, max_bytes=10), SCOPE, [b"ok"])[0]["status"] == 200


def test_a_client_that_stops_reading_a_streamed_answer_frees_the_thread(monkeypatch):
    monkeypatch.setattr(serving, "SEND_DEADLINE", 0.2)
    closed = threading.Event()
    bridge = WSGIBridge(endless_app(closed), threads=1, max_bytes=1000)
    started = time.monotonic()
    sent = call(bridge, SCOPE, [b""], stall_after=3)
    # The answer's start and two chunks went out; the third was never accepted.
    assert len(sent) == 3
    assert closed.wait(5)
    assert time.monotonic() - started < 5


# --- The real server.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(transactional_db) -> Iterator[str]:
    """`make serve`'s server command on the test database (one worker, two threads)."""
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
    )
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
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/users", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(20)


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

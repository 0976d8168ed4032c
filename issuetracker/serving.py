"""The application `make serve` runs: Django's WSGI app behind an asynchronous front, so
that no slow client can hold a Python thread.

Granian (the server, in Rust) reads request headers asynchronously. `WSGIBridge` then
reads the whole request body asynchronously too (in memory, or a temporary file past
1 MB), and only then hands the request to Django in a fixed pool of threads. A thread
therefore only ever works on a request that has fully arrived, and keeps its database
connection from one request to the next (CONN_MAX_AGE), which Django's own ASGI handler
does not (it makes a new thread, so a new connection, per request). Nothing cuts a request
off while it runs: a long import finishes however long it takes. A client that goes away
while its answer is being sent stops the answer (a streamed one included) and frees the
thread at once; so does one that accepts nothing of a streamed answer for SEND_DEADLINE
seconds (a stalled reader would otherwise hold the thread making the answer for good).

    granian --interface asgi --loop uvloop --no-ws issuetracker.serving:application

Written here rather than taken from an ASGI-to-WSGI library: the ones available read the
body from within the worker thread (so a slow body holds it) and can leave a thread or a
task waiting forever when the client disconnects mid-answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MEMORY_BYTES = 1024 * 1024
# How long a client may take to accept one chunk of a streamed answer before it counts as
# gone: the thread making the answer waits that long at most.
SEND_DEADLINE = 30.0


class ClientGone(Exception):
    """The client closed the connection before its answer was sent."""


class WSGIBridge:
    """ASGI application running the WSGI `app` in `threads` threads, each request only once
    its body has fully arrived. A body longer than `max_bytes` is answered 413 at once."""

    def __init__(self, app: WSGIApp, *, threads: int, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="web")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # Let the requests in flight finish; the loop keeps running meanwhile, since
                # their threads need it to send their answers.
                await asyncio.get_running_loop().run_in_executor(None, self.pool.shutdown)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = tempfile.SpooledTemporaryFile(max_size=MEMORY_BYTES)  # noqa: SIM115
        try:
            size = 0
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_bytes:
                    await _too_large(send)
                    return
                body.write(chunk)
                more = message.get("more_body", False)
            body.seek(0)
            environ = _environ(scope, body, size)
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(self.pool, self._respond, environ, loop, send)
            # An answer already whole in memory comes back to be sent from here: one hop
            # between the threads instead of one per message.
            for message in answer:
                await send(message)
        finally:
            body.close()

    def _respond(
        self, environ: dict[str, Any], loop: asyncio.AbstractEventLoop, send: Send
    ) -> list[Message]:
        """Run the WSGI app in this pool thread. An answer whose body is already in memory
        (Django's non-streaming responses) is returned whole, for the loop to send; a
        streamed one is sent from here chunk by chunk, each sent before the next is made
        (a slow reader slows the answer, it is not queued), and nothing is returned."""
        start: list[Message] = []

        def emit(*messages: Message) -> None:
            async def sending() -> None:
                for message in messages:
                    await send(message)

            sent = asyncio.run_coroutine_threadsafe(sending(), loop)
            try:
                sent.result(timeout=SEND_DEADLINE)
            except concurrent.futures.TimeoutError as exc:
                sent.cancel()
                raise ClientGone() from exc
            except Exception as exc:  # the transport's own error for a closed connection
                raise ClientGone() from exc

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            start[:] = [
                {
                    "type": "http.response.start",
                    "status": int(status.split(" ", 1)[0]),
                    "headers": [
                        (name.lower().encode("latin-1"), value.encode("latin-1"))
                        for name, value in headers
                    ],
                }
            ]
            return lambda data: emit(*start_once(), _body(data, more=True))

        def start_once() -> list[Message]:
            pending, start[:] = list(start), []
            return pending

        iterable = self.app(environ, start_response)
        try:
            if getattr(iterable, "streaming", True) is False:
                return [*start_once(), _body(b"".join(iterable), more=False)]
            for chunk in iterable:
                if chunk:
                    emit(*start_once(), _body(chunk, more=True))
            emit(*start_once(), _body(b"", more=False))
        except ClientGone:
            pass
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        return []


def _body(data: bytes, *, more: bool) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


def _environ(scope: Scope, body: IO[bytes], length: int) -> dict[str, Any]:
    """The WSGI environ (PEP 3333) of an ASGI HTTP request whose body is `body`."""
    # ASGI's path includes root_path; WSGI's PATH_INFO is what follows SCRIPT_NAME.
    root_path = scope.get("root_path", "")
    path = scope["path"]
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    server = scope.get("server") or ("127.0.0.1", 80)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": root_path.encode("utf-8").decode("latin-1"),
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": str(client[1]),
        "CONTENT_LENGTH": str(length),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
            continue
        if name == "CONTENT_LENGTH":
            continue  # the length of what arrived, above
        key = f"HTTP_{name}"
        # Several Cookie fields (HTTP/2 sends one per cookie) are one cookie string.
        joiner = "; " if name == "COOKIE" else ","
        environ[key] = f"{environ[key]}{joiner}{value}" if key in environ else value
    return environ


async def _too_large(send: Send) -> None:
    payload = b'{"detail": "Request body too large", "code": "request_too_large"}'
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send(_body(payload, more=False))


def _application() -> WSGIBridge:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "issuetracker.settings")
    from django.conf import settings
    from django.urls import get_resolver

    from issuetracker.wsgi import application as wsgi_application

    # Import every view now (Django does on the first request), then set all that is loaded
    # aside from the garbage collector: its full collections otherwise walk these hundreds
    # of thousands of long-lived objects each time, a pause of 100-200 ms (p99) per
    # collection under load; with them frozen a full collection takes about a millisecond.
    get_resolver().url_patterns  # noqa: B018
    gc.collect()
    gc.freeze()

    # Uploads are stopped by their own handler at TRACKER_IMPORT_MAX_BYTES and JSON bodies
    # by the parser; the bridge only refuses what no request may be: well over both.
    limit = max(settings.TRACKER_IMPORT_MAX_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)
    return WSGIBridge(
        wsgi_application,
        threads=int(os.environ.get("WEB_THREADS", "2")),
        max_bytes=limit + 1024 * 1024,
    )


application = _application()

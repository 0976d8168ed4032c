"""The application `make serve` runs: Django's WSGI app behind an asynchronous front, so
that no slow client can hold a Python thread.

Granian (the server, in Rust) reads request headers asynchronously. `WSGIBridge` then
reads the whole request body asynchronously too (in memory, or a temporary file past
1 MB), and only then hands the request to Django in a fixed pool of threads. A thread
therefore only ever works on a request that has fully arrived, and keeps its database
connection from one request to the next (CONN_MAX_AGE), which Django's own ASGI handler
does not (it makes a new thread, so a new connection, per request). Nothing cuts a request
off while it runs: a long import finishes however long it takes. The requests that may take
seconds of work (exports, imports, bulk changes: views marked `@long_request`) run in
threads of their own, so that ordinary requests never wait in line behind them.

A streamed answer (the CSV export) goes through a `Spool`: the thread writes it at its own
pace and the event loop sends it at the client's, so a slow reader holds no thread either.
The spool keeps MEMORY_BYTES of an answer in memory and the rest in temporary files, each
deleted once sent, within a disk budget shared by the process's answers (`WEB_SPOOL_BYTES`).
Only when both are full does the thread wait for its client. A client that goes away, or
accepts nothing for SEND_DEADLINE seconds, ends its answer (short of its end) and the work
making it.

    granian --interface asgi --loop uvloop --no-ws issuetracker.serving:application

Written here rather than taken from an ASGI-to-WSGI library: the ones available read the
body from within the worker thread (so a slow body holds it) and can leave a thread or a
task waiting forever when the client disconnects mid-answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import gc
import logging
import os
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

logger = logging.getLogger(__name__)

MEMORY_BYTES = 1024 * 1024
# A streamed answer's temporary files hold this much each, and the loop sends at most
# SEND_BYTES in one message.
SEGMENT_BYTES = 8 * 1024 * 1024
SEND_BYTES = 64 * 1024
# How long a client may take to accept one chunk of a streamed answer before it counts as
# gone.
SEND_DEADLINE = 30.0


class ClientGone(Exception):
    """The client closed the connection before its answer was sent."""


class DiskBudget:
    """The bytes that the streamed answers of a process may keep in temporary files."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        with self._lock:
            if self.used + size > self.limit:
                return False
            self.used += size
            return True

    def give_back(self, size: int) -> None:
        with self._lock:
            self.used -= size


class _Segment:
    """A temporary file of an answer's chunks: written at its end, read from its start."""

    __slots__ = ("file", "read", "writing", "written")

    def __init__(self) -> None:
        # Unnamed (on Linux): nothing is left behind, even by a process that is killed.
        self.file = tempfile.TemporaryFile()  # noqa: SIM115
        self.written = 0
        self.read = 0
        self.writing = False  # the thread is writing past `written`, outside the lock

    def write(self, data: bytes) -> None:
        """Write `data` past `written` (which the caller then moves), however many calls the
        system takes for it."""
        done = 0
        while done < len(data):
            done += os.pwrite(self.file.fileno(), memoryview(data)[done:], self.written + done)


class Spool:
    """A streamed answer on its way from the thread making it (`put`, then `finish`) to the
    event loop sending it (`drain`). Its chunks wait in memory up to MEMORY_BYTES, then in
    temporary files within `budget`, for as long as the client takes; the thread waits
    only when both are full. Once the answer spills to disk, it stays on disk until the
    client has caught up: its files are few, and each is deleted as soon as it is sent.
    The thread writes the files outside the lock, so a slow disk never holds up the loop;
    the loop reads what was written a moment ago, which the page cache still holds."""

    def __init__(self, loop: asyncio.AbstractEventLoop, budget: DiskBudget) -> None:
        self._loop = loop
        self._budget = budget
        self._changed = threading.Condition()  # guards everything below
        self._items: deque[bytes | _Segment] = deque()
        self._memory = 0
        self._segments = 0
        self._finished = False
        self._error: BaseException | None = None  # the thread's, raised after what it made
        self._gone = False  # the client went away: nothing more is wanted
        self._loop_waits = False
        self._arrived = asyncio.Event()

    # The thread's side.

    def put(self, chunk: bytes) -> None:
        """Queue `chunk`, waiting while memory and disk are both full. Raises ClientGone once
        the client is gone."""
        with self._changed:
            while True:
                if self._gone:
                    raise ClientGone()
                if not self._segments and (
                    not self._memory or self._memory + len(chunk) <= MEMORY_BYTES
                ):
                    self._items.append(chunk)
                    self._memory += len(chunk)
                    self._wake_loop()
                    return
                if self._budget.take(len(chunk)):
                    break
                # Room comes from this answer's client, or from another answer's: the budget
                # is the process's, so look again now and then.
                self._changed.wait(timeout=0.1)
            tail = self._items[-1] if self._items else None
            if isinstance(tail, _Segment) and tail.written < SEGMENT_BYTES:
                segment: _Segment | None = tail
                tail.writing = True
            else:
                segment = None
        try:
            if segment is None:
                segment = _Segment()
                segment.writing = True
                with self._changed:
                    self._items.append(segment)
                    self._segments += 1
            segment.write(chunk)
        except BaseException:
            self._budget.give_back(len(chunk))
            self._wrote(segment, 0)
            raise
        self._wrote(segment, len(chunk))

    def _wrote(self, segment: _Segment | None, size: int) -> None:
        """After the thread's write of `size` bytes to `segment` (0: it failed)."""
        with self._changed:
            if segment is not None:
                segment.writing = False
                segment.written += size
            if self._gone:  # the client left during the write: what _close left goes now
                self._release()
                raise ClientGone()
            self._wake_loop()

    def finish(self, error: BaseException | None = None) -> None:
        """The answer is complete, or failed with `error` after what was put."""
        with self._changed:
            self._finished = True
            self._error = error
            self._wake_loop()

    def _wake_loop(self) -> None:
        if self._loop_waits:
            self._loop_waits = False
            self._loop.call_soon_threadsafe(self._arrived.set)

    # The loop's side.

    async def drain(self, send: Send, receive: Receive, start: list[Message]) -> None:
        """Send `start`, the chunks as they come and the answer's end. A client that goes
        away or accepts nothing for SEND_DEADLINE seconds ends it short of its end; so does
        the thread's failure, which is then raised here."""
        watching = asyncio.ensure_future(self._watch(receive))
        try:
            for message in start:
                await _send_within_deadline(send, message)
            while (data := await self._next()) is not None:
                await _send_within_deadline(send, _body(data, more=True))
            await _send_within_deadline(send, _body(b"", more=False))
        except ClientGone:
            pass
        finally:
            watching.cancel()
            self._close()

    async def _watch(self, receive: Receive) -> None:
        """Stop the answer as soon as its client goes away: the server says so through
        `receive`, where a send to a closed connection may pass without an error (granian
        logs it), and the thread would make the whole answer for no one."""
        if (await receive())["type"] != "http.disconnect":
            return  # a server that has nothing more to say: sends alone will tell
        with self._changed:
            self._gone = True
            self._changed.notify_all()
        self._arrived.set()

    async def _next(self) -> bytes | None:
        """The next SEND_BYTES at most of the answer, waiting for them; None at its end."""
        while True:
            with self._changed:
                if self._gone:
                    raise ClientGone()
                head = self._items[0] if self._items else None
                if isinstance(head, bytes):
                    return self._take_memory()
                if head is not None and head.read < head.written:
                    segment, offset = head, head.read
                    size = min(head.written - offset, SEND_BYTES)
                    break
                if head is not None and not head.writing:
                    self._drop_first()  # all sent, and the thread writes to it no more
                    continue
                if head is None and self._finished:
                    if self._error is not None:
                        raise self._error
                    return None
                self._loop_waits = True
                self._arrived.clear()
            await self._arrived.wait()
        # Outside the lock: the thread only ever writes past `written`.
        data = os.pread(segment.file.fileno(), size, offset)
        if len(data) != size:
            raise OSError(f"a spool file gave {len(data)} bytes of {size}")
        with self._changed:
            segment.read += len(data)
            if segment.read == segment.written and not segment.writing:
                # All of it is sent: gone, even if it is the file the thread writes to,
                # which then starts a new one or, the client having caught up, memory again.
                self._drop_first()
        return data

    def _take_memory(self) -> bytes:
        taken: list[bytes] = []
        size = 0
        while self._items and isinstance(self._items[0], bytes) and size < SEND_BYTES:
            chunk = self._items.popleft()
            assert isinstance(chunk, bytes)
            taken.append(chunk)
            size += len(chunk)
        self._memory -= size
        self._changed.notify()
        return b"".join(taken)

    def _drop_first(self) -> None:
        segment = self._items.popleft()
        assert isinstance(segment, _Segment)
        self._segments -= 1
        segment.file.close()
        self._budget.give_back(segment.written)
        self._changed.notify()

    def _close(self) -> None:
        """Free what is left and tell the thread, if it is still making the answer, that no
        more is wanted."""
        with self._changed:
            self._gone = True
            self._release()
            self._changed.notify_all()

    def _release(self) -> None:
        """Free what is left, except a file the thread is writing (it frees that itself)."""
        while self._items:
            head = self._items[0]
            if isinstance(head, _Segment):
                if head.writing:
                    break
                self._drop_first()
            else:
                self._items.popleft()
        self._memory = 0


async def _send_within_deadline(send: Send, message: Message) -> None:
    try:
        await asyncio.wait_for(send(message), SEND_DEADLINE)
    except Exception as exc:  # the deadline, or the transport's error for a closed connection
        raise ClientGone() from exc


class WSGIBridge:
    """ASGI application running the WSGI `app` in `threads` threads, each request only once
    its body has fully arrived. A body longer than `max_bytes` is answered 413 at once.
    Streamed answers may keep `spool_bytes` in temporary files between them.

    The requests of `long_requests` (method and PATH_INFO, exactly) run in `long_threads`
    threads of their own: the pool is first come, first served, and a few exports would
    otherwise hold every thread for seconds while the requests behind them wait.

    At startup (the lifespan's) the process yields the CPU to the database by `nice`
    (`yield_to_database`)."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        threads: int,
        max_bytes: int,
        spool_bytes: int = 1 << 30,
        long_requests: Iterable[tuple[str, str]] = (),
        long_threads: int = 2,
        nice: int = 0,
    ) -> None:
        self.app = app
        self.nice = nice
        self.max_bytes = max_bytes
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="web")
        self.long_requests = frozenset(long_requests)
        self.long_pool = ThreadPoolExecutor(max_workers=long_threads, thread_name_prefix="web-long")
        self.disk = DiskBudget(spool_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                yield_to_database(self.nice)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # Let the requests in flight finish; the loop keeps running meanwhile, since
                # their threads need it to send their answers.
                for pool in (self.pool, self.long_pool):
                    await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)
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
            asked = (environ["REQUEST_METHOD"], environ["PATH_INFO"])
            pool = self.long_pool if asked in self.long_requests else self.pool
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(pool, self._respond, environ, loop, send, receive)
            if isinstance(answer, list):
                # An answer already whole in memory comes back to be sent from here: one hop
                # between the threads instead of one per message.
                for message in answer:
                    await send(message)
            else:
                await asyncio.wrap_future(answer)  # a streamed one's spool, still sending
        finally:
            body.close()

    def _respond(
        self,
        environ: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
        send: Send,
        receive: Receive,
    ) -> list[Message] | concurrent.futures.Future[None]:
        """Run the WSGI app in this pool thread. An answer whose body is already in memory
        (Django's non-streaming responses) is returned whole, for the loop to send. A
        streamed one is made here into a spool that the loop sends from as it fills; what
        is returned then is the sending, which may go on after this thread is free."""
        start: list[Message] = []

        def emit(*messages: Message) -> None:
            """Send from this thread (the app's `write()`, which Django does not use)."""

            async def sending() -> None:
                for message in messages:
                    await _send_within_deadline(send, message)

            asyncio.run_coroutine_threadsafe(sending(), loop).result()

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
        if getattr(iterable, "streaming", True) is False:
            try:
                return [*start_once(), _body(b"".join(iterable), more=False)]
            finally:
                _close(iterable)
        return self._stream(iterable, start_once, loop, send, receive)

    def _stream(
        self,
        iterable: Iterable[bytes],
        start_once: Callable[[], list[Message]],
        loop: asyncio.AbstractEventLoop,
        send: Send,
        receive: Receive,
    ) -> list[Message] | concurrent.futures.Future[None]:
        """Make a streamed answer into a spool, which the loop sends from as it fills: what
        is returned is that sending ([] if there is nothing to send)."""
        spool = Spool(loop, self.disk)
        sending: concurrent.futures.Future[None] | None = None

        def start_sending() -> concurrent.futures.Future[None]:
            drain = spool.drain(send, receive, start_once())
            return asyncio.run_coroutine_threadsafe(drain, loop)

        try:
            for chunk in iterable:
                if chunk:
                    sending = sending or start_sending()
                    spool.put(chunk)
        except ClientGone:
            pass
        except BaseException as exc:
            if sending is None:  # nothing is sent yet: fails as a whole answer does
                _close(iterable)
                raise
            spool.finish(exc)  # raised by the sending, after what was made before it
        else:
            sending = sending or start_sending()
            spool.finish()
        try:
            _close(iterable)
        except Exception:
            # The answer is made and on its way: it is not cut short for this.
            logger.exception("Closing a streamed answer failed")
        return sending if sending is not None else []  # [] if the app's write() failed


def _close(iterable: Iterable[bytes]) -> None:
    close = getattr(iterable, "close", None)
    if close is not None:
        close()


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


def yield_to_database(nice: int) -> None:
    """Run every thread of this process and its session's autogroup at niceness `nice` (a
    thread already nicer stays so), so that when the CPUs are all busy the database on the
    same machine runs first.

    The web threads wait on the database: a backend left waiting for a CPU holds up a
    request, and its thread and connection with it. Linux schedules each session (its
    autogroup) as one group by default; under load on two cores a database backend then
    waited up to seconds for a CPU while the web server's group kept both busy (README,
    "Tail latency and the scheduler"). A lower weight for the web server's group, as
    nginx's `worker_priority` gives its workers, ended that. Either step may be refused (no
    /proc, no autogroups): the server then runs as it was."""
    if nice <= 0:
        return
    try:
        threads = [int(task) for task in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]  # the calling thread, and the threads it starts after
    for thread in threads:
        try:
            own = os.getpriority(os.PRIO_PROCESS, thread)
            os.setpriority(os.PRIO_PROCESS, thread, max(own, nice))
        except OSError as error:
            logger.info("could not lower the web server's priority: %s", error)
    _nicer_autogroup(nice)


def _nicer_autogroup(nice: int, *, tries: int = 3) -> None:
    """Set this session's autogroup to niceness `nice` unless it is nicer already. Linux
    lets an unprivileged process write an autogroup's niceness once in 100 ms, whoever wrote
    last: another worker starting beside this one is told to try again (EAGAIN)."""
    path = "/proc/self/autogroup"  # "/autogroup-85 nice 0"
    for attempt in range(tries):
        try:
            with open(path) as autogroup:
                if int(autogroup.read().split()[-1]) >= nice:
                    return
            with open(path, "w") as autogroup:
                autogroup.write(str(nice))
            return
        except OSError as error:
            if error.errno == errno.EAGAIN and attempt < tries - 1:
                time.sleep(0.11)
                continue
            logger.info("could not lower the web server's autogroup priority: %s", error)
            return
        except (ValueError, IndexError):  # a format this code does not know
            return


def _application() -> WSGIBridge:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "issuetracker.settings")
    from django.conf import settings
    from django.urls import get_resolver

    from issuetracker.long_requests import long_request_paths
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
        spool_bytes=int(os.environ.get("WEB_SPOOL_BYTES", str(1 << 30))),
        long_requests=long_request_paths(),  # the views marked @long_request
        long_threads=int(os.environ.get("WEB_LONG_THREADS", "2")),
        nice=int(os.environ.get("WEB_NICE", "10")),
    )


application = _application()

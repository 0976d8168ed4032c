"""Threads for concurrency tests, on real PostgreSQL: the test needs
`pytest.mark.django_db(transaction=True)` so that each thread sees committed rows."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

THREADS = 8

T = TypeVar("T")


def run_together(work: Callable[[int], T], n: int = THREADS) -> list[T | Exception]:
    """Run work(i) in n threads released at the same instant; return results or exceptions."""
    barrier = threading.Barrier(n)
    results: list[T | Exception] = [RuntimeError("thread did not finish")] * n

    def target(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc
        finally:
            # Each thread opened its own connection; leaving it open would block the
            # test database's teardown.
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return results


def returned(results: list[T | Exception]) -> list[T]:
    """The threads' return values, for tests where none may fail: the first exception a
    thread raised is raised again here."""
    for result in results:
        if isinstance(result, Exception):
            raise result
    return [result for result in results if not isinstance(result, Exception)]

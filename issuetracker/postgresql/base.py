"""Django's PostgreSQL backend with a health check that costs no round trip on a connection
that is plainly alive.

With CONN_HEALTH_CHECKS, Django runs `SELECT 1` before the first query of every request on a
kept connection: one round trip more for every request, a fifth of a hot write's. A
connection the server has closed (restarted, or its backend terminated) has something to
read while it is idle: the server's goodbye or the end of the stream. Only such a connection
gets Django's `SELECT 1` (and is replaced when it fails it); an idle connection with nothing
to read is usable as it is.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        if self.connection is None or self.connection.closed:
            return False
        try:
            readable, _, _ = select.select([self.connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable or super().is_usable()

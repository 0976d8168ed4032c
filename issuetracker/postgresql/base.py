"""Django's PostgreSQL backend with additions for the hot paths.

A health check that costs no round trip on a connection that is plainly alive. With
CONN_HEALTH_CHECKS, Django runs `SELECT 1` before the first query of every request on a
kept connection: one round trip more for every request, a fifth of a hot write's. A
connection the server has closed (restarted, or its backend terminated) has something to
read while it is idle: the server's goodbye or the end of the stream. Only such a connection
gets Django's `SELECT 1` (and is replaced when it fails it); an idle connection with nothing
to read is usable as it is.

Prepared statements for the few statements every request runs (`prepared_cursor()`).
Django binds parameters on the client, so PostgreSQL parses and plans each statement anew;
for the hot statements, which are short to run but join several tables, planning costs
several times what running does (1 ms against 0.3 ms for a change's events and outboxes).
A prepared cursor binds on the server and prepares each statement the first time a
connection runs it; PostgreSQL then plans its first runs for their values and, once a plan
for any values costs no more, keeps that one. Every other query keeps Django's client-side
binding and is never prepared. `DATABASES["default"]["PREPARE"]` (DATABASE_PREPARE) off:
the prepared cursor is Django's own.

A `values()` queryset compiled once (`values_statement()`), for a statement a request runs
again and again with other values (a plain page of a list): building and compiling the
queryset cost more Python than running the prepared statement.

Prepared statements that outlive a rollback. psycopg forgets every statement it prepared,
and has the server drop them all, whenever a transaction is rolled back: a request refused
inside its transaction (a 409 version conflict, a comment on a missing issue) made the next
request on that connection plan each hot statement again, about 2.5 ms of PostgreSQL's
time. The server keeps a session's prepared statements through a rollback, and no request
changes the schema they were planned for, so this backend sends the ROLLBACK itself, past
psycopg's bookkeeping, and keeps them. Not after a prepared statement failed, though: one
that fails on its first run stays on the server while psycopg forgets it, and only
psycopg's own rollback (DEALLOCATE ALL) clears such leftovers, so that one is used then.
"""

from __future__ import annotations

import select
import weakref
from dataclasses import dataclass
from typing import Any, Self

import psycopg
from django.db.backends.postgresql import base, operations
from django.db.backends.utils import debug_transaction
from django.db.models import QuerySet
from django.db.models.sql import Query
from psycopg import pq
from psycopg.types.numeric import Int8BinaryDumper, Int8Dumper

# Connections on which a prepared statement failed since their last rollback: a statement
# that fails on its first run stays prepared on the server, unknown to psycopg.
_failed_prepared: weakref.WeakSet[psycopg.Connection[Any]] = weakref.WeakSet()


class PreparedCursor(psycopg.Cursor[Any]):
    """Binds on the server and prepares what it runs; sends every Python int as a bigint:
    psycopg otherwise picks the smallest type that holds the value, and each mix of types
    would be a statement of its own, planned anew."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.adapters.register_dumper(int, Int8Dumper)
        self.adapters.register_dumper(int, Int8BinaryDumper)

    def execute(
        self,
        query: Any,
        params: Any = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> Self:
        # psycopg prepares only while its connection has a threshold. Django's connection
        # has none, so its own queries are neither prepared nor counted (psycopg would keep
        # each one's text, a bulk change's megabytes included); this cursor's statements
        # run with 0, prepared the first time.
        connection = self.connection
        previous = connection.prepare_threshold
        connection.prepare_threshold = 0
        try:
            return super().execute(query, params, prepare=prepare, binary=binary)
        except Exception:
            _failed_prepared.add(connection)
            raise
        finally:
            connection.prepare_threshold = previous


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str:
        # What a prepared cursor ran, with its values written in (query logging and tests
        # that read queries; Django's own reads only what a client-side binding sent).
        if isinstance(cursor, PreparedCursor):
            return str(self.compose_sql(sql, params))
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def _rollback(self) -> None:
        if not self._rolled_back_keeping_prepared():
            super()._rollback()  # type: ignore[misc]  # Django's, not in its stubs

    def _rolled_back_keeping_prepared(self) -> bool:
        """Roll the open transaction back without psycopg, which would drop the prepared
        statements. False, for Django's own rollback (psycopg's, which also raises what
        there is to raise), when there is no transaction, when a prepared statement failed
        on the connection since its last rollback, or when the ROLLBACK did not go
        through."""
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if connection in _failed_prepared:
            _failed_prepared.discard(connection)
            return False
        pgconn = connection.pgconn
        if pgconn.transaction_status not in (
            pq.TransactionStatus.INTRANS,
            pq.TransactionStatus.INERROR,
        ):
            return False
        try:
            with connection.lock, debug_transaction(self, "ROLLBACK"):
                result = pgconn.exec_(b"ROLLBACK")
        except psycopg.Error:  # e.g. a connection in pipeline mode
            return False
        return bool(result.status == pq.ExecStatus.COMMAND_OK)

    def is_usable(self) -> bool:
        if self.connection is None or self.connection.closed:
            return False
        try:
            readable, _, _ = select.select([self.connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable or super().is_usable()

    def prepared_cursor(self) -> Any:
        """A cursor (Django's wrapper: errors, query logging) whose statements are bound on
        the server and prepared. Use it only for statements whose text is fixed (one of a
        few shapes), with `%s` or `%(name)s` placeholders and the casts the server needs
        to type each parameter. With DATABASE_PREPARE=false, Django's own cursor."""
        if not self.settings_dict.get("PREPARE", True):
            return self.cursor()
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            cursor: Any = PreparedCursor(self.connection)
        self.validate_thread_sharing()
        return self.make_debug_cursor(cursor) if self.queries_logged else self.make_cursor(cursor)


def prepared_cursor(using: str | None = None) -> Any:
    """The database's prepared cursor (its plain cursor on any other backend); the default
    database unless `using` names another."""
    from django.db import DEFAULT_DB_ALIAS, connections

    wrapper = connections[using or DEFAULT_DB_ALIAS]
    if isinstance(wrapper, DatabaseWrapper):
        return wrapper.prepared_cursor()
    return wrapper.cursor()


def prepared_values(queryset: QuerySet[Any]) -> list[dict[str, Any]]:
    """`list(queryset)` of a `values()` queryset, run on a prepared cursor: the rows as
    Django's ValuesIterable gives them (named, converted). Use it for a queryset whose SQL
    is one of a few fixed texts whatever the request (no filter that varies in shape, one
    page size) and for which one plan suits any value of its parameters: PostgreSQL may
    keep a generic plan."""
    query = queryset.query
    compiler = query.get_compiler(queryset.db)
    sql, params = compiler.as_sql()
    with prepared_cursor(queryset.db) as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if compiler.has_extra_select:  # columns the ordering needs, not the caller
        rows = [row[: compiler.col_count] for row in rows]
    return [
        dict(zip(_names(query), row, strict=True)) for row in compiler.results_iter(results=[rows])
    ]


def _names(query: Query) -> list[str]:
    if query.selected:
        return list(query.selected)
    return [*query.extra_select, *query.values_select, *query.annotation_select]


class Placeholder:
    """A parameter of a ValuesStatement given anew at each run."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Placeholder({self.name!r})"


@dataclass(frozen=True, slots=True)
class ValuesStatement:
    """A `values()` queryset compiled once, to be run as often as wanted: building and
    compiling a queryset costs more Python than running its prepared statement does.
    `params` holds Placeholders where each run gives its own values."""

    sql: str
    params: tuple[Any, ...]
    names: tuple[str, ...]
    width: int  # the columns named; the ordering may read more
    using: str

    def run(self, values: dict[Placeholder, Any] | None = None) -> list[dict[str, Any]]:
        """The rows, as prepared_values() gives them, with `values` for the Placeholders."""
        params = [
            (values or {})[param] if isinstance(param, Placeholder) else param
            for param in self.params
        ]
        with prepared_cursor(self.using) as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        return [dict(zip(self.names, row[: self.width], strict=True)) for row in rows]


def values_statement(queryset: QuerySet[Any]) -> ValuesStatement | None:
    """`queryset` (read with `values()`) compiled for ValuesStatement.run; None if a column
    needs converting from what the database sends (a field with `from_db_value`), which
    only Django's compiler does. Placeholders may stand only where Django passes a parameter
    through as it is (RawSQL's), not for a lookup's value, which a field prepares."""
    query = queryset.query
    compiler = query.get_compiler(queryset.db)
    sql, params = compiler.as_sql()
    fields = [column[0] for column in compiler.select[: compiler.col_count]]
    if compiler.get_converters(fields) or compiler.has_composite_fields(fields):
        return None
    return ValuesStatement(
        sql, tuple(params), tuple(_names(query)), compiler.col_count, queryset.db
    )

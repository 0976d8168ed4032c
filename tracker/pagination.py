"""Keyset (cursor) pagination shared by the API and the pages.

A page is found with a row comparison `(sort_column, id) > (value, id)` that PostgreSQL
answers from a two-column index, so page 10,000 costs what page 1 costs: no OFFSET.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.db.models import BooleanField, F, Field, Model, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.query import ValuesIterable
from django.dispatch import receiver

from issuetracker.postgresql.base import (
    Placeholder,
    ValuesStatement,
    prepared_values,
    values_statement,
)

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000


@dataclass(frozen=True)
class KeysetPage:
    items: list[Any]  # models, or dicts for a queryset read with values()
    next_cursor: str | None
    prev_cursor: str | None


_CURSOR_SALT = "tracker.pagination.cursor"


def _salt(model: type[Model], order: str) -> str:
    # A cursor is good only for the list and the order it was made for.
    return f"{_CURSOR_SALT}:{model._meta.label}:{order}"


def _encode(salt: str, backwards: bool, value: Any, pk: int) -> str:
    # Signed, so that a client can only send back positions the server made.
    return signing.dumps([int(backwards), value, pk], salt=salt, compress=True)


def _decode(salt: str, cursor: str, field) -> tuple[bool, Any, int]:
    try:
        backwards, value, pk = signing.loads(cursor, salt=salt)
        return bool(backwards), field.to_python(value), int(pk)
    except (signing.BadSignature, ValidationError, ValueError, TypeError) as exc:
        raise ValidationError(
            {"cursor": ValidationError("Invalid cursor", code="invalid_cursor")}
        ) from exc


def clean_per_page(value: Any) -> int:
    if value in (None, ""):
        return DEFAULT_PER_PAGE
    try:
        per_page = int(value)
    except (TypeError, ValueError):
        per_page = 0
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValidationError(
            {
                "per_page": ValidationError(
                    f"per_page must be a whole number from 1 to {MAX_PER_PAGE}", code="invalid"
                )
            }
        )
    return per_page


@dataclass(frozen=True)
class Computed:
    """A sort key computed by an SQL expression (`sql` with `params`) rather than read from
    a column: search relevance, urgency, due dates. Sorted highest first unless not
    `descending`, then by id in the same direction. Never NULL (a row comparison with a NULL
    would skip the row)."""

    name: str
    sql: str
    params: tuple[Any, ...]
    field: Field
    cast: str  # the SQL type a cursor's value is compared as, exactly as computed
    descending: bool = True

    def expression(self) -> RawSQL:
        return RawSQL(self.sql, self.params, output_field=self.field)


# The compiled statement of each plain page (below) asked for with a `shape`: by its shape,
# order, direction and size, and whether it starts past a position (the Placeholders).
_AT_KEY, _AT_ID = Placeholder("key"), Placeholder("id")
_plain_statements: dict[tuple[Hashable, ...], ValuesStatement | None] = {}
MAX_STATEMENTS = 200  # a few shapes, orders and directions; more would be a mistake


@receiver(setting_changed)
def forget_statements(**kwargs: Any) -> None:
    """Forget the compiled pages: a statement holds what settings made of it (tests change
    settings)."""
    _plain_statements.clear()


def keyset_page(
    queryset: QuerySet,
    *,
    order: str,
    cursor: str | None,
    per_page: int,
    computed: Computed | None = None,
    shape: Hashable | None = None,
) -> KeysetPage:
    """One page of `queryset` sorted by `order` (a non-null field name, `-` for descending,
    or `computed`'s name), then by id. `cursor` comes from a previous page's next_cursor or
    prev_cursor.

    `shape`: the caller's name for what `queryset` reads, when that name always means the
    same queryset: it covers everything the queryset's SQL depends on (the viewer, the time
    zone). A plain page of it (below) is then built and compiled only the first time; later
    pages run the same statement with their own position."""
    model = queryset.model
    sort_by = computed if computed is not None and order == computed.name else None
    if sort_by is not None:
        descending = sort_by.descending
        field = sort_by.field
        name = sort_by.name
    else:
        descending = order.startswith("-")
        field = model._meta.get_field(order.lstrip("-"))
        name = field.name
    # The sort key of each row is read with it, whatever else the queryset loads (a list
    # read as JSON loads only the id besides): the first and last rows' keys make the cursors.
    key = f"keyset_{name}" if name == field.name and name != "id" else name
    # A page of the default size of a whole table read as values (the API's plain lists, in
    # JSON) has one SQL text for each order and direction, and an index scan in the order
    # suits any position: it runs prepared (a few dozen statements in all, within psycopg's
    # hundred per connection). A filtered one is planned for its values each time (a
    # search's plan depends on how common its words are), as is a page of another size.
    plain = (
        queryset._iterable_class is ValuesIterable
        and not queryset.query.where
        and per_page == DEFAULT_PER_PAGE
    )
    salt = _salt(model, order)
    position = _decode(salt, cursor, field) if cursor else None
    backwards = bool(position and position[0])
    query_descending = descending != backwards

    def page_of(at: tuple[Any, Any] | None) -> QuerySet:
        """The queryset of the page past `at` (the sort key and id of a row), if any."""
        page = queryset
        table = model._meta.db_table
        if sort_by is not None:
            key_sql, key_params = sort_by.sql, sort_by.params
            compared = f"%s::{sort_by.cast}"
            page = page.annotate(**{sort_by.name: sort_by.expression()})
        else:
            key_sql, key_params, compared = f'"{table}"."{field.column}"', (), "%s"
        if key != name:
            page = page.annotate(**{key: F(name)})
        if at is not None:
            op = "<" if query_descending else ">"
            page = page.filter(
                RawSQL(
                    f'({key_sql}, "{table}"."id") {op} ({compared}, %s)',
                    (*key_params, *at),
                    output_field=BooleanField(),
                )
            )
        sign = "-" if query_descending else ""
        ordering = [f"{sign}pk"] if name == "id" else [f"{sign}{name}", f"{sign}pk"]
        return page.order_by(*ordering)[: per_page + 1]

    at = None  # the sort key and id past which the page starts
    if position:
        at = (position[1] if name != "id" else position[2], position[2])
    if plain and shape is not None:
        statement_key = (shape, order, sort_by, query_descending, at is not None, per_page)
        if statement_key not in _plain_statements and len(_plain_statements) < MAX_STATEMENTS:
            _plain_statements[statement_key] = values_statement(
                page_of((_AT_KEY, _AT_ID) if at else None)
            )
        statement = _plain_statements.get(statement_key)
    else:
        statement = None
    if statement is not None:
        rows = statement.run({_AT_KEY: at[0], _AT_ID: at[1]} if at else None)
    elif plain:
        rows = prepared_values(page_of(at))
    else:
        rows = list(page_of(at))
    has_more = len(rows) > per_page
    rows = rows[:per_page]
    if backwards:
        rows.reverse()

    def cursor_at(row: Model | dict[str, Any], towards_start: bool) -> str:
        # A row is a model, or a dict when the queryset was read with values().
        value, pk = (row[key], row["id"]) if isinstance(row, dict) else (getattr(row, key), row.pk)
        if isinstance(value, date):  # and datetime
            value = value.isoformat()
        return _encode(salt, towards_start, value, pk)

    if not rows:
        return KeysetPage([], None, None)
    next_cursor: str | None
    prev_cursor: str | None
    if backwards:
        next_cursor = cursor_at(rows[-1], False)
        prev_cursor = cursor_at(rows[0], True) if has_more else None
    else:
        next_cursor = cursor_at(rows[-1], False) if has_more else None
        prev_cursor = cursor_at(rows[0], True) if position else None
    return KeysetPage(rows, next_cursor, prev_cursor)

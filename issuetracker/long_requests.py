"""The requests that may take seconds of work: a view says so itself, and `make serve` runs
them in threads of their own (issuetracker/serving.py), so that ordinary requests never wait
in line behind a few exports or imports.

    @long_request("POST")
    def import_confirm(request): ...

    @long_request("GET")
    class IssuesExportView(GenericAPIView): ...

Put it above the view's other decorators: the mark is an attribute of what the URL
configuration holds. The server reads the marks once, at start, from the URL patterns
(`long_request_paths`), and tells requests apart by method and exact path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from http import HTTPMethod
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

ViewT = TypeVar("ViewT", bound=Callable[..., Any])


def long_request(*methods: str) -> Callable[[ViewT], ViewT]:
    """Mark a view (a function, or a class-based view's class, whose subclasses inherit the
    mark) whose `methods` may take seconds of work."""
    if not methods:
        raise TypeError("long_request() needs the methods whose requests are long")
    marked = frozenset(HTTPMethod(method.upper()).value for method in methods)  # or ValueError

    def mark(view: ViewT) -> ViewT:
        view.long_methods = marked  # type: ignore[attr-defined]
        return view

    return mark


def _long_methods(callback: Callable[..., Any]) -> frozenset[str]:
    view_class = getattr(callback, "view_class", None)  # as_view() keeps its class there
    marked: frozenset[str] = getattr(callback, "long_methods", frozenset())
    return marked or getattr(view_class, "long_methods", frozenset())


def long_request_paths(
    patterns: Iterable[URLPattern | URLResolver] | None = None,
) -> list[tuple[str, str]]:
    """(method, path) of every marked view in the URL configuration (the project's when
    `patterns` is None). A marked view's route, and those of the includes it is under, must
    be path() routes without converters: the server compares paths exactly, without
    resolving them."""
    found = get_resolver().url_patterns if patterns is None else patterns
    return list(_walk(found, "/", under_parameters=False))


def _walk(
    patterns: Iterable[URLPattern | URLResolver], prefix: str, *, under_parameters: bool
) -> Iterator[tuple[str, str]]:
    for pattern in patterns:
        route = str(pattern.pattern)
        literal = isinstance(pattern.pattern, RoutePattern) and not pattern.pattern.converters
        if isinstance(pattern, URLResolver):
            yield from _walk(
                pattern.url_patterns,
                prefix + route,
                under_parameters=under_parameters or not literal,
            )
            continue
        methods = _long_methods(pattern.callback)
        if methods and (under_parameters or not literal):
            raise ImproperlyConfigured(
                f"{pattern.lookup_str}: a long request's route, and its includes', must be"
                f" path() routes without converters ({prefix + route!r})"
            )
        for method in sorted(methods):
            yield method, prefix + route

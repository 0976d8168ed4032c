"""Page views let a service's NotFound (e.g. IssueNotFound) propagate; it becomes the site's
404 page here, once, instead of a try/except in every view. The API turns the same errors
into JSON in api/exceptions.py before they get this far."""

from __future__ import annotations

from collections.abc import Callable

from django.core.handlers.exception import response_for_exception
from django.http import Http404, HttpRequest, HttpResponse

from .errors import NotFound


class NotFoundAsPage404:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotFound):
            return response_for_exception(request, Http404(exception.message))
        return None

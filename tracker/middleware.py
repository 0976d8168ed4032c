"""The project's middleware: the Content-Security-Policy header, and the site's 404 page for
a service's NotFound."""

from __future__ import annotations

from collections.abc import Callable

from csp.constants import SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.core.handlers.exception import response_for_exception
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from rest_framework.renderers import BrowsableAPIRenderer

from .errors import NotFound


class ContentSecurityPolicy(CSPMiddleware):
    """settings.CONTENT_SECURITY_POLICY on every response. DRF's browsable API (an API path
    opened in a browser) writes style="" attributes and a <style> element in its own
    templates; those pages alone allow inline style, never inline script."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        browsable = isinstance(getattr(response, "accepted_renderer", None), BrowsableAPIRenderer)
        if browsable and not report_only:
            parts.replace = {**(parts.replace or {}), "style-src": [SELF, UNSAFE_INLINE]}
        return parts


class NotFoundAsPage404:
    """Page views let a service's NotFound (e.g. IssueNotFound) propagate; it becomes the
    site's 404 page here, once, instead of a try/except in every view. The API turns the same
    errors into JSON in api/exceptions.py before they get this far."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotFound):
            return response_for_exception(request, Http404(exception.message))
        return None

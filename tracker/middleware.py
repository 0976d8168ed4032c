"""The project's middleware: the Content-Security-Policy header; query strings checked
before any view; the site's 404 page for a service's NotFound.

A lost database connection (the server restarted, the backend was terminated, the network
dropped) is never a 500: DatabaseUnavailable runs a read once more on a fresh connection,
and answers anything else with 503 and Retry-After."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from csp.constants import HEADER, SELF, UNSAFE_INLINE
from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts
from csp.utils import build_policy
from django.conf import settings
from django.core.exceptions import BadRequest
from django.core.handlers.exception import response_for_exception
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.template.loader import render_to_string
from django.urls import get_resolver
from rest_framework.renderers import BrowsableAPIRenderer

from .errors import NotFound
from .rules import NOT_ALLOWED_CHARACTER, escaped

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# Safe methods (RFC 9110): running one twice changes nothing. A write is never run again: it
# may have committed before the connection dropped.
RETRIED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# SQLSTATEs of a connection going away: class 08 (connection exception) and the server
# shutting down or terminating the backend (57P01-57P03).
CONNECTION_LOST_PREFIXES = ("08", "57P01", "57P02", "57P03")


class QueryParameterRefused(BadRequest):
    """A query parameter holds a character no text may hold (rules.NOT_ALLOWED_CHARACTER)."""

    def __init__(self, name: str) -> None:
        self.name = escaped(name)
        super().__init__(f"Query parameter '{self.name}' contains a character that is not allowed")


class QueryParametersChecked:
    """Refuse, before any view, a query string holding NUL, another control character or a
    lone surrogate in a parameter's name or value: PostgreSQL cannot take NUL in any query,
    and no filter (the API's, the pages', the admin's) means one. A 400 naming the
    parameter (JSON for the API, the tracker's page otherwise; issuetracker/urls.py)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name, values in request.GET.lists():
            # CR is allowed, as in text the rules take (they make it a newline).
            texts = (name, *values)
            if any(NOT_ALLOWED_CHARACTER.search(text.replace("\r", "")) for text in texts):
                # Answered here by the 400 handler: raised, it would be logged as a fault.
                handler: Callable[..., HttpResponse] = get_resolver().resolve_error_handler(400)
                return handler(request, QueryParameterRefused(name))
        return self.get_response(request)


# What django-csp's decorators set on a response to change its policy.
CSP_RESPONSE_ATTRIBUTES = tuple(
    f"_csp_{part}{suffix}"
    for part in ("config", "update", "replace", "exempt")
    for suffix in ("", "_ro")
)
# The header of settings.CONTENT_SECURITY_POLICY, by the identity of that setting.
_settings_policy: dict[int, tuple[object, str]] = {}


class ContentSecurityPolicy(CSPMiddleware):
    """settings.CONTENT_SECURITY_POLICY on every response. DRF's browsable API (an API path
    opened in a browser) writes style="" attributes and a <style> element in its own
    templates; those pages alone allow inline style, never inline script."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        """django-csp builds the header anew for every response (a tenth of a hot write's
        Python time); a response with nothing of its own in its policy (no nonce taken, no
        decorator, not the browsable API) gets the settings' header, built once."""
        plain = (
            getattr(request, "_csp_nonce", None) is None
            and not settings.DEBUG
            and not any(hasattr(response, name) for name in CSP_RESPONSE_ATTRIBUTES)
            and not isinstance(getattr(response, "accepted_renderer", None), BrowsableAPIRenderer)
            and HEADER not in response
            and not getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
        )
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", None)
        if not plain or not policy or policy.get("EXCLUDE_URL_PREFIXES"):
            return super().process_response(request, response)
        built = _settings_policy.get(id(policy))
        if built is None or built[0] is not policy:
            built = _settings_policy[id(policy)] = (policy, build_policy())
        response[HEADER] = built[1]
        # As django-csp does: a nonce asked for after the header is written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response

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


def wants_page(request: HttpRequest) -> bool:
    """Whether an error should be an HTML page rather than the API's JSON."""
    return request.path.startswith(
        ("/ui/", "/admin/", "/accounts/")
    ) or "text/html" in request.headers.get("Accept", "")


def connection_lost(exc: BaseException | None) -> bool:
    """Whether `exc` is the database connection failing (could not connect, terminated,
    dropped), not a query failing: an OperationalError or InterfaceError (Django's or the
    driver's) that the server did not answer with an SQLSTATE, or whose SQLSTATE says the
    connection is going away."""
    # The backend's DB-API module (psycopg), which the stubs do not declare.
    driver = connection.Database  # type: ignore[attr-defined]
    if not isinstance(
        exc, OperationalError | InterfaceError | driver.OperationalError | driver.InterfaceError
    ):
        return False
    cause = exc if isinstance(exc, driver.Error) else exc.__cause__
    pgcode = getattr(cause, "sqlstate", None)
    return not pgcode or str(pgcode).startswith(CONNECTION_LOST_PREFIXES)


def drop_connection() -> None:
    """Forget the broken connection; the next query opens a new one."""
    with contextlib.suppress(DatabaseError):
        connection.close()


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: JSON on the API, a short page (that needs no database) else."""
    if wants_page(request):
        response: HttpResponse = HttpResponse(render_to_string("503.html"), status=503)
    else:
        response = JsonResponse(
            {
                "detail": "The database is briefly unavailable; try again shortly",
                "code": "db_unavailable",
            },
            status=503,
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailable:
    """Last in MIDDLEWARE, so its process_exception sees a view's exception first and its
    get_response is Django's view dispatch (URL, view middleware, view, template)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not connection_lost(exception):
            return None
        drop_connection()
        if request.method in RETRIED_METHODS and not getattr(request, "_database_retried", False):
            logger.warning(
                "Database connection lost during %s %s; retrying", request.method, request.path
            )
            request._database_retried = True  # type: ignore[attr-defined]
            return self.get_response(request)
        logger.warning(
            "Database connection lost during %s %s; answered 503", request.method, request.path
        )
        return database_unavailable(request)

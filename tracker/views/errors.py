"""The tracker's own error pages, for the pages, the admin and the logins (the API answers
in JSON: see issuetracker/urls.py).

404 and 403 are ordinary pages with the site's navigation and the visitor's login. 400 and
500 may be answering a request, a session or a database that is itself what broke, so they
render without the request: no context processors, no queries, and the stylesheet only
when its address can be worked out. Should even that fail, a fixed page is sent."""

from __future__ import annotations

import logging

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseServerError,
)
from django.shortcuts import render
from django.template import loader
from django.templatetags.static import static

logger = logging.getLogger(__name__)

FALLBACK_500 = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Server error · '
    "Tracker</title></head><body><main><h1>Something went wrong on our side</h1><p>The "
    "tracker could not answer this request. Try again in a moment.</p></main></body></html>"
)

FALLBACK_400 = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bad request · '
    "Tracker</title></head><body><main><h1>The tracker could not read this request</h1>"
    "<p>Nothing was saved.</p></main></body></html>"
)


def _not_found_heading(exception: Exception | None) -> str:
    # A service's NotFound arrives as Http404("Issue not found") (tracker.middleware); the
    # URL resolver's carries a dict of tried patterns, which is nothing to show a person.
    if isinstance(exception, Http404) and exception.args and isinstance(exception.args[0], str):
        return exception.args[0]
    return "Page not found"


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    context = {"heading": _not_found_heading(exception), "request_path": request.path}
    return render(request, "404.html", context, status=404)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def _standalone(template_name: str) -> str:
    """The template rendered without a request; raises whatever rendering raises."""
    try:
        stylesheet = static("css/app.css")
    except Exception:  # e.g. a missing manifest entry: the page goes without styles
        logger.warning("No stylesheet for the %s page", template_name, exc_info=True)
        stylesheet = None
    return loader.get_template(template_name).render({"stylesheet": stylesheet})


def server_error(request: HttpRequest | None = None) -> HttpResponse:
    try:
        body = _standalone("500.html")
    except Exception:
        logger.exception("The 500 page could not be rendered")
        body = FALLBACK_500
    return HttpResponseServerError(body)


def bad_request(
    request: HttpRequest | None = None, exception: Exception | None = None
) -> HttpResponse:
    try:
        body = _standalone("400.html")
    except Exception:
        logger.exception("The 400 page could not be rendered")
        body = FALLBACK_400
    return HttpResponseBadRequest(body)

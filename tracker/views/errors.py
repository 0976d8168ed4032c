"""The tracker's own error pages, for the pages, the admin and the logins (the API answers
in JSON: see issuetracker/urls.py), and the page a form refused for its CSRF token gets.

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
    JsonResponse,
)
from django.shortcuts import render
from django.template import loader
from django.templatetags.static import static
from django.urls import reverse

from tracker.middleware import wants_page

from .access import safe_next

logger = logging.getLogger(__name__)

# What a refused form sent that the person did not type, or must not see again on a page.
NOT_TYPED = frozenset(
    {"csrfmiddlewaretoken", "version", "loaded_version", "next", "token", "same_name_ok"}
)
FIELD_LABELS = {
    "title": "Title",
    "description": "Description",
    "body": "Comment",
    "labels": "Labels",
    "new_labels": "New labels",
    "name": "Name",
    "username": "Username",
}

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


def _typed_text(request: HttpRequest) -> list[tuple[str, str]]:
    """(label, text) of each non-empty value the refused form carried that a person typed or
    picked as text: not the token, versions, ids, the hidden copies of the values the form
    was read with (`initial-*`), and never a password."""
    try:
        items = list(request.POST.lists())
    except Exception:  # a body Django cannot parse: there is nothing to give back
        return []
    kept = []
    for name, values in items:
        if name in NOT_TYPED or name.startswith("initial-") or "password" in name.lower():
            continue
        texts = [value for value in values if value.strip() and not value.strip().isdigit()]
        if texts:  # several values (ticked labels) share one box, a line each
            label = FIELD_LABELS.get(name, name.replace("_", " ").capitalize())
            kept.append((label, "\n".join(texts)))
    return kept


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent with a token that no longer matches the session, typically after logging
    out and in again in another tab. Nothing was done. The page says so and shows what was
    typed in read-only text boxes to copy; it does not offer to send it again, since a forged
    request lands here too. Its link goes back to the form's page, which loads with a token
    that matches again."""
    if not wants_page(request):
        return JsonResponse(
            {"detail": f"CSRF check failed: {reason}", "code": "csrf_failed"}, status=403
        )
    context = {
        "typed": _typed_text(request),
        "had_files": _has_files(request),
        "back": safe_next(request, request.headers.get("Referer"), reverse("ui:issue-list")),
        "reason": reason,
    }
    return render(request, "csrf_failure.html", context, status=403)


def _has_files(request: HttpRequest) -> bool:
    try:
        return bool(request.FILES)
    except Exception:
        return False

"""Who may write through the pages, and as whom."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def can_write(request: HttpRequest) -> bool:
    """Whether the pages should offer this visitor their forms."""
    return not settings.TRACKER_REQUIRE_AUTH or request.user.is_authenticated


def safe_next(request: HttpRequest, candidate: str | None, default: str) -> str:
    """`candidate` when it is a path on this site, else `default` (no open redirects)."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def login_redirect(request: HttpRequest, *, fallback: str = "ui:issue-list") -> HttpResponse:
    """Send an anonymous visitor to log in, and back to where they were afterwards.

    A GET comes back to the same address. A refused POST comes back to the page it was sent
    from, since a POST-only address cannot be shown after logging in; `fallback` (a URL name)
    when the request does not say where that was.
    """
    if request.method == "GET":
        back = request.get_full_path()
    else:
        back = safe_next(request, request.headers.get("Referer"), reverse(fallback))
    return redirect_to_login(back)


def writes_need_login(
    view: Callable[..., HttpResponse] | None = None, *, fallback: str = "ui:issue-list"
):
    """With TRACKER_REQUIRE_AUTH on, send anonymous visitors to the login page first.

    Use bare (`@writes_need_login`) or with the page a refused POST falls back to
    (`@writes_need_login(fallback="ui:import")`), see `login_redirect`. Read at request
    time, not import time, so tests (and a restart-free settings change) see the current
    value.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not can_write(request):
                return login_redirect(request, fallback=fallback)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator if view is None else decorator(view)

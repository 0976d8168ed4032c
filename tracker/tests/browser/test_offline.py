"""The tracker works offline and behind a firewall: no page fetches anything from another
host, nor even tries to (ReDoc's bundle is served without its "powered by" logo)."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from playwright.sync_api import Request

from tracker import services

PAGES = [
    "/ui/issues/",
    "/ui/issues/new/",
    "/ui/issues/ISSUE/",
    "/ui/import/",
    "/ui/reports/",
    "/ui/people/",
    "/accounts/login/",
    "/docs",
    "/redoc",
    "/issues",
]


@pytest.mark.django_db(transaction=True)
def test_no_page_fetches_from_another_host(page, live_server):
    issue = services.issue_create(title="Offline", labels=["bug"])
    own_host = urlparse(live_server.url).netloc
    fetched_elsewhere: list[tuple[str, str]] = []

    def is_elsewhere(url: str) -> bool:
        parsed = urlparse(url)
        return parsed.scheme in ("http", "https") and parsed.netloc != own_host

    def finished(request: Request) -> None:
        if is_elsewhere(request.url):
            fetched_elsewhere.append(("got", request.url))

    def failed(request: Request) -> None:
        if is_elsewhere(request.url) and request.failure != "csp":
            fetched_elsewhere.append(("tried", request.url))

    page.on("requestfinished", finished)
    page.on("requestfailed", failed)
    for path in PAGES:
        page.goto(path.replace("ISSUE", str(issue.pk)))
        page.wait_for_load_state("networkidle")
    assert fetched_elsewhere == []

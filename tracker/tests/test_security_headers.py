"""The Content-Security-Policy header on every kind of response, templates that need no inline
script or style, ReDoc's bundle as the tracker serves it, and the HTTPS settings read from the
environment. tests/browser/test_content_security_policy.py proves the pages work under it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.http import HttpResponse
from django.test import Client, RequestFactory

from tracker import services
from tracker.views import api_docs

from .test_templates import project_templates


def policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


class Scripts(HTMLParser):
    """The <script> elements of a page: their attributes and whether they have a body."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._open = {**dict(attrs), "body": ""}
            self.scripts.append(self._open)

    def handle_data(self, data):
        if self._open is not None:
            self._open["body"] += data.strip()

    def handle_endtag(self, tag):
        if tag == "script":
            self._open = None


def scripts_of(response) -> list[dict]:
    parser = Scripts()
    parser.feed(response.content.decode())
    return parser.scripts


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/ui/issues/", "/ui/reports/", "/accounts/login/", "/admin/login/", "/users"]
)
def test_pages_and_the_api_carry_the_policy(client, path):
    response = client.get(path)
    assert response.status_code == 200
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_the_header_built_once_is_the_one_django_csp_builds(client, method):
    """ContentSecurityPolicy gives a response with nothing of its own in its policy the
    settings' header, built once; django-csp builds the same for it."""
    response = getattr(client, method)("/users", *([{"name": "A"}] if method == "post" else []))
    assert response.status_code in (200, 201)
    expected = CSPMiddleware(lambda request: HttpResponse()).process_response(
        RequestFactory().get("/users"), HttpResponse()
    )
    assert response.headers["Content-Security-Policy"] == expected["Content-Security-Policy"]
    assert "Content-Security-Policy-Report-Only" not in response.headers


def test_swagger_ui_loads_its_start_up_script_from_the_server():
    response = Client().get("/docs")
    scripts = scripts_of(response)
    assert [s["body"] for s in scripts] == ["", "", ""]
    assert scripts[-1]["src"] == "/docs?script="
    assert policy(response)["script-src"] == ["'self'"]

    script = Client().get("/docs?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in script.content
    # No validator badge, which would send the schema's address to validator.swagger.io.
    assert b'"validatorUrl": null' in script.content


@pytest.mark.django_db
def test_redoc_bundle_script_carries_the_nonce_of_the_policy():
    response = Client().get("/redoc")
    scripts = scripts_of(response)
    assert all(s["body"] == "" for s in scripts)
    bundle = next(s for s in scripts if s["src"] == "/redoc/redoc.standalone.js")
    nonce = f"'nonce-{bundle['nonce']}'"
    assert policy(response)["script-src"] == ["'self'", nonce]
    assert policy(response)["style-src"] == ["'self'", nonce]
    assert policy(response)["worker-src"] == ["'self'", "blob:"]


def test_redoc_bundle_fetches_nothing_elsewhere_and_takes_its_script_nonce(client):
    response = client.get("/redoc/redoc.standalone.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    body = response.content
    assert b"cdn.redoc.ly" not in body
    assert b".nc=document.currentScript&&document.currentScript.nonce||void 0" in body
    assert b"Redoc" in body and len(body) > 500_000
    again = client.get("/redoc/redoc.standalone.js", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_a_changed_redoc_bundle_is_refused_rather_than_served(tmp_path, monkeypatch):
    bundle = tmp_path / "redoc.standalone.js"
    bundle.write_bytes(b'var a=1;e.nc=void 0;img("https://cdn.redoc.ly/redoc/new-logo.svg")')
    monkeypatch.setattr(api_docs.finders, "find", lambda path: str(bundle))
    api_docs.redoc_bundle_source.cache_clear()
    try:
        with pytest.raises(Exception, match="has changed"):
            api_docs.redoc_bundle_source()
    finally:
        api_docs.redoc_bundle_source.cache_clear()


@pytest.mark.django_db
def test_the_browsable_api_alone_allows_inline_style_and_never_inline_script(client):
    issue = services.issue_create(title="Browsable")
    response = client.get(f"/issues/{issue.pk}", HTTP_ACCEPT="text/html")
    assert response["Content-Type"].startswith("text/html")
    directives = policy(response)
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"]
    assert directives["script-src"] == ["'self'"]
    assert all(s["body"] == "" or s.get("type") == "application/json" for s in scripts_of(response))


INLINE = re.compile(
    r"<script\b(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=", re.IGNORECASE
)


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        '<script type="module">x()</script>',
        "<style>p { color: red }</style>",
        '<div style="width: 3%">',
        '<button onclick="go()">',
        "<body onload='x()'>",
    ],
)
def test_the_scan_catches_inline_script_and_style(html):
    assert INLINE.search(html)


@pytest.mark.parametrize("path", project_templates(), ids=lambda p: p.name)
def test_no_template_has_inline_script_or_style(path: Path):
    found = INLINE.findall(path.read_text())
    assert found == [], f"{path}: move {found} to a static file (or nonce it)"


def test_https_settings_are_off_by_default():
    assert settings.SECURE_HSTS_SECONDS == 0
    assert settings.SECURE_SSL_REDIRECT is False


def test_https_settings_come_from_the_environment():
    env = {
        **os.environ,
        "DJANGO_SECURE_HSTS_SECONDS": "31536000",
        "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
        "DJANGO_SECURE_HSTS_PRELOAD": "true",
        "DJANGO_SECURE_SSL_REDIRECT": "true",
    }
    code = (
        "import json; from issuetracker import settings as s; print(json.dumps(["
        "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD,"
        " s.SECURE_SSL_REDIRECT]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == [31536000, True, True, True]

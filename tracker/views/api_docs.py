"""ReDoc's bundle as the drf-spectacular sidecar ships it, with two changes so that /redoc
works offline and under the content security policy without 'unsafe-inline':

- the "powered by" logo it would fetch from Redocly's CDN is left out (an empty src fetches
  nothing, and ReDoc hides a logo that does not load);
- webpack's style nonce (what `__webpack_nonce__` sets) starts as the nonce of the <script>
  element that loads the bundle, so the <style> elements it writes while it loads, before
  `Redoc.init` could pass a nonce, are allowed too.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import etag, require_safe

REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOC_LOGO_URL = b'"https://cdn.redoc.ly/redoc/logo-mini.svg"'
WEBPACK_NONCE = re.compile(rb"\b(\w+)\.nc=void 0\b")


@functools.cache
def redoc_bundle_source() -> bytes:
    path = finders.find(REDOC_BUNDLE)
    if path is None:
        raise ImproperlyConfigured(f"{REDOC_BUNDLE} not found: is the sidecar installed?")
    source = Path(path).read_bytes()
    # A newer ReDoc that changed either place needs a look, not a bundle that breaks the policy.
    if source.count(REDOC_LOGO_URL) != 1 or len(WEBPACK_NONCE.findall(source)) != 1:
        raise ImproperlyConfigured(f"{REDOC_BUNDLE} has changed: review tracker/views/api_docs.py")
    source = source.replace(REDOC_LOGO_URL, b'""')
    return WEBPACK_NONCE.sub(
        rb"\1.nc=document.currentScript&&document.currentScript.nonce||void 0", source
    )


def _bundle_etag(request: HttpRequest) -> str:
    return hashlib.sha256(redoc_bundle_source()).hexdigest()[:32]


@require_safe
@gzip_page
@cache_control(public=True, max_age=24 * 3600)
@etag(_bundle_etag)
def redoc_bundle(request: HttpRequest) -> HttpResponse:
    return HttpResponse(redoc_bundle_source(), content_type="text/javascript; charset=utf-8")

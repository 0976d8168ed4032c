"""The Write/Preview toggle of the description and comment forms: the server renders the
preview through the same code as the issue page (tracker/markdown.py)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from tracker.markdown import markdown_html
from tracker.rules import clean_preview_text

from .access import can_write


def _fragment(html: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def markdown_preview(request: HttpRequest) -> HttpResponse:
    """POST `text`: 200 with the sanitised HTML fragment; 400 with the rule's message (too
    long, a character not allowed); 403 when this visitor may not write."""
    if not can_write(request):
        return _fragment(format_html('<p class="preview-error">{}</p>', "Log in to preview."), 403)
    try:
        text = clean_preview_text(request.POST.get("text"))
    except ValidationError as exc:
        message = exc.messages[0]
        return _fragment(format_html('<p class="preview-error">{}</p>', message), 400)
    if not text:
        return _fragment('<p class="muted">Nothing to preview.</p>')
    return _fragment(markdown_html(text))

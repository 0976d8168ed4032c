"""`{{ text|markdown }}`: a description or comment as sanitised HTML (tracker/markdown.py).

On a page that shows several texts, pass the view's `MarkdownBatch` of them
(`{{ text|markdown:batch }}`) so that their `#123` links are checked in one query."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from tracker.markdown import MarkdownBatch, markdown_html

register = template.Library()


@register.filter
def markdown(text: str | None, batch: MarkdownBatch | None = None) -> SafeString:
    if batch is not None:
        return batch.html(text or "")
    return markdown_html(text or "")

"""Descriptions and comments as HTML: CommonMark with GitHub's tables, strikethrough, task
lists and autolinks, sanitised after rendering, `#123` linked to issue 123 when it exists
and `@username` linked to that person's issues when someone has that username.

How it is kept safe: markdown-it parses with raw HTML off (a `<script>` a person types is
text), then nh3 keeps only an allow-list of tags and attributes, only http, https and mailto
URLs (and relative ones), and puts rel="nofollow noopener noreferrer" on every link. Images
are not shown: `![alt](url)` becomes a link to the URL, so no one's page fetches a remote
image (tracking pixels) and none can break the layout.

How it is kept cheap: the sanitised HTML of a text is cached (Django's default cache) under
a hash of the text and the renderer's version. Whether a referenced issue exists changes
without the text changing, so that stays outside the cache: the cached HTML links every
`#123` and remembers the ids; `MarkdownBatch` looks up every id referenced by the texts of a
page in one query and turns the links to missing issues back into plain text. Mentions go the
same way: one query for every username a page's texts mention.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape
from importlib.metadata import version
from typing import Any

import nh3
import pygments
from django.core.cache import cache
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.tasklists import tasklists_plugin
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

from . import selectors
from .rules import is_id

# Bump when the HTML this module makes changes; the libraries' versions are part of the key.
RENDERER_VERSION = 2
_KEY_SALT = ":".join(
    [str(RENDERER_VERSION), *(version(name) for name in ("markdown-it-py", "nh3", "pygments"))]
)
CACHE_SECONDS = 7 * 24 * 3600
# A person's headings sit under the page's: `#` is shown as <h3>, below the page's <h1> and
# the section's <h2> ("Description", "Comments"), so the page's outline stays whole.
HEADING_SHIFT = 2
# `#123`, not inside a word, a path or another reference (`a#1`, `/x#1`, `##1`).
ISSUE_REF = re.compile(r"(?<![\w/#&])#(\d{1,19})\b")
ISSUE_LINK = re.compile(r'<a href="[^"]*" class="issue-ref"[^>]*>#(\d+)</a>')
# `@username` (the login name, exactly as spelled; Django's username characters), not inside
# a word or an address (`ann@example.com`); a trailing `.` or `-` ends the sentence, not the name.
MENTION = re.compile(r"(?<![\w@.+-])@([\w.+-]{0,149}\w)")
MENTION_LINK = re.compile(r'<a href="[^"]*" class="mention"[^>]*>@([^<]+)</a>')

_TAGS = {
    "p", "br", "hr", "h3", "h4", "h5", "h6", "blockquote", "pre", "code", "span",
    "em", "strong", "s", "del", "a", "ul", "ol", "li", "label", "input", "div",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_CLASSES = {
    "a": {"issue-ref", "mention"},
    "span": set(STANDARD_TYPES.values()) - {""},
    "ul": {"contains-task-list"},
    "li": {"task-list-item"},
    "input": {"task-list-item-checkbox"},
    "div": {"md-table"},
    "th": {"align-left", "align-center", "align-right"},
    "td": {"align-left", "align-center", "align-right"},
}
_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags={"script", "style"},
    attributes={"a": {"href"}, "ol": {"start"}},
    tag_attribute_values={
        "input": {"type": {"checkbox"}, "checked": {"checked"}, "disabled": {"disabled"}},
        "pre": {"tabindex": {"0"}},
        "div": {"tabindex": {"0"}},
    },
    allowed_classes=_CLASSES,
    url_schemes={"http", "https", "mailto"},
    link_rel="nofollow noopener noreferrer",
    strip_comments=True,
)
_FORMATTER = HtmlFormatter(nowrap=True)


def _highlight(code: str, language: str) -> str:
    """`code` as escaped HTML, coloured when `language` names a lexer Pygments knows."""
    if language:
        try:
            lexer = get_lexer_by_name(language, stripnl=False, ensurenl=False)
        except ClassNotFound:
            pass
        else:
            return str(pygments.highlight(code, lexer, _FORMATTER))
    return escape(code, quote=False)


def _code_block(code: str, language: str) -> str:
    # Focusable so that a keyboard can scroll a long line into view.
    return f'<pre tabindex="0"><code>{_highlight(code, language)}</code></pre>\n'


class _Renderer(RendererHTML):
    def fence(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        language = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
        return _code_block(token.content, language)

    def code_block(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return _code_block(tokens[idx].content, "")

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        alt = self.renderInlineAsText(token.children or [], options, env)
        src = escape(str(token.attrGet("src") or ""))
        return f'<a href="{src}">{escape(alt or src, quote=False)}</a>'

    def heading_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return f"<h{_shifted(tokens[idx].tag)}>"

    def heading_close(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return f"</h{_shifted(tokens[idx].tag)}>\n"

    def table_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        # A wide table scrolls inside its own box instead of widening the page.
        return '<div class="md-table" tabindex="0"><table>\n'

    def table_close(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return "</table></div>\n"


def _shifted(tag: str) -> int:
    return min(int(tag[1:]) + HEADING_SHIFT, 6)


def _align_with_classes(state: StateCore) -> None:
    """A table column's alignment as a class: the Content-Security-Policy refuses style
    attributes."""
    for token in state.tokens:
        if token.type in ("th_open", "td_open") and token.attrs.get("style"):
            style = str(token.attrs.pop("style"))
            token.attrSet("class", "align-" + style.removeprefix("text-align:"))


def _rewrite_plain_text(
    state: StateCore, marker: str, split: Callable[[Token], list[Token]]
) -> None:
    """Replace each "text" token holding `marker` by what `split` makes of it, outside links
    (code spans and blocks are not "text" tokens, so they are never touched)."""
    for block in state.tokens:
        if block.type != "inline" or not block.children or marker not in block.content:
            continue
        children: list[Token] = []
        depth = 0
        for token in block.children:
            if token.type == "link_open":
                depth += 1
            elif token.type == "link_close":
                depth -= 1
            if token.type != "text" or depth > 0 or marker not in token.content:
                children.append(token)
                continue
            children.extend(split(token))
        block.children = children


def _link_issue_refs(state: StateCore) -> None:
    """Turn `#123` in plain text into a link to issue 123, noting the ids in
    env["issue_refs"]."""
    refs: set[int] = state.env.setdefault("issue_refs", set())
    _rewrite_plain_text(state, "#", lambda token: _split_refs(token, refs))


def _link_mentions(state: StateCore) -> None:
    """Turn `@username` in plain text into a link, noting the names in env["mentions"];
    MarkdownBatch keeps the links of people who exist."""
    names: set[str] = state.env.setdefault("mentions", set())
    _rewrite_plain_text(state, "@", lambda token: _split_mentions(token, names))


def _split_mentions(token: Token, names: set[str]) -> list[Token]:
    pieces: list[Token] = []
    text, last = token.content, 0
    for match in MENTION.finditer(text):
        if match.start() > last:
            pieces.append(_text(text[last : match.start()], token.level))
        link = Token("link_open", "a", 1, level=token.level)
        link.attrs = {"href": _issue_list_url(), "class": "mention"}
        pieces += [link, _text(match.group(), token.level + 1)]
        pieces.append(Token("link_close", "a", -1, level=token.level))
        names.add(match.group(1))
        last = match.end()
    if last < len(text):
        pieces.append(_text(text[last:], token.level))
    return pieces


@functools.cache
def _issue_list_url() -> str:
    return reverse("ui:issue-list")


def mentions(text: str) -> frozenset[str]:
    """The usernames `text` mentions (outside code and links), without rendering it."""
    if "@" not in text:
        return frozenset()
    env: dict[str, Any] = {}
    _MD.parse(text, env)
    return frozenset(env.get("mentions", ()))


def _split_refs(token: Token, refs: set[int]) -> list[Token]:
    pieces: list[Token] = []
    text, last = token.content, 0
    for match in ISSUE_REF.finditer(text):
        issue_id = int(match.group(1))
        if not is_id(issue_id):
            continue
        if match.start() > last:
            pieces.append(_text(text[last : match.start()], token.level))
        link = Token("link_open", "a", 1, level=token.level)
        link.attrs = {"href": _issue_url(issue_id), "class": "issue-ref"}
        pieces += [link, _text(match.group(), token.level + 1)]
        pieces.append(Token("link_close", "a", -1, level=token.level))
        refs.add(issue_id)
        last = match.end()
    if last < len(text):
        pieces.append(_text(text[last:], token.level))
    return pieces


@functools.cache
def _issue_url_prefix() -> str:
    # Reversed once: a text may hold thousands of references.
    return reverse("ui:issue-detail", kwargs={"issue_id": 1}).removesuffix("1/")


def _issue_url(issue_id: int) -> str:
    return f"{_issue_url_prefix()}{issue_id}/"


def _text(content: str, level: int) -> Token:
    return Token("text", "", 0, content=content, level=level)


def _parser() -> MarkdownIt:
    # "breaks": a newline in a paragraph is a line break, as on GitHub's issues and as
    # descriptions were shown before Markdown.
    md = MarkdownIt(
        "commonmark",
        {"html": False, "linkify": True, "breaks": True, "typographer": False},
        renderer_cls=_Renderer,
    )
    md.enable(["table", "strikethrough", "linkify"])
    md.use(tasklists_plugin, label=True)
    md.core.ruler.push("issue_refs", _link_issue_refs)
    md.core.ruler.push("mentions", _link_mentions)
    md.core.ruler.push("align_with_classes", _align_with_classes)
    return md


_MD = _parser()


@dataclass(frozen=True)
class Rendered:
    """A text's sanitised HTML, every `#id` and `@name` linked, the ids and the names."""

    html: str
    refs: frozenset[int]
    mentions: frozenset[str] = frozenset()


def render(text: str) -> Rendered:
    """Render and sanitise `text` (no cache, no database)."""
    env: dict[str, Any] = {}
    html = _CLEANER.clean(_MD.render(text, env))
    return Rendered(html, frozenset(env.get("issue_refs", ())), frozenset(env.get("mentions", ())))


def _cache_key(text: str) -> str:
    digest = hashlib.sha256(f"{_KEY_SALT}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"markdown:{digest}"


def render_cached(texts: Iterable[str]) -> dict[str, Rendered]:
    """Each distinct text's Rendered, from the cache (one round trip) or rendered and stored."""
    keys = {text: _cache_key(text) for text in set(texts) if text}
    found = cache.get_many(list(keys.values()))
    result: dict[str, Rendered] = {}
    missing: dict[str, Any] = {}
    for text, key in keys.items():
        hit = found.get(key)
        if hit is not None:
            result[text] = Rendered(hit[0], frozenset(hit[1]), frozenset(hit[2]))
        else:
            result[text] = rendered = render(text)
            missing[key] = (rendered.html, sorted(rendered.refs), sorted(rendered.mentions))
    if missing:
        cache.set_many(missing, CACHE_SECONDS)
    return result


def resolve_issue_links(
    rendered: Rendered,
    existing: frozenset[int] | set[int],
    people: dict[str, int] | None = None,
) -> SafeString:
    """`rendered`'s HTML with links to the issues in `existing` pointing at their pages and
    every other `#id` as plain text; `@name` of someone in `people` (username: id) links to
    the issues assigned to them, any other `@name` is plain text."""

    def link(match: re.Match[str]) -> str:
        return match.group() if int(match.group(1)) in existing else f"#{match.group(1)}"

    def mention(match: re.Match[str]) -> str:
        user_id = (people or {}).get(match.group(1))
        if user_id is None:
            return f"@{match.group(1)}"
        return (
            f'<a href="{_issue_list_url()}?assignee_id={user_id}" class="mention">'
            f"@{match.group(1)}</a>"
        )

    html = ISSUE_LINK.sub(link, rendered.html) if rendered.refs else rendered.html
    if rendered.mentions:
        html = MENTION_LINK.sub(mention, html)
    return mark_safe(html)  # sanitised by nh3; the issue and mention links are made here


class MarkdownBatch:
    """The texts one page shows, rendered (from the cache) with their `#id` links resolved
    in one query for all of them. `html(text)` of a text not in the batch renders it alone."""

    def __init__(self, texts: Iterable[str]) -> None:
        self._rendered = render_cached(texts)
        refs = frozenset().union(*(r.refs for r in self._rendered.values()))
        self._existing = selectors.existing_issue_ids(ids=refs) if refs else frozenset()
        names = frozenset().union(*(r.mentions for r in self._rendered.values()))
        self._people = selectors.user_ids_by_username(usernames=names) if names else {}

    def html(self, text: str) -> SafeString:
        if not text:
            return mark_safe("")
        if text not in self._rendered:
            return MarkdownBatch([text]).html(text)
        return resolve_issue_links(self._rendered[text], self._existing, self._people)


def markdown_html(text: str) -> SafeString:
    """One text as safe HTML (one cache look-up; one query when it references issues)."""
    return MarkdownBatch([text]).html(text)

"""Markdown rendering and sanitising (tracker/markdown.py), the template filter and the
preview endpoint. Hostile input must never come out as markup that runs or escapes."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tracker import services
from tracker.markdown import MarkdownBatch, markdown_html, render, render_cached
from tracker.rules import TEXT_MAX
from tracker.tests.factories import UserFactory

PREVIEW = "/ui/markdown/preview/"


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


class Markup(HTMLParser):
    """The elements and attributes a browser would build from `html` (text is not markup)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(name, value or "") for name, value in attrs]

    def handle_comment(self, data: str) -> None:
        self.tags.add("!--")


SAFE_TAGS = {
    "p", "br", "hr", "h3", "h4", "h5", "h6", "blockquote", "pre", "code", "span", "em",
    "strong", "s", "del", "a", "ul", "ol", "li", "label", "input", "div", "table", "thead",
    "tbody", "tr", "th", "td",
}  # fmt: skip
SAFE_ATTRIBUTES = {"href", "rel", "class", "type", "checked", "disabled", "start", "tabindex"}

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    "<iframe src=//evil.example></iframe>",
    "<style>body{display:none}</style>",
    "<!-- comment --><b onclick=alert(1)>b</b>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x]( javascript:alert(1) )",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](file:///etc/passwd)",
    '[x](https://ok.example "title" onmouseover=alert(1))',
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "![x](https://tracker.example/pixel.gif)",
    "<javascript:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "[ref][1]\n\n[1]: javascript:alert(1)",
    "[ref]\n\n[ref]: data:text/html,alert(1)",
    "![img][1]\n\n[1]: javascript:alert(1)",
    "javascript:alert(1) data:text/html,x",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "<scr<script>ipt>alert(1)</script>",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    '```"><script>alert(1)</script>\nx\n```',
    "| a |\n|---|\n| <script>alert(1)</script> |",
    "- [x] <img src=x onerror=alert(1)>",
    "# <script>alert(1)</script>",
    "[<img src=x onerror=alert(1)>](https://ok.example)",
    '[x](https://ok.example/"onmouseover="alert(1))',
    "https://ok.example/<script>alert(1)</script>",
    "#1<script>alert(1)</script>",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_leaves_no_active_markup(text):
    html = render(text).html
    markup = Markup(html)
    assert markup.tags <= SAFE_TAGS, html
    assert {name for name, _value in markup.attributes} <= SAFE_ATTRIBUTES, html
    for name, value in markup.attributes:
        if name == "href":  # http(s), mailto or a relative link: nothing that runs
            assert re.match(r"(https?:|mailto:|/|#|[^:]*$)", value), value


def test_raw_html_is_shown_as_text():
    assert render("<b>bold</b> <script>x()</script>").html == (
        "<p>&lt;b&gt;bold&lt;/b&gt; &lt;script&gt;x()&lt;/script&gt;</p>\n"
    )


def test_links_get_rel_and_only_allowed_schemes():
    html = render("[a](https://ok.example) [b](/ui/issues/) [c](mailto:a@b.example) <ftp://x>").html
    assert html.count('rel="nofollow noopener noreferrer"') == 4
    assert 'href="https://ok.example"' in html
    assert 'href="/ui/issues/"' in html
    assert 'href="mailto:a@b.example"' in html
    assert '<a rel="nofollow noopener noreferrer">ftp://x</a>' in html  # the URL dropped


def test_images_are_links_to_the_image_not_images():
    html = render("![a chart](https://ok.example/chart.png)").html
    assert html == (
        '<p><a href="https://ok.example/chart.png" rel="nofollow noopener noreferrer">'
        "a chart</a></p>\n"
    )


def test_github_flavoured_features():
    html = render(
        "~~old~~ **bold** _it_\n\n"
        "| Name | Qty |\n|:-----|----:|\n| pen | 2 |\n\n"
        "- [ ] to do\n- [x] done\n\n"
        "see https://ok.example/page and www.example.com"
    ).html
    assert "<s>old</s>" in html and "<strong>bold</strong>" in html and "<em>it</em>" in html
    assert '<div class="md-table" tabindex="0"><table>' in html
    assert '<th class="align-left">Name</th>' in html
    assert '<td class="align-right">2</td>' in html
    assert html.count('type="checkbox"') == 2 and html.count('checked="checked"') == 1
    assert '<ul class="contains-task-list">' in html
    assert '<a href="https://ok.example/page" rel="nofollow noopener noreferrer">' in html
    assert '<a href="http://www.example.com" rel="nofollow noopener noreferrer">' in html


def test_headings_sit_below_the_page_headings():
    html = render("# One\n\n## Two\n\n###### Six").html
    assert html == "<h3>One</h3>\n<h4>Two</h4>\n<h6>Six</h6>\n"


def test_newlines_are_line_breaks():
    assert render("first\nsecond").html == "<p>first<br>\nsecond</p>\n"


def test_code_blocks_keep_their_whitespace():
    code = "def f():\n    return  {'a':\t1}\n\n\n    # end\n"
    html = render(f"```\n{code}```").html
    assert html == f'<pre tabindex="0"><code>{code.replace(chr(39), chr(39))}</code></pre>\n'
    indented = render("    a   b\n      c").html
    assert indented == '<pre tabindex="0"><code>a   b\n  c\n</code></pre>\n'


def test_fenced_code_in_a_known_language_is_coloured_on_the_server():
    html = render("```python\nif x:\n    y = 'a  b'\n```").html
    assert '<span class="k">if</span>' in html
    assert "'a  b'" in html
    assert re.sub(r"<[^>]+>", "", html) == "if x:\n    y = 'a  b'\n\n"
    unknown = render("```no-such-language\n<b>x</b>\n```").html
    assert unknown == '<pre tabindex="0"><code>&lt;b&gt;x&lt;/b&gt;\n</code></pre>\n'


def test_issue_references_are_collected_outside_code_and_links():
    rendered = render(
        "Fixes #12 and (#13), see [#14](https://ok.example) and https://ok.example/#15\n\n"
        "`#16` a#17 /x#18 ##19 #0\n\n```\n#20\n```\n\n    #21\n\n> #22"
    )
    assert rendered.refs == {12, 13, 22}
    assert 'href="https://ok.example"' in rendered.html


@pytest.mark.django_db
def test_issue_references_link_only_existing_issues():
    issue = services.issue_create(title="Referenced")
    missing = issue.pk + 1000
    html = markdown_html(f"See #{issue.pk} and #{missing}.")
    assert html == (
        f'<p>See <a href="/ui/issues/{issue.pk}/" class="issue-ref" '
        f'rel="nofollow noopener noreferrer">#{issue.pk}</a> and #{missing}.</p>\n'
    )


@pytest.mark.django_db
def test_one_query_resolves_every_reference_of_a_page():
    issues = [services.issue_create(title=f"Issue {n}") for n in range(5)]
    texts = [f"#{issue.pk} and #{issue.pk + 100}" for issue in issues] + ["no refs", ""]
    with CaptureQueriesContext(connection) as queries:
        batch = MarkdownBatch(texts)
        htmls = [batch.html(text) for text in texts]
    assert len(queries) == 1
    for issue, html in zip(issues, htmls[:5], strict=True):
        assert html.count('class="issue-ref"') == 1
        assert f'href="/ui/issues/{issue.pk}/"' in html and f"#{issue.pk + 100}</p>" in html
    with CaptureQueriesContext(connection) as queries:
        MarkdownBatch(["plain text"])
    assert len(queries) == 0


@pytest.mark.django_db
def test_the_cache_keeps_rendered_html_but_not_which_issues_exist():
    text = "Depends on #999999 **now**"
    assert "#999999" in markdown_html(text) and "issue-ref" not in markdown_html(text)
    assert render_cached([text])[text] == render(text)
    # An issue made later with a referenced number is linked at once, from the cached HTML.
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('issues', 'id'))")
        next_id = cursor.fetchone()[0] + 1
    text = f"Depends on #{next_id} **now**"
    assert "issue-ref" not in markdown_html(text)
    later = services.issue_create(title="Later")
    assert later.pk == next_id
    assert f'href="/ui/issues/{next_id}/"' in markdown_html(text)


def test_cached_render_is_reused(monkeypatch):
    calls: list[str] = []
    import tracker.markdown as module

    real = module.render

    def counted(text: str) -> module.Rendered:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(module, "render", counted)
    render_cached(["a *b*", "a *b*", "c"])
    render_cached(["a *b*", "c"])
    assert sorted(calls) == ["a *b*", "c"]


@pytest.mark.parametrize(
    "text",
    [
        "*" * 50_000,
        "[" * 50_000,
        "_" * 50_000,
        "`" * 50_000,
        "> " * 30_000,
        "- " * 30_000,
        "*a" * 30_000,
        "[a](" * 15_000,
        "<" * 50_000,
        "![" * 30_000,
        "#1 " * 20_000,
        "**a " * 15_000,
        "|" * 50_000,
        "a" * TEXT_MAX,
    ],
    ids=lambda text: f"{text[:4]!r}x{len(text)}",
)
def test_huge_pathological_inputs_render(text):
    html = render(text).html
    assert html.startswith("<")


def test_long_words_and_urls_are_kept_whole_for_css_to_wrap():
    word = "x" * 5000
    assert word in render(word).html


@pytest.mark.django_db
def test_filter_and_page_use_the_rendering(client):
    from django.template import Context, Template

    issue = services.issue_create(title="Rich", description="# Steps\n\n1. **Click**\n2. See #1")
    author = UserFactory.create(name="Ann")
    services.comment_add(issue_id=issue.pk, author_id=author.pk, body="Fixed in `main` <script>")
    out = Template("{% load markdown_ui %}{{ text|markdown }}").render(Context({"text": "*a*"}))
    assert out == "<p><em>a</em></p>\n"
    page = client.get(f"/ui/issues/{issue.pk}/").content.decode()
    assert "<h3>Steps</h3>" in page and "<strong>Click</strong>" in page
    assert "<code>main</code> &lt;script&gt;" in page
    assert "<li>See #1</li>" in page or 'class="issue-ref"' in page


@pytest.mark.django_db
def test_api_returns_the_source_text_unchanged(client):
    text = "# Title\n\n- [ ] task <b>x</b> #1"
    issue = services.issue_create(title="Source", description=text)
    assert client.get(f"/issues/{issue.pk}").json()["description"] == text


@pytest.mark.django_db
def test_preview_renders_the_fragment(client):
    response = client.post(PREVIEW, {"text": "**hi** <script>alert(1)</script>"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert (
        response.content.decode()
        == "<p><strong>hi</strong> &lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
    )
    empty = client.post(PREVIEW, {"text": "  "})
    assert empty.status_code == 200 and "Nothing to preview" in empty.content.decode()


@pytest.mark.django_db
def test_preview_is_held_to_the_field_limits(client):
    too_long = client.post(PREVIEW, {"text": "x" * (TEXT_MAX + 1)})
    assert too_long.status_code == 400
    assert f"Text is too long (max {TEXT_MAX})" in too_long.content.decode()
    bad = client.post(PREVIEW, {"text": "a\x00b"})
    assert bad.status_code == 400
    assert "Text contains a character that is not allowed (\\u0000)" in bad.content.decode()
    assert client.get(PREVIEW).status_code == 405


@pytest.mark.django_db
def test_preview_needs_the_csrf_token_and_a_writer(settings, login_user):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post(PREVIEW, {"text": "x"}).status_code == 403
    settings.TRACKER_REQUIRE_AUTH = True
    anonymous = Client()
    assert anonymous.post(PREVIEW, {"text": "x"}).status_code == 403
    anonymous.force_login(login_user)
    assert anonymous.post(PREVIEW, {"text": "*x*"}).content == b"<p><em>x</em></p>\n"


@pytest.mark.django_db
def test_the_issue_page_checks_all_its_references_in_one_query(client, django_assert_num_queries):
    author = UserFactory.create(name="Ann")
    plain = services.issue_create(title="Plain", description="no references")
    for n in range(3):
        services.comment_add(issue_id=plain.pk, author_id=author.pk, body=f"note {n}")
    with CaptureQueriesContext(connection) as baseline:
        assert client.get(f"/ui/issues/{plain.pk}/").status_code == 200
    rich = services.issue_create(title="Rich", description=f"#{plain.pk} #{plain.pk + 50}")
    for n in range(3):
        services.comment_add(issue_id=rich.pk, author_id=author.pk, body=f"#{n} and #{plain.pk}")
    cache.clear()
    with django_assert_num_queries(len(baseline) + 1):
        page = client.get(f"/ui/issues/{rich.pk}/").content.decode()
    assert page.count(f'href="/ui/issues/{plain.pk}/" class="issue-ref"') == 4

"""Markdown on the issue pages in a real browser: hostile text runs nothing, nothing a person
writes leaves its column, the Write/Preview toggle, and axe on a richly written issue."""

from __future__ import annotations

from playwright.sync_api import expect

from tracker import services
from tracker.tests.factories import UserFactory
from tracker.tests.test_markdown import HOSTILE

from .conftest import axe_violations, screenshot

PHONE = {"width": 375, "height": 740}

RICH = """# Steps to reproduce

1. Open the **checkout** page (see #{ref} and https://example.com/checkout?step=2)
2. Click *Pay* twice
3. ~~Refresh~~ nothing else

## What happens

> The button stays grey.

| Browser | Version | Result |
|:--------|--------:|:------:|
| Firefox | 128 | fails |
| Chromium | 131 | works |

- [x] reproduced
- [ ] fixed

```python
def pay(cart):
    return  cart.total   # two spaces kept
```

Inline `code` and a [link](https://example.com/docs).
"""

WIDE = (
    "A" * 400
    + "\n\nhttps://example.com/"
    + "very-long-path-segment/" * 30
    + "\n\n| "
    + " | ".join(f"column {n} with a long heading" for n in range(30))
    + " |\n|"
    + "---|" * 30
    + "\n| "
    + " | ".join("cell" for _ in range(30))
    + " |\n\n```\n"
    + "x = 1;" * 200
    + "\n```\n\n> "
    + "quote" * 200
    + "\n\n- [ ] "
    + "task" * 200
    + "\n\n`"
    + "code" * 200
    + "`"
)


def _escapes(page) -> list[str]:
    """Elements of rendered Markdown reaching past the right edge of their .markdown box,
    and whether the page itself scrolls sideways. A box that scrolls (overflow auto) may
    hold wider content: that content is clipped to the box."""
    return page.evaluate(
        """() => {
          const out = [];
          if (document.documentElement.scrollWidth > window.innerWidth + 1) out.push("page");
          for (const box of document.querySelectorAll(".markdown")) {
            const edge = box.getBoundingClientRect().right + 1;
            for (const el of box.querySelectorAll("*")) {
              if (el.closest("pre, .md-table") && !el.matches("pre, .md-table")) continue;
              if (el.getBoundingClientRect().right > edge) out.push(el.tagName);
            }
          }
          return out;
        }"""
    )


def test_a_hostile_description_and_comments_run_nothing(page):
    author = UserFactory.create(name="Mallory")
    issue = services.issue_create(title="Hostile", description="\n\n".join(HOSTILE))
    for text in HOSTILE:
        services.comment_add(issue_id=issue.pk, author_id=author.pk, body=text)
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(f"/ui/issues/{issue.pk}/")
    expect(page.locator(".comment")).to_have_count(len(HOSTILE))
    # Give anything that would fire on load or on hover a chance to.
    for link in page.locator(".markdown a").all()[:20]:
        link.hover()
    page.wait_for_timeout(300)
    assert dialogs == []
    assert (
        page.locator(".markdown script, .markdown img, .markdown iframe, .markdown svg").count()
        == 0
    )
    hrefs = page.eval_on_selector_all(".markdown a[href]", "links => links.map(a => a.href)")
    assert all(href.startswith(("http:", "https:", "mailto:")) for href in hrefs), hrefs
    expect(page.locator(".issue-main")).to_contain_text("<script>alert(1)</script>")
    screenshot(page, "markdown-hostile")


def test_nothing_written_escapes_its_column(new_page):
    author = UserFactory.create(name="Ann")
    issue = services.issue_create(title="Wide", description=WIDE)
    services.comment_add(issue_id=issue.pk, author_id=author.pk, body=WIDE)
    for name, viewport in (("desktop", None), ("phone", PHONE)):
        page = new_page(viewport)
        page.goto(f"/ui/issues/{issue.pk}/")
        expect(page.locator(".markdown table")).to_have_count(2)
        assert _escapes(page) == [], name
        # The wide table and code scroll inside their own boxes.
        assert page.eval_on_selector(".markdown .md-table", "e => e.scrollWidth > e.clientWidth")
        assert page.eval_on_selector(".markdown pre", "e => e.scrollWidth > e.clientWidth")
        screenshot(page, f"markdown-wide-{name}")


def test_rich_markdown_is_shown_and_passes_axe(page):
    other = services.issue_create(title="The other one")
    author = UserFactory.create(name="Ann")
    issue = services.issue_create(title="Rich", description=RICH.format(ref=other.pk))
    services.comment_add(
        issue_id=issue.pk, author_id=author.pk, body="Same here, see #99999 and `#1`.\n\n- a\n- b"
    )
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"/ui/issues/{issue.pk}/")
    description = page.locator(".card .markdown").first
    expect(description.locator("h3")).to_have_text("Steps to reproduce")
    expect(description.locator("table th")).to_have_count(3)
    expect(description.locator("input[type=checkbox]:checked")).to_have_count(1)
    expect(description.locator(f'a.issue-ref[href="/ui/issues/{other.pk}/"]')).to_have_text(
        f"#{other.pk}"
    )
    expect(description.locator("pre code")).to_contain_text("return  cart.total   # two spaces")
    expect(description.locator("s")).to_have_text("Refresh")
    comment = page.locator(".comment .markdown")
    expect(comment).to_contain_text("see #99999")
    expect(comment.locator("a.issue-ref")).to_have_count(0)
    expect(description.locator("td.align-right").first).to_have_css("text-align", "right")
    screenshot(page, "markdown-rich")
    assert axe_violations(page) == []
    assert [text for text in console if "Content Security Policy" in text] == []


def test_the_preview_toggle_renders_through_the_server(page):
    page.goto("/ui/issues/new/")
    description = page.get_by_label("Description")
    description.fill("**Bold** and <script>alert(1)</script>\n\n- [x] done")
    write = page.get_by_role("button", name="Write")
    preview = page.get_by_role("button", name="Preview")
    expect(write).to_have_attribute("aria-pressed", "true")
    preview.click()
    shown = page.locator(".md-preview")
    expect(shown.locator("strong")).to_have_text("Bold")
    expect(shown).to_contain_text("<script>alert(1)</script>")
    expect(shown.locator("input[type=checkbox]")).to_be_checked()
    expect(description).to_be_hidden()
    expect(preview).to_have_attribute("aria-pressed", "true")
    assert axe_violations(page) == []
    screenshot(page, "markdown-preview")
    write.click()
    expect(description).to_be_visible()
    expect(shown).to_be_hidden()
    page.get_by_label("Title").fill("Previewed")
    page.get_by_role("button", name="Create issue").click()
    expect(page.locator(".markdown strong")).to_have_text("Bold")


def test_the_comment_form_previews_too(page):
    UserFactory.create(name="Ann")
    issue = services.issue_create(title="Commented")
    page.goto(f"/ui/issues/{issue.pk}/")
    page.get_by_label("Comment", exact=True).fill(f"A `snippet` and #{issue.pk}")
    page.locator(".comment-form").get_by_role("button", name="Preview").click()
    shown = page.locator(".comment-form .md-preview")
    expect(shown.locator("code")).to_have_text("snippet")
    expect(shown.locator("a.issue-ref")).to_have_attribute("href", f"/ui/issues/{issue.pk}/")
    too_long = "x" * 70_000
    page.locator(".comment-form").get_by_role("button", name="Write").click()
    page.get_by_label("Comment", exact=True).fill(too_long)
    page.locator(".comment-form").get_by_role("button", name="Preview").click()
    expect(shown).to_contain_text("Text is too long (max 65536)")


def test_without_javascript_the_fields_are_plain_textareas(browser, live_server):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/ui/issues/new/")
        expect(page.get_by_label("Description")).to_be_visible()
        expect(page.get_by_role("button", name="Preview")).to_have_count(0)
        page.get_by_label("Title").fill("No script")
        page.get_by_label("Description").fill("*still* Markdown")
        page.get_by_role("button", name="Create issue").click()
        expect(page.locator(".markdown em")).to_have_text("still")
    finally:
        context.close()

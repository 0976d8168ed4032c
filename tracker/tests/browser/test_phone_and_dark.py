"""Every page at a phone's size (390x844) and a desktop's (1280x900), in the light and the
dark scheme: axe's checks (contrast included) pass, nothing widens the page, and a
screenshot of each is written to docs/screenshots/. Then the phone layout itself: folded
filters, the list's second line, the issue's facts above its description, exact dates on a
tap, and charts drawn to the screen's size."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tracker import charts, services
from tracker.models import User
from tracker.tests.factories import UserFactory

from .conftest import DOC_SCREENSHOTS, SIZES
from .conftest import axe_violations as violations
from .test_reports_pages import fill_tracker

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = {
    "login": "/accounts/login/",
    "issue-list": "/ui/issues/?per_page=20",
    "issue-page": "/ui/issues/{id}/",
    "issue-new": "/ui/issues/new/",
    "issue-edit": "/ui/issues/{id}/edit/",
    "import": "/ui/import/",
    "reports": "/ui/reports/",
    "people": "/ui/people/",
    "me": "/ui/me/",
}


def shown_issue() -> int:
    alice = User.objects.get(name="Alice Martin")
    issue = services.issue_create(
        title="Printer on floor 3 jams on duplex jobs",
        description="Steps:\n\n1. Print a *duplex* job\n2. Wait\n\n```python\nprint('jam')\n```",
        assignee_id=alice.pk,
        labels=["bug", "hardware"],
    )
    services.comment_add(issue_id=issue.pk, author_id=alice.pk, body="Seen it **twice** today.")
    services.issue_update(issue_id=issue.pk, version=issue.version, status="in_progress")
    return issue.pk


def log_in(page) -> None:
    page.goto("/accounts/login/?next=/ui/me/")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/ui/me/$"))


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_at_both_sizes_and_in_both_schemes(new_page, size, scheme):
    fill_tracker()
    User.objects.create_user("sam", "correct-horse-battery", name="Sam Carter")
    issue_id = shown_issue()
    page = new_page(viewport=SIZES[size], color_scheme=scheme)
    DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    suffix = f"-{size}" + ("-dark" if scheme == "dark" else "")
    for name, path in PAGES.items():
        if name == "me":
            log_in(page)
        page.goto(path.format(id=issue_id))
        expect(page.locator("h1")).to_be_visible()
        assert violations(page) == [], name
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"], name
        # Dark screenshots of the window only: the light ones show the whole page.
        page.screenshot(path=DOC_SCREENSHOTS / f"{name}{suffix}.png", full_page=scheme == "light")


@pytest.mark.parametrize("size", list(SIZES))
def test_the_list_on_a_phone(new_page, size):
    fill_tracker()
    page = new_page(viewport=SIZES[size])
    page.goto("/ui/issues/?label=")
    search = page.get_by_label("Search titles")
    toggle = page.locator("summary", has_text="Filters")
    first_row = page.locator("table.issues tbody tr").first
    meta = first_row.locator(".row-meta")
    if size == "phone":
        expect(search).to_be_hidden()
        toggle.click()
        expect(search).to_be_visible()
        toggle.click()
        expect(search).to_be_hidden()
        # Widened to a desktop's width, the filters show again (there is no button there).
        page.set_viewport_size(SIZES["desktop"])
        expect(search).to_be_visible()
        page.set_viewport_size(SIZES["phone"])
        # Status, assignee and date on a second line under the title.
        expect(meta).to_be_visible()
        expect(meta.locator(".badge")).to_be_visible()
        expect(meta.locator("time")).to_be_visible()
        expect(page.get_by_role("columnheader", name="Assignee")).to_be_hidden()
    else:
        expect(search).to_be_visible()
        expect(toggle).to_be_hidden()
        expect(meta).to_be_hidden()
        expect(page.get_by_role("columnheader", name="Assignee")).to_be_visible()


def test_the_filters_show_without_javascript(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, viewport=SIZES["phone"], java_script_enabled=False
    )
    page = context.new_page()
    page.goto("/ui/issues/")
    expect(page.get_by_label("Search titles")).to_be_visible()
    context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_the_issue_page_on_a_phone(new_page, size):
    UserFactory.create(name="Alice Martin")
    issue_id = shown_issue()
    page = new_page(viewport=SIZES[size])
    page.goto(f"/ui/issues/{issue_id}/")
    facts = page.locator("dl.facts").bounding_box()
    labels = page.get_by_role("heading", name="Labels").bounding_box()
    description = page.locator(".issue-main .prose").first.bounding_box()
    if size == "phone":
        # Status, assignee and labels come before the description.
        assert facts["y"] + facts["height"] <= description["y"]
        assert labels["y"] < description["y"]
    else:
        assert facts["x"] > description["x"] + description["width"]

    # The exact date, without hovering: focus (a tap) writes it out.
    when = page.locator("dl.facts time").first
    exact = when.get_attribute("title")
    assert re.match(r"\d+ \w+ \d{4}, \d\d:\d\d:\d\d", exact)
    when.focus()
    shown = when.evaluate("t => getComputedStyle(t, '::after').content")
    assert shown == f'"{exact}"'
    assert when.evaluate("t => getComputedStyle(t, '::after').display") != "none"


@pytest.mark.parametrize("interval", ["day", "week"])
@pytest.mark.parametrize("size", list(SIZES))
def test_the_charts_fit_the_screen_with_legible_ticks(new_page, size, interval):
    fill_tracker()
    page = new_page(viewport=SIZES[size])
    page.goto(f"/ui/reports/?interval={interval}")
    visible = page.locator("svg.chart:visible")
    expect(visible).to_have_count(4)
    if size != "phone":
        return
    for svg in visible.all():
        box = svg.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    sizes = page.evaluate(
        """() => Array.from(document.querySelectorAll('svg.chart'))
            .filter(svg => svg.getBoundingClientRect().width > 0)
            .flatMap(svg => Array.from(svg.querySelectorAll('text')).map(
                t => parseFloat(getComputedStyle(t).fontSize) * svg.getScreenCTM().a))"""
    )
    assert sizes and min(sizes) >= 11, min(sizes)
    # The latest period is drawn, labelled at the right end.
    today = timezone.localdate()
    if interval == "day":
        last_label = page.locator("#chart-series-narrow-title").locator("..").locator("text.tick")
        expect(last_label.last).to_have_text(charts.short_date(today))


def test_the_charts_follow_the_colour_scheme(new_page):
    fill_tracker()
    colours = {}
    for scheme in ("light", "dark"):
        page = new_page(color_scheme=scheme)
        page.goto("/ui/reports/")
        line = page.locator("#chart-series-title").locator("..").locator(".line-created")
        text = page.locator("#chart-series-title").locator("..").locator("text.tick").first
        colours[scheme] = (
            line.evaluate("e => getComputedStyle(e).stroke"),
            text.evaluate("e => getComputedStyle(e).fill"),
            page.evaluate("getComputedStyle(document.documentElement).backgroundColor"),
        )
    assert all(a != b for a, b in zip(colours["light"], colours["dark"], strict=True)), colours

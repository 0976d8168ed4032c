from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tracker.models import Issue, User
from tracker.tests.factories import IssueFactory, UserFactory, record_creation

from .conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = [
    "Alice Martin",
    "Bob Chen",
    "Carla Souza",
    "Dmitri Volkov",
    "Emma Johansson",
    "Farid Haddad",
]


def fill_tracker() -> list[User]:
    """A few weeks of a small team's work: enough for every chart to have a shape."""
    rng = random.Random(7)
    people = [UserFactory.create(name=name) for name in NAMES]
    now = timezone.now()
    issues = []
    for n in range(420):
        created = now - timedelta(days=rng.uniform(0, 84), minutes=n)
        status = rng.choices(["open", "in_progress", "closed"], weights=[4, 2, 5])[0]
        took = timedelta(hours=rng.uniform(0.2, 1.0) * rng.choice([1, 3, 10, 40, 200]))
        resolved = min(created + took, now) if status == "closed" else None
        assignee = people[min(int(rng.expovariate(0.6)), len(people) - 1)]
        issues.append(
            IssueFactory.build(
                title=f"Issue {n}",
                status=status,
                assignee=None if n % 11 == 0 else assignee,
                created_at=created,
                updated_at=created,
                resolved_at=resolved,
            )
        )
    record_creation(Issue.objects.bulk_create(issues))
    return people


def test_dashboard_shows_its_charts_as_inline_svg(page, live_server):
    fill_tracker()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto("/ui/reports/")

    expect(page.get_by_role("heading", name="Reports", level=1)).to_be_visible()
    # Four charts, each also drawn narrow for a phone (hidden here).
    charts = page.locator("svg[role=img]:visible")
    expect(charts).to_have_count(4)
    for name in (
        "Issues created and resolved per day",
        "Issues per assignee",
        "Issues per status",
        "Time to resolve an issue",
    ):
        expect(page.get_by_role("img", name=name)).to_be_visible()
    expect(page.locator("script")).to_have_count(0)
    assert all(url.startswith(live_server.url) for url in requests), requests
    expect(page.get_by_role("link", name="Reports", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    # Every chart's numbers are in a table beside it.
    expect(page.locator("table.numbers")).to_have_count(4)
    expect(page.get_by_role("row", name="Alice Martin")).to_be_visible()
    screenshot(page, "reports-dashboard")

    page.get_by_role("link", name="Weekly").click()
    expect(page).to_have_url(f"{live_server.url}/ui/reports/?interval=week")
    expect(page.get_by_role("link", name="Weekly")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("img", name="Issues created and resolved per week")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Week")).to_be_visible()
    screenshot(page, "reports-dashboard-weekly")


def test_dashboard_on_a_phone_sized_window(new_page):
    fill_tracker()
    page = new_page(viewport={"width": 390, "height": 844})
    page.goto("/ui/reports/")
    expect(page.locator("svg[role=img]:visible")).to_have_count(4)
    # Nothing pushes the page wider than the window: the charts are drawn to its size.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "reports-dashboard-phone")


def test_people_page_adds_a_person_with_the_keyboard(page):
    people = fill_tracker()
    page.goto("/ui/people/")

    alice = page.get_by_role("link", name="Alice Martin", exact=True)
    expect(alice).to_have_attribute("href", f"/ui/issues/?assignee_id={people[0].pk}")

    page.get_by_role("button", name="Add person").click()
    expect(page.get_by_text("Name is required")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Name").fill("Grace Okafor")
    page.get_by_label("Name").press("Enter")

    expect(page.get_by_role("status")).to_contain_text("Added Grace Okafor.")
    grace = User.objects.get(name="Grace Okafor")
    expect(page).to_have_url(f"{page.url.split('#')[0]}#person-{grace.pk}")
    expect(page.get_by_role("link", name="Grace Okafor", exact=True)).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("")
    screenshot(page, "people")


def test_people_page_asks_before_adding_a_second_person_with_a_name(page):
    UserFactory.create(name="Grace Okafor")
    page.goto("/ui/people/")
    page.get_by_label("Name").fill("  grace okafor ")
    page.get_by_role("button", name="Add person").click()
    expect(page.locator("#name-errors")).to_have_text("Someone named 'Grace Okafor' already exists")
    assert User.objects.count() == 1
    screenshot(page, "people-same-name")

    page.get_by_label("Yes, add another person named grace okafor").check()
    page.get_by_role("button", name="Add person").click()
    expect(page.get_by_role("status")).to_contain_text("Added grace okafor.")
    assert User.objects.filter(name__iexact="grace okafor").count() == 2

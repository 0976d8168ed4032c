"""Every page works under the Content-Security-Policy: the browser reports no violation on
the pages, the admin, the browsable API and the API docs, and the docs still render the API."""

from __future__ import annotations

import pytest
from playwright.sync_api import ConsoleMessage, expect

from tracker import services
from tracker.tests.factories import UserFactory

# Runs in every document before its own scripts (Playwright's init scripts are not subject to
# the page's policy), so a violation is recorded even when the console says nothing.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} ` +
      `(${event.sourceFile}:${event.lineNumber})`
  );
});
"""


@pytest.fixture
def violations(page):
    """Each CSP violation the page reports, from the console and from the DOM event."""
    found: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(f"console: {message.text}")

    page.on("console", console)
    return found


def visit(page, violations: list[str], path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.ok, f"{path}: {response and response.status}"
    assert "content-security-policy" in response.headers, f"{path} has no policy"
    page.wait_for_load_state("networkidle")
    violations.extend(f"{path}: {v}" for v in page.evaluate("window.__cspViolations || []"))


@pytest.mark.django_db(transaction=True)
def test_no_page_violates_the_content_security_policy(page, violations):
    alice = UserFactory.create(name="Alice")
    issue = services.issue_create(title="Checkout fails", assignee_id=alice.pk, labels=["bug"])
    services.comment_add(issue_id=issue.pk, body="Seen on Firefox", author_id=alice.pk)

    visit(page, violations, "/accounts/login/")
    for path in (
        "/ui/issues/",
        f"/ui/issues/{issue.pk}/",
        "/ui/issues/new/",
        f"/ui/issues/{issue.pk}/edit/",
        "/ui/import/",
        "/ui/reports/",
        "/ui/people/",
        "/issues",
    ):
        visit(page, violations, path)

    visit(page, violations, "/docs")
    expect(page.get_by_text("Create an issue").first).to_be_visible(timeout=30_000)
    page.get_by_text("Create an issue").first.click()
    expect(page.get_by_role("button", name="Try it out")).to_be_visible()
    page.wait_for_load_state("networkidle")
    violations.extend(f"/docs: {v}" for v in page.evaluate("window.__cspViolations"))

    visit(page, violations, "/redoc")
    # ReDoc lays the whole schema out before it shows anything: slow on a busy machine.
    expect(page.get_by_role("heading", name="Create an issue")).to_be_visible(timeout=30_000)
    page.get_by_placeholder("Search...").fill("labels")
    expect(page.get_by_role("menuitem", name="Replace an issue's labels").first).to_be_visible()
    violations.extend(f"/redoc: {v}" for v in page.evaluate("window.__cspViolations"))

    assert violations == [], "\n".join(violations)


@pytest.mark.django_db(transaction=True)
def test_the_admin_runs_under_the_content_security_policy(page, violations):
    issue = services.issue_create(title="Checkout fails", labels=["bug"])
    staff = UserFactory.create(name="Sam Staff", username="sam", is_staff=True, is_superuser=True)
    staff.set_password("a long enough password")
    staff.save()

    visit(page, violations, "/admin/login/")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    visit(page, violations, "/admin/")
    visit(page, violations, f"/admin/tracker/issue/{issue.pk}/change/")
    expect(page.get_by_label("Title")).to_have_value("Checkout fails")
    visit(page, violations, "/admin/tracker/issue/")
    visit(page, violations, "/admin/tracker/issue/add/")
    visit(page, violations, "/admin/tracker/user/")

    assert violations == [], "\n".join(violations)

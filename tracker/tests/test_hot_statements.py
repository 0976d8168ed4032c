"""The hot paths' statements as PostgreSQL sees them: prepared once per connection and
planned once (issuetracker/postgresql/base.py), and a comment that does not hold its issue's
row for its whole transaction (migration 0013)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

import pytest
from django.db import DataError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from issuetracker.postgresql.base import prepared_cursor
from tracker import pagination, services
from tracker.errors import VersionConflict
from tracker.models import Comment, Notification

from .factories import UserFactory
from .threads import returned, run_together


def prepared() -> dict[str, tuple[int, int]]:
    """This connection's prepared statements: text -> (generic plans, custom plans)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        return {statement: (generic, custom) for statement, generic, custom in cursor.fetchall()}


def plans_of(fragment: str) -> tuple[int, int]:
    found = [plans for statement, plans in prepared().items() if fragment in statement]
    assert len(found) == 1, f"{len(found)} prepared statements contain {fragment!r}"
    return found[0]


@pytest.fixture
def none_prepared(transactional_db) -> None:
    """The test starts on a new connection, with no prepared statement: what earlier tests
    prepared outlives their rollbacks (issuetracker/postgresql/base.py)."""
    connection.close()


@pytest.mark.usefixtures("none_prepared")
def test_a_change_writes_its_events_with_one_prepared_statement_planned_once(api):
    user = UserFactory.create(name="Ann")
    for n in range(8):
        response = api.post("/issues", {"title": f"Issue {n}", "assignee_id": user.pk})
        assert response.status_code == 201
    generic, custom = plans_of("INSERT INTO issue_events")
    # PostgreSQL plans the first five runs for their values, then keeps one plan: the
    # statement's one row of parameters per event lets it see that plan is as good.
    assert (generic, custom) == (3, 5)
    assert sum(plans_of("INSERT INTO issues")) == 8
    # Django's own queries: never prepared (the connection keeps no threshold).
    assert connection.connection.prepare_threshold is None
    assert all("%s" not in statement and "$1" in statement for statement in prepared())


@pytest.mark.usefixtures("none_prepared")
def test_every_mix_of_values_is_one_statement(api):
    """ints are bound as bigints whatever their size, None as well as values: the count of
    statements does not grow with the ids."""
    small = UserFactory.create(name="Small")
    issue = services.issue_create(title="First", assignee_id=small.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval('issues_id_seq', 3000000000)")
    large = services.issue_create(title="Second", assignee_id=small.pk)
    assert large.pk > 2**31 > issue.pk
    for pk in (issue.pk, large.pk):
        assert api.get(f"/issues/{pk}").status_code == 200
    assert len([s for s in prepared() if "INSERT INTO issue_events" in s]) == 1
    assert len([s for s in prepared() if "json_build_object" in s and "comments" in s]) == 1


@pytest.mark.django_db
def test_without_prepared_statements_the_hot_paths_work_the_same(api):
    """DATABASE_PREPARE=false (a pooler that cannot keep prepared statements)."""
    connection.settings_dict["PREPARE"] = False
    try:
        unprepared(api)
    finally:
        connection.settings_dict["PREPARE"] = True


def unprepared(api) -> None:
    # The connection may keep what earlier tests prepared; nothing more is prepared or run.
    before = prepared()
    user = UserFactory.create(name="Ann")
    created = api.post("/issues", {"title": "Unprepared", "assignee_id": user.pk}).json()
    patched = api.patch(f"/issues/{created['id']}", {"title": "Still", "version": 1})
    assert patched.status_code == 200
    comment = api.post(f"/issues/{created['id']}/comments", {"body": "Hi", "author_id": user.pk})
    assert comment.status_code == 201
    assert api.get(f"/issues/{created['id']}").json()["comments"][0]["body"] == "Hi"
    assert api.get("/issues").json()[0]["title"] == "Still"
    assert prepared() == before


def pages(api, path: str, rel: str = "next") -> tuple[list[list[dict]], str]:
    """Every page of a list from `path` on, following its Link header's `rel`; and the
    address of the last page read."""
    found = []
    for _ in range(50):
        response = api.get(path)
        assert response.status_code == 200
        found.append(response.json())
        links = [link for link in response["Link"].split(", ") if link.endswith(f'rel="{rel}"')]
        if not links:
            return found, path
        path = links[0][1 : links[0].index(">")]
    pytest.fail(f"still more pages after 50 of {path}")


@pytest.mark.usefixtures("none_prepared")
def test_a_plain_list_runs_prepared_and_a_filtered_one_is_planned_for_its_values(api, monkeypatch):
    monkeypatch.setattr(pagination, "DEFAULT_PER_PAGE", 3)
    user = UserFactory.create(name="Ann")
    for n in range(7):
        services.issue_create(
            title=f"Issue {n % 4}",
            assignee_id=user.pk if n % 2 else None,
            priority=["none", "high", "low"][n % 3],
            due_date=f"2027-01-0{n % 3 + 1}" if n % 2 else None,
        )
    orders = ["id", "-id", "-created_at", "title", "priority", "-priority", "due_date"]
    read = {}
    for order in orders:
        read[order], last = pages(api, f"/issues?ordering={order}")
        # Back from the last page, the same pages.
        assert pages(api, last, rel="prev")[0] == read[order][::-1]
    assert [len(page) for page in read["id"]] == [3, 3, 1]
    # Every page read ran a prepared statement: one for each order and position (the first
    # page, after a cursor, before one; `-id` before a cursor is `id` after one).
    lists = {s: plans for s, plans in prepared().items() if 'FROM "issues"' in s}
    assert len(lists) == 3 * len(orders) - 2
    assert sum(sum(plans) for plans in lists.values()) == 2 * 3 * len(orders)
    [[ann]], _ = pages(api, "/users")
    assert ann["name"] == "Ann"

    # Filtered, or of another page size: planned for their values, not prepared.
    filtered, _ = pages(api, f"/issues?assignee_id={user.pk}")
    assert [issue["title"] for page in filtered for issue in page] == [
        "Issue 1",
        "Issue 3",
        "Issue 1",
    ]
    assert [len(page) for page in pages(api, "/issues?per_page=2")[0]] == [2, 2, 2, 1]
    assert len([s for s in prepared() if 'FROM "issues"' in s]) == len(lists)

    # The same pages as Django's own cursor reads them.
    connection.settings_dict["PREPARE"] = False
    try:
        for order in orders:
            assert pages(api, f"/issues?ordering={order}")[0] == read[order]
    finally:
        connection.settings_dict["PREPARE"] = True


@pytest.mark.django_db
def test_a_plain_page_is_compiled_once_and_reads_what_its_queryset_reads(api, monkeypatch):
    monkeypatch.setattr(pagination, "DEFAULT_PER_PAGE", 3)
    compiled = []
    compile_statement = pagination.values_statement

    def counted(queryset):
        compiled.append(queryset)
        return compile_statement(queryset)

    monkeypatch.setattr(pagination, "values_statement", counted)
    for n in range(7):
        UserFactory.create(name=f"User {n}")
        services.issue_create(
            title=f"Issue {n % 4}",
            priority=["none", "high", "low"][n % 3],
            due_date=f"2027-01-0{n % 3 + 1}" if n % 2 else None,
        )
    orders = ["id", "-id", "created_at", "-updated_at", "title", "priority", "-priority"]
    orders += ["due_date", "-due_date"]

    def every_page() -> dict[str, list[list[dict]]]:
        read = {"users": pages(api, "/users")[0]}
        for order in orders:
            read[order], last = pages(api, f"/issues?ordering={order}")
            read[f"{order} back"] = pages(api, last, rel="prev")[0]
        return read

    cached = every_page()
    # One statement for each order and position (the first page, after a cursor, before
    # one), and two for the users (the first page, after a cursor).
    assert len(compiled) == 3 * len(orders) + 2
    assert every_page() == cached
    assert len(compiled) == 3 * len(orders) + 2
    assert [len(page) for page in cached["id"]] == [3, 3, 1]

    # Built and compiled for each page, the same pages.
    monkeypatch.setattr(pagination, "MAX_STATEMENTS", 0)
    pagination.forget_statements()
    assert every_page() == cached
    assert len(compiled) == 3 * len(orders) + 2


@pytest.mark.django_db
def test_a_plain_page_shows_its_times_in_the_time_zone_of_its_request(api):
    issue = services.issue_create(title="Zoned")
    assert api.get("/issues").json()[0]["created_at"].endswith("Z")
    with timezone.override("Asia/Kolkata"):
        shown = api.get("/issues").json()[0]["created_at"]
    assert shown.endswith("+05:30")
    assert datetime.fromisoformat(shown) == issue.created_at


@pytest.mark.django_db
def test_prepared_values_reads_what_django_reads():
    """Named and converted as Django's values() (an integer sort key, a date, a timestamp)."""
    from issuetracker.postgresql.base import prepared_values
    from tracker.filters import COMPUTED_ORDERINGS
    from tracker.models import Issue

    services.issue_create(title="Due", due_date="2027-01-02", priority="high")
    services.issue_create(title="Not due")
    for computed in COMPUTED_ORDERINGS.values():
        queryset = (
            Issue.objects.annotate(**{computed.name: computed.expression()})
            .values("title", computed.name, "created_at")
            .order_by(computed.name, "id")
        )
        assert prepared_values(queryset) == list(queryset)
    reordered = Issue.objects.annotate(when=F("due_date")).values("when", "id").order_by("id")
    assert prepared_values(reordered) == list(reordered)
    assert list(prepared_values(reordered)[0]) == ["when", "id"]


Held = tuple[threading.Thread, threading.Event, threading.Event]


def held_open(work: Callable[[], object]) -> Held:
    """A started thread that runs `work` in a transaction and keeps it open: `done` is set
    once `work` ran, and the transaction commits when `release` is set."""
    done, release = threading.Event(), threading.Event()

    def run() -> None:
        try:
            with transaction.atomic():
                work()
                done.set()
                release.wait(10)
        finally:
            connections["default"].close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, done, release


@pytest.mark.django_db(transaction=True)
def test_a_comment_does_not_hold_its_issue_until_its_transaction_ends():
    author, other = UserFactory.create(name="Ann"), UserFactory.create(name="Bob")
    issue = services.issue_create(title="Busy issue")
    thread, inserted, release = held_open(
        lambda: services.comment_add(issue_id=issue.pk, body="slow flamingo", author_id=author.pk)
    )
    try:
        assert inserted.wait(10)
        # The other comment's transaction is still open: this one neither waits for it
        # (lock_timeout would raise) nor sees its text in the search document.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            services.comment_add(issue_id=issue.pk, body="quick zebra", author_id=other.pk)
        with connection.cursor() as cursor:
            cursor.execute("SELECT comments_search::text FROM issues WHERE id = %s", [issue.pk])
            document = cursor.fetchone()[0]
        assert "zebra" in document and "flamingo" not in document
    finally:
        release.set()
        thread.join(10)
    with connection.cursor() as cursor:
        cursor.execute("SELECT comments_search::text FROM issues WHERE id = %s", [issue.pk])
        assert "flamingo" in cursor.fetchone()[0]


# Words that are their own stem, so each is found in the document as written.
WORDS = ["alpaca", "bison", "camel", "dingo", "eland", "ferret", "ibex", "hyena"]


@pytest.mark.django_db(transaction=True)
def test_comments_committing_at_once_on_one_issue_all_enter_its_search_document():
    authors = [UserFactory.create(name=f"Author {n}") for n in range(len(WORDS))]
    issue = services.issue_create(title="Busy issue")

    def comment(n: int) -> None:
        services.comment_add(issue_id=issue.pk, body=f"a {WORDS[n]} here", author_id=authors[n].pk)

    for _ in range(3):
        returned(run_together(comment, n=len(WORDS)))
    with connection.cursor() as cursor:
        cursor.execute("SELECT comments_search::text FROM issues WHERE id = %s", [issue.pk])
        document = cursor.fetchone()[0]
    assert [word for word in WORDS if word not in document] == []


@pytest.mark.django_db(transaction=True)
def test_a_comment_and_an_assignment_of_the_person_it_mentions_do_not_deadlock():
    """The comment makes the mentioned person a watcher; so does assigning them. The
    comment locks its issue (key share) before that, so the assignment waits for it instead
    of holding the issue while the comment waits for the issue at its commit."""
    author, bob = UserFactory.create(name="Ann"), UserFactory.create(name="bob", username="bob")
    issue = services.issue_create(title="Busy issue")
    inserted, release = threading.Event(), threading.Event()
    failures: list[Exception] = []

    def comment() -> None:
        try:
            with transaction.atomic():
                services.comment_add(issue_id=issue.pk, body="over to @bob", author_id=author.pk)
                inserted.set()
                release.wait(10)
        except Exception as exc:  # asserted on below
            failures.append(exc)
        finally:
            connections["default"].close()

    def assign() -> None:
        try:
            services.issue_update(issue_id=issue.pk, version=1, assignee_id=bob.pk)
        except Exception as exc:  # asserted on below
            failures.append(exc)
        finally:
            connections["default"].close()

    commenting = threading.Thread(target=comment)
    commenting.start()
    assert inserted.wait(10)
    assigning = threading.Thread(target=assign)
    assigning.start()
    assigning.join(0.5)  # the assignment reaches its lock meanwhile
    release.set()
    commenting.join(20)
    assigning.join(20)
    assert failures == []
    issue.refresh_from_db()
    assert issue.assignee_id == bob.pk


@pytest.mark.django_db(transaction=True)
def test_a_comment_waiting_for_an_assignment_notifies_the_new_assignee():
    """A comment locks its issue in its own statement, before the statement that fills the
    outboxes takes its snapshot: when it waited for an assignment, the notifications go to
    the assignee that assignment made. (In one statement, the outboxes would read the issue
    as it was before the wait.)"""
    ann, bob = UserFactory.create(name="Ann"), UserFactory.create(name="Bob")
    issue = services.issue_create(title="Busy issue")

    def comment() -> None:
        try:
            services.comment_add(issue_id=issue.pk, body="Seen it", author_id=ann.pk)
        finally:
            connections["default"].close()

    assigning, assigned, release = held_open(
        lambda: services.issue_update(issue_id=issue.pk, version=1, assignee_id=bob.pk)
    )
    try:
        assert assigned.wait(10)
        commenting = threading.Thread(target=comment)
        commenting.start()
        commenting.join(1)
        assert commenting.is_alive()  # it waits for the assignment's lock
    finally:
        release.set()
        assigning.join(10)
    commenting.join(10)
    reasons = Notification.objects.filter(recipient=bob, event="comment_added")
    assert list(reasons.values_list("reason", flat=True)) == ["assignee"]


def comments_document(issue_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT comments_search::text FROM issues WHERE id = %s", [issue_id])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", ["edit", "delete"])
def test_a_comment_committing_while_another_is_changed_stays_in_the_search_document(change):
    """Editing or deleting a comment rebuilds its issue's comments' document from the
    comments. When that rebuild waited for a new comment's commit (which appends the new
    comment's words to the same row), it reads the comments again after the wait: it would
    otherwise write back a document from before the new comment, which then could not be
    found by its words until the next change."""
    ann = UserFactory.create(name="Ann")
    issue = services.issue_create(title="Busy issue")
    old = services.comment_add(issue_id=issue.pk, body="an old walrus", author_id=ann.pk)

    def comment() -> None:
        # The new comment's words enter the document now rather than at its commit, so
        # that its transaction holds the issue's row for as long as the test needs.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS comments_search_insert IMMEDIATE")
        services.comment_add(issue_id=issue.pk, body="a new pelican", author_id=ann.pk)

    failures: list[Exception] = []

    def rebuild() -> None:
        try:
            with transaction.atomic():
                comments = Comment.objects.filter(pk=old.pk)
                if change == "edit":
                    comments.update(body="an edited walrus")
                else:
                    comments.delete()
        except Exception as exc:  # asserted on below
            failures.append(exc)
        finally:
            connections["default"].close()

    commenting, commented, release = held_open(comment)
    try:
        assert commented.wait(10)
        rebuilding = threading.Thread(target=rebuild)
        rebuilding.start()
        rebuilding.join(1)
        assert rebuilding.is_alive()  # it waits for the new comment's row lock
    finally:
        release.set()
        commenting.join(10)
    rebuilding.join(10)
    assert not rebuilding.is_alive() and failures == []
    document = comments_document(issue.pk)
    assert "pelican" in document
    assert ("walrus" in document) == ("edit" in document) == (change == "edit")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("refused", ["stale PATCH", "stale close with comment"])
def test_a_refused_request_keeps_the_connections_prepared_statements(api, refused):
    """A request refused inside its transaction rolls it back (a change nested in another,
    its savepoint first). The statements prepared before stay prepared: the next change
    runs the same statement, planned as before, not one made anew."""
    ann = UserFactory.create(name="Ann")
    issue = services.issue_create(title="Busy issue")
    for n in range(6):
        assert (
            api.post("/issues", {"title": f"Issue {n}", "assignee_id": ann.pk}).status_code == 201
        )
    before = sum(plans_of("INSERT INTO issue_events"))

    if refused == "stale PATCH":
        response = api.patch(f"/issues/{issue.pk}", {"status": "closed", "version": 9})
        assert response.status_code == 409
    else:
        with pytest.raises(VersionConflict):
            services.comment_add_setting_status(
                issue_id=issue.pk, body="Done", status="closed", version=9, author_id=ann.pk
            )
    assert not Comment.objects.filter(issue=issue).exists()  # rolled back all the same

    assert api.post("/issues", {"title": "After", "assignee_id": ann.pk}).status_code == 201
    assert sum(plans_of("INSERT INTO issue_events")) == before + 1


@pytest.mark.django_db(transaction=True)
def test_a_prepared_statement_that_failed_leaves_nothing_prepared_behind_its_rollback():
    """A statement that fails on its first run stays prepared on the server while psycopg
    forgets it; the rollback after such a failure is psycopg's own, which drops it."""
    with prepared_cursor() as cursor:  # something prepared already, as on a busy connection
        cursor.execute("SELECT %s::int + 1", [1])
    with pytest.raises(DataError), transaction.atomic(), prepared_cursor() as cursor:
        cursor.execute("SELECT 1 / %s::int", [0])
    assert [text for text in prepared() if "1 / $1" in text] == []
    with prepared_cursor() as cursor:  # and the connection works on
        cursor.execute("SELECT 1 / %s::int", [1])
        assert cursor.fetchone() == (1,)

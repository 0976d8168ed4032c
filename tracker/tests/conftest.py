from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from tracker import integrity, pagination

from .factories import UserFactory
from .workers import queue_clear

# Fixtures through which a test reaches the database (pytest-django's, directly or not).
DATABASE_FIXTURES = {"_django_db_helper", "db", "transactional_db", "live_server"}


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache: tests roll their data back, but not the event
    sequence a cached report is keyed by. Nor with the compiled pages of earlier tests."""
    cache.clear()
    pagination.forget_statements()


@pytest.fixture(autouse=True)
def database_invariants_hold(request):
    """After every test that used the database, the invariants of `manage.py check_integrity`
    hold in what it left: a few queries on small tables, so every write path of the suite is
    checked against them. A test that breaks them on purpose is marked `breaks_integrity`."""
    uses_database = request.node.get_closest_marker("django_db") or (
        DATABASE_FIXTURES & set(request.fixturenames)
    )
    if not uses_database or request.node.get_closest_marker("breaks_integrity"):
        yield
        return
    # Set up the database first, so that it is torn down (rolled back, flushed) after this.
    request.getfixturevalue("db")
    yield
    found = integrity.violations(limit=5)
    if found:
        pytest.fail(
            "The test left the database breaking its invariants:\n"
            + "\n".join(
                f"  {finding.check.description}: {example}"
                for finding in found
                for example in finding.examples
            ),
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def comments_indexed_at_insert(request):
    """A comment enters its issue's search document when its transaction commits (a
    deferred trigger, migration 0013). A test's transaction never commits: there the trigger
    runs at each insert, as it did before it was deferred. Tests on real transactions see it
    run at commit."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction")
    )
    uses_database = marker or (DATABASE_FIXTURES & set(request.fixturenames))
    if uses_database and not transactional:
        request.getfixturevalue("db")
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS comments_search_insert IMMEDIATE")
    yield


@pytest.fixture(autouse=True)
def empty_queue(request):
    """Tests on real transactions leave no queued job behind for the next test's worker:
    the queue's tables are not models that Django's flush empties."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction")
    )
    yield
    if transactional:
        queue_clear()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory.create(name="Alice")


@pytest.fixture
def login_user(db):
    return UserFactory.create(name="Staff Sam", username="sam", is_staff=True)

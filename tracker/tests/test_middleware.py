"""A lost database connection (tracker/middleware.py), with real connection loss: another
connection terminates this one's backend with pg_terminate_backend() before the request.
Reads are run again on a fresh connection; writes are never run again and get 503 with
Retry-After; the next request finds the server recovered."""

from __future__ import annotations

import json
import logging
import time

import psycopg
import pytest
from django.db import OperationalError, connection
from django.test import Client, RequestFactory

from issuetracker.urls import handler500
from tracker import services
from tracker.middleware import RETRY_AFTER_SECONDS, connection_lost
from tracker.models import Comment, Issue, IssueEvent, User

# Real transactions: the terminated backend must not hold the test's own transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def terminate_backend() -> None:
    """Terminate the backend of Django's connection from another connection, and wait
    until it is gone."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    other = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            for _ in range(100):
                cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
                if cursor.fetchone() is None:
                    return
                time.sleep(0.05)
    finally:
        other.close()
    raise AssertionError(f"backend {pid} did not go away")


def snapshot() -> tuple:
    return (
        list(Issue.objects.order_by("id").values_list("id", "version", "title", "status")),
        User.objects.count(),
        Comment.objects.count(),
        IssueEvent.objects.count(),
    )


def assert_db_unavailable_json(response) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert json.loads(response.content) == {
        "detail": "The database is briefly unavailable; try again shortly",
        "code": "db_unavailable",
    }


@pytest.fixture
def issue() -> Issue:
    return services.issue_create(title="Existing")


@pytest.mark.parametrize(
    "path",
    ["/issues/{id}", "/issues", "/users", "/issues/{id}/timeline", "/reports/top-assignees"],
)
def test_a_read_that_loses_its_connection_is_run_again(api, issue, caplog, path):
    terminate_backend()
    with caplog.at_level(logging.WARNING, logger="tracker.middleware"):
        response = api.get(path.format(id=issue.pk))
    assert response.status_code == 200
    assert "retrying" in caplog.text


@pytest.mark.parametrize("path", ["/ui/issues/", "/ui/issues/{id}/", "/ui/reports/"])
def test_a_page_that_loses_its_connection_is_run_again(client, issue, path):
    terminate_backend()
    assert client.get(path.format(id=issue.pk)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/issues", {"title": "Lost"}),
        ("patch", "/issues/{id}", {"version": 1, "status": "closed"}),
        ("put", "/issues/{id}/labels", {"labels": ["bug"]}),
        ("post", "/issues/{id}/comments", {"body": "Hi", "author_id": "{user}"}),
        ("post", "/issues/bulk-status", {"issue_ids": ["{id}"], "status": "closed"}),
        ("post", "/users", {"name": "Bob"}),
    ],
)
def test_a_write_that_loses_its_connection_is_a_503_and_is_not_run_again(
    api, issue, method, path, body
):
    user = User.objects.create(name="Author")
    ids = {"id": issue.pk, "user": user.pk}

    def fill(value):
        if isinstance(value, str) and value in ("{id}", "{user}"):
            return ids[value[1:-1]]
        return [fill(item) for item in value] if isinstance(value, list) else value

    body = {key: fill(value) for key, value in body.items()}
    before = snapshot()
    terminate_backend()

    response = getattr(api, method)(path.format(**ids), body, format="json")

    assert_db_unavailable_json(response)
    assert snapshot() == before  # a new connection: nothing was written
    # Recovered: the same write now succeeds.
    assert getattr(api, method)(path.format(**ids), body, format="json").status_code in (200, 201)


def test_a_page_write_that_loses_its_connection_is_a_short_503_page(client, issue):
    before = snapshot()
    terminate_backend()
    response = client.post("/ui/issues/new/", {"title": "Lost"})
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response["Content-Type"].startswith("text/html")
    assert "Briefly unavailable" in response.content.decode()
    assert snapshot() == before
    assert client.get("/ui/issues/").status_code == 200


def test_a_read_that_fails_twice_is_a_503(api, issue, monkeypatch):
    """The database stays unreachable: one retry, then 503; then it comes back."""
    terminate_backend()
    port = connection.settings_dict["PORT"]
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")  # nothing listens there
    attempts = []
    real_connect = connection.connect

    def connect() -> None:
        attempts.append(1)
        real_connect()

    monkeypatch.setattr(connection, "connect", connect)

    response = api.get(f"/issues/{issue.pk}")

    assert_db_unavailable_json(response)
    assert len(attempts) == 1  # the retry's attempt to connect; no third try
    monkeypatch.setitem(connection.settings_dict, "PORT", port)
    assert api.get(f"/issues/{issue.pk}").status_code == 200


def test_a_connection_lost_outside_a_view_is_a_503_not_a_500(issue):
    terminate_backend()
    request = RequestFactory().get("/issues")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except OperationalError:
        response = handler500(request)
    assert_db_unavailable_json(response)
    assert Issue.objects.count() == 1  # and the next query reconnects


def test_a_query_error_is_not_mistaken_for_a_lost_connection(issue):
    with pytest.raises(OperationalError) as exc, connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 1")
        cursor.execute("SELECT pg_sleep(1)")
    assert not connection_lost(exc.value)
    with connection.cursor() as cursor:
        cursor.execute("RESET statement_timeout")


def test_other_errors_still_reach_the_error_pages(issue):
    client = Client(raise_request_exception=False)
    assert client.get("/ui/issues/999999/").status_code == 404
    assert client.get("/issues/999999").status_code == 404


def test_a_kept_connection_is_checked_without_a_query_while_alive(monkeypatch):
    """The health check before a request (issuetracker/postgresql) asks the server only when
    the connection looks closed, and a connection the server closed is replaced."""
    from django.db.backends.postgresql.base import DatabaseWrapper

    asked: list[int] = []
    real_is_usable = DatabaseWrapper.is_usable

    def is_usable(self) -> bool:
        asked.append(1)
        return real_is_usable(self)

    monkeypatch.setattr(DatabaseWrapper, "is_usable", is_usable)
    assert connection.settings_dict["CONN_HEALTH_CHECKS"]

    def health_check() -> None:
        connection.close_if_unusable_or_obsolete()  # what the start of a request does
        connection.close_if_health_check_failed()  # what its first query does

    connection.ensure_connection()
    alive = connection.connection
    health_check()
    assert (connection.connection, asked) == (alive, [])

    terminate_backend()
    health_check()
    assert asked == [1]
    assert connection.connection is None
    assert User.objects.count() >= 0  # a new connection

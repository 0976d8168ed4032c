"""POST /issues/bulk-status: the API's errors, the all-or-nothing rule, the events, the query
count, and real concurrency on PostgreSQL (threads, each with its own connection)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from tracker import services
from tracker.errors import RuleViolation, VersionConflict
from tracker.models import Issue, IssueEvent

from .factories import UserFactory
from .threads import THREADS, returned, run_together

URL = "/issues/bulk-status"


def make_issues(n: int, **fields) -> list[int]:
    return [services.issue_create(title=f"issue {i}", **fields).pk for i in range(n)]


def snapshot(ids: list[int]) -> list[object]:
    """Everything a bulk change could touch, to prove a refused request changed nothing."""
    issues = Issue.objects.filter(pk__in=ids).order_by("id")
    return [
        *issues.values_list("id", "status", "version", "resolved_at", "updated_at"),
        IssueEvent.objects.count(),
    ]


# --- The API: success.


@pytest.mark.django_db
@pytest.mark.parametrize("path", [URL, f"{URL}/"])
def test_bulk_close_returns_the_seed_shape(api, path):
    ids = make_issues(2)
    response = api.post(path, {"issue_ids": ids, "status": "closed"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"updated_issues": ids, "new_status": "closed"}
    for issue in Issue.objects.filter(pk__in=ids):
        assert (issue.status, issue.version) == ("closed", 2)
        assert issue.resolved_at is not None


@pytest.mark.django_db
def test_duplicate_ids_count_once(api):
    ids = make_issues(2)
    response = api.post(URL, {"issue_ids": [ids[1], ids[0], ids[1]], "status": "closed"}, "json")
    assert response.json()["updated_issues"] == [ids[1], ids[0]]
    assert list(Issue.objects.order_by("id").values_list("version", flat=True)) == [2, 2]
    assert IssueEvent.objects.filter(event="issue_closed").count() == 2


@pytest.mark.django_db
def test_each_issue_gets_its_own_bulk_event_and_reopening_clears_resolved_at(api):
    ids = make_issues(3, status="closed")
    response = api.post(URL, {"issue_ids": ids, "status": "open"}, format="json")
    assert response.status_code == 200
    for issue in Issue.objects.filter(pk__in=ids):
        assert (issue.status, issue.version, issue.resolved_at) == ("open", 2, None)
    events = IssueEvent.objects.filter(event="issue_reopened").order_by("issue_id")
    assert [(e.issue_id, e.source, e.actor_id) for e in events] == [(i, "bulk", None) for i in ids]
    assert events[0].details == {"from": "closed", "to": "open", "status": "open"}


@pytest.mark.django_db
def test_issues_already_in_the_target_status_are_left_alone(api):
    [moving, staying] = make_issues(2)
    services.issue_update(issue_id=staying, version=1, status="in_progress")
    response = api.post(URL, {"issue_ids": [moving, staying], "status": "in_progress"}, "json")
    assert response.json()["updated_issues"] == [moving, staying]
    versions = dict(Issue.objects.values_list("id", "version"))
    assert versions == {moving: 2, staying: 2}
    assert IssueEvent.objects.filter(source="bulk").count() == 1


@pytest.mark.django_db
def test_authenticated_bulk_change_records_the_actor(api, login_user):
    ids = make_issues(2)
    api.force_authenticate(login_user)
    api.post(URL, {"issue_ids": ids, "status": "in_progress"}, format="json")
    assert set(IssueEvent.objects.filter(source="bulk").values_list("actor_id", flat=True)) == {
        login_user.pk
    }


@pytest.mark.django_db
def test_query_count_does_not_grow_with_the_number_of_issues(api, django_assert_num_queries):
    few, many = make_issues(3), make_issues(300)
    # Savepoints of the request's transaction aside: lock, update, insert events.
    with django_assert_num_queries(5) as few_queries:
        assert api.post(URL, {"issue_ids": few, "status": "closed"}, "json").status_code == 200
    with django_assert_num_queries(len(few_queries.captured_queries)):
        assert api.post(URL, {"issue_ids": many, "status": "closed"}, "json").status_code == 200
    assert IssueEvent.objects.filter(source="bulk").count() == 303


# --- The API: every refusal is a 400 that changes nothing.


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        ({"issue_ids": [], "status": "closed"}, "empty", "issue_ids must not be empty"),
        (
            {"issue_ids": list(range(1, 10_002)), "status": "closed"},
            "too_many",
            "At most 10000 issues per request",
        ),
        ({"issue_ids": "EXISTING", "status": "done"}, "invalid_status", "Invalid status 'done'"),
        ({"issue_ids": "EXISTING", "status": ""}, "invalid_status", "Invalid status ''"),
        ({"issue_ids": "EXISTING"}, "required", "status: This field is required."),
        ({"status": "closed"}, "required", "issue_ids: This field is required."),
        ({"issue_ids": ["x"], "status": "closed"}, "invalid", None),
        ({"issue_ids": 5, "status": "closed"}, "not_a_list", None),
        ({"issue_ids": "EXISTING", "status": "closed", "force": True}, "unknown_field", None),
    ],
)
def test_invalid_requests_are_400_with_a_code(api, body, code, detail):
    ids = make_issues(2)
    if body.get("issue_ids") == "EXISTING":
        body["issue_ids"] = ids
    before = snapshot(ids)
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code
    if detail:
        assert response.json()["detail"] == detail
    assert snapshot(ids) == before


@pytest.mark.django_db
def test_exactly_ten_thousand_ids_are_accepted_up_to_existence(api):
    response = api.post(URL, {"issue_ids": list(range(1, 10_001)), "status": "closed"}, "json")
    assert response.json()["detail"] == "One or more issues not found"


@pytest.mark.django_db
def test_a_missing_id_refuses_the_whole_request(api):
    ids = make_issues(3)
    before = snapshot(ids)
    response = api.post(URL, {"issue_ids": [*ids, 999_999], "status": "closed"}, "json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "One or more issues not found",
        "code": "issues_not_found",
    }
    assert snapshot(ids) == before


@pytest.mark.django_db
def test_closing_an_already_closed_issue_refuses_the_whole_request(api):
    ids = make_issues(3)
    services.issue_update(issue_id=ids[1], version=1, status="closed")
    before = snapshot(ids)
    response = api.post(URL, {"issue_ids": ids, "status": "closed"}, "json")
    assert response.status_code == 400
    assert response.json() == {"detail": f"Issue {ids[1]} already closed", "code": "already_closed"}
    assert snapshot(ids) == before


@pytest.mark.django_db
def test_the_lowest_already_closed_id_is_named(api):
    ids = make_issues(3, status="closed")
    response = api.post(URL, {"issue_ids": ids[::-1], "status": "closed"}, "json")
    assert response.json()["detail"] == f"Issue {ids[0]} already closed"


@pytest.mark.django_db
def test_require_auth_refuses_anonymous_bulk_changes(api, settings):
    settings.TRACKER_REQUIRE_AUTH = True
    ids = make_issues(1)
    response = api.post(URL, {"issue_ids": ids, "status": "closed"}, "json")
    assert response.status_code in (401, 403)
    assert Issue.objects.get().status == "open"


# --- Concurrency on real PostgreSQL.


def change_counts(ids: list[int]) -> Counter:
    """Events other than the creation, per issue."""
    return Counter(
        IssueEvent.objects.filter(issue_id__in=ids)
        .exclude(event="issue_created")
        .values_list("issue_id", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_bulk_changes_over_overlapping_issues_never_deadlock():
    """Each thread moves an overlapping, shuffled subset several times; PostgreSQL would
    abort one of two transactions that lock rows in opposite orders."""
    ids = make_issues(40)
    statuses = ["in_progress", "open"]

    def work(i: int) -> int:
        rng = random.Random(i)
        done = 0
        for round_ in range(5):
            subset = rng.sample(ids, 25)
            services.issues_bulk_set_status(issue_ids=subset, status=statuses[(i + round_) % 2])
            done += 1
        return done

    results = run_together(work)
    assert results == [5] * THREADS, results
    versions = dict(Issue.objects.filter(pk__in=ids).values_list("id", "version"))
    changes = change_counts(ids)
    assert all(versions[pk] == 1 + changes[pk] for pk in ids)
    assert sum(changes.values()) > 0
    assert set(
        IssueEvent.objects.exclude(event="issue_created").values_list("source", flat=True)
    ) == {"bulk"}


@pytest.mark.django_db(transaction=True)
def test_concurrent_bulk_changes_and_patches_lose_no_update():
    """Half the threads change statuses in bulk, the other half PATCH titles with the version
    they read (retrying on conflict). Every successful change is in the version and the
    timeline exactly once, and no two PATCHes succeed from the same version."""
    ids = make_issues(20)
    rounds = 6

    def bulk(i: int) -> list[tuple[int, int]]:  # no PATCHes
        rng = random.Random(i)
        for round_ in range(rounds):
            status = "in_progress" if (i + round_) % 2 else "open"
            services.issues_bulk_set_status(issue_ids=rng.sample(ids, 12), status=status)
        return []

    def patch(i: int) -> list[tuple[int, int]]:
        rng = random.Random(100 + i)
        succeeded = []
        for round_ in range(rounds):
            issue_id = rng.choice(ids)
            while True:
                read = Issue.objects.get(pk=issue_id).version
                try:
                    services.issue_update(
                        issue_id=issue_id, version=read, title=f"t{i}-{round_}", source="api"
                    )
                except VersionConflict:
                    continue
                succeeded.append((issue_id, read))
                break
        return succeeded

    results = run_together(lambda i: bulk(i) if i % 2 else patch(i))
    patches = [item for r in returned(results) for item in r]
    assert len(patches) == (THREADS // 2) * rounds
    assert len(set(patches)) == len(patches), "two PATCHes succeeded from the same version"

    versions = dict(Issue.objects.filter(pk__in=ids).values_list("id", "version"))
    title_changes = Counter(
        IssueEvent.objects.filter(event="title_changed").values_list("issue_id", flat=True)
    )
    bulk_changes = Counter(
        IssueEvent.objects.filter(source="bulk").values_list("issue_id", flat=True)
    )
    assert title_changes == Counter(issue_id for issue_id, _ in patches)
    for pk in ids:
        assert versions[pk] == 1 + title_changes[pk] + bulk_changes[pk]


@pytest.mark.django_db(transaction=True)
def test_concurrent_bulk_close_of_overlapping_sets_one_wins_the_overlap():
    """Every request includes the lowest id, which each locks first: one request closes it,
    every other one then finds it closed and is refused as a whole."""
    ids = make_issues(30)

    def close(i: int) -> list[int] | Exception:
        return services.issues_bulk_set_status(
            issue_ids=[*random.Random(i).sample(ids, 10), ids[0]], status="closed"
        )

    results = run_together(close)
    winners = [r for r in results if isinstance(r, list)]
    refused = [r for r in results if isinstance(r, RuleViolation)]
    assert len(winners) == 1
    assert len(winners) + len(refused) == THREADS
    assert all(r.code == "already_closed" for r in refused)
    closed = set(Issue.objects.filter(status="closed").values_list("id", flat=True))
    assert closed == {pk for r in winners for pk in r}
    per_issue = Counter(
        IssueEvent.objects.filter(event="issue_closed").values_list("issue_id", flat=True)
    )
    assert set(per_issue.values()) == {1}
    assert set(per_issue) == closed


@pytest.mark.django_db(transaction=True)
def test_a_patch_that_closes_and_a_bulk_close_do_not_both_close():
    [issue_id] = make_issues(1)
    user = UserFactory.create()

    def work(i: int) -> object:
        if i == 0:
            return services.issue_update(issue_id=issue_id, version=1, status="closed", actor=user)
        return services.issues_bulk_set_status(issue_ids=[issue_id], status="closed")

    results = run_together(work, n=2)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    issue = Issue.objects.get(pk=issue_id)
    assert (issue.status, issue.version) == ("closed", 2)
    assert IssueEvent.objects.filter(event="issue_closed").count() == 1

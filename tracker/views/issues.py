"""The issue list (filters, sorting, keyset pages, counts per status, bulk status change)
and the new issue form. Views parse input with a form, call one service or selector and
render; every rule is the service's."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from issuetracker.long_requests import long_request
from tracker import search, selectors, services
from tracker.actors import actor_of
from tracker.errors import RuleViolation, error_message, field_messages
from tracker.filters import RELEVANCE, clean_ordering, sort_key
from tracker.forms import BulkStatusForm, IssueCreateForm, add_service_errors, picked_name
from tracker.models import Issue, IssueEvent
from tracker.pagination import KeysetPage, clean_per_page, keyset_page
from tracker.rules import parse_id

from .access import can_write, safe_next, writes_need_login

WEB = IssueEvent.Source.WEB
LIST_PER_PAGE = 50
FILTER_PARAMETERS = (
    *("q", "assignee_id", "label", "status", "priority", "due_after", "due_before", "overdue"),
)
DEFAULT_SORT = "-id"
# A search's tabs count each status up to this many ("10,000+" beyond).
SEARCH_COUNT_CAP = 10_000
SORTS = (
    ("-id", "Newest"),
    ("id", "Oldest"),
    ("-updated_at", "Recently updated"),
    ("updated_at", "Least recently updated"),
    ("title", "Title (A to Z)"),
    ("-title", "Title (Z to A)"),
    ("status", "Status"),
    ("priority", "Priority (most urgent first)"),
    ("due_date", "Due date (soonest first)"),
)


def _count(count: int, cap: int | None) -> str:
    """A tab's count: `cap+` when it was counted no further (selectors.issue_status_counts)."""
    return f"{cap:,}+" if cap is not None and count > cap else f"{count:,}"


@require_GET
def issue_list(request: HttpRequest) -> HttpResponse:
    params = request.GET
    errors: list[str] = []
    page = KeysetPage([], None, None)
    counts = dict.fromkeys(Issue.Status.values, 0)
    q = params.get("q", "").strip()
    ordering = params.get("ordering") or DEFAULT_SORT
    cap = SEARCH_COUNT_CAP if q else None
    snippets: dict[int, search.Snippet] = {}
    try:
        ordering = clean_ordering(ordering, q=q)
        order, computed = sort_key(ordering, q=q)
        # One page of a keyset walk: page 10,000 costs what page 1 costs.
        page = keyset_page(
            selectors.issue_list(filters=params, request=request).select_related("assignee"),
            order=order,
            cursor=params.get("cursor") or None,
            per_page=clean_per_page(params.get("per_page") or LIST_PER_PAGE),
            computed=computed,
        )
        counts = selectors.issue_status_counts(filters=params, request=request, cap=cap)
        # Where each result matched, shown under its title.
        snippets = search.snippets((issue.pk for issue in page.items), q)
        for issue in page.items:
            issue.snippet = snippets.get(issue.pk)
    except ValidationError as exc:
        errors = field_messages(exc)
    statuses = params.getlist("status")
    context = {
        "nav": "issues",
        "page": page,
        "errors": errors,
        "status_tabs": [
            (value, label, _count(counts[value], cap), statuses == [value])
            for value, label in Issue.Status.choices
        ],
        "total": (
            f"{sum(min(n, cap) for n in counts.values()):,}+"
            if cap is not None and any(n > cap for n in counts.values())
            else f"{sum(counts.values()):,}"
        ),
        "all_selected": not statuses,
        "users": [
            (person.pk, picked_name(person))
            for person in selectors.users_to_pick(keep_id=parse_id(params.get("assignee_id") or ""))
        ],
        "labels": selectors.label_list(),
        "sorts": (*SORTS, (RELEVANCE, "Best match")) if q else SORTS,
        "ordering": ordering,
        "filters": {
            "q": params.get("q", ""),
            "assignee_id": params.get("assignee_id", ""),
            "label": params.get("label", ""),
            "status": statuses,
            "priority": params.getlist("priority"),
            "due_after": params.get("due_after", ""),
            "due_before": params.get("due_before", ""),
            "overdue": params.get("overdue", ""),
        },
        "filtered": any(params.get(key) for key in FILTER_PARAMETERS),
        "active_filters": sum(1 for key in FILTER_PARAMETERS if params.get(key, "").strip()),
        # The issue links carry the list as it is, for the issue page's way back.
        "back": request.get_full_path(),
        "statuses": Issue.Status.choices,
        "priorities": Issue.Priority.choices,
        "can_write": can_write(request),
    }
    return render(request, "tracker/issue_list.html", context, status=400 if errors else 200)


@long_request("POST")
@require_POST
@writes_need_login
def issue_bulk_status(request: HttpRequest) -> HttpResponse:
    form = BulkStatusForm(request.POST)
    back = safe_next(request, request.POST.get("next"), reverse("ui:issue-list"))
    if not form.is_valid():
        for field_errors in form.errors.values():
            for message in field_errors:
                # An ErrorList yields its messages (ValidationErrors are unwrapped in
                # __getitem__), but the stubs type its items as the stored values.
                messages.error(request, message)  # type: ignore[arg-type]
        return redirect(back)
    status = form.cleaned_data["status"]
    try:
        ids = services.issues_bulk_set_status(
            issue_ids=form.cleaned_data["issue_ids"],
            status=status,
            actor=actor_of(request),
            source=WEB,
        )
    except (RuleViolation, ValidationError) as exc:
        messages.error(request, f"Nothing was changed: {error_message(exc)}.")
    else:
        label = Issue.Status(status).label
        noun = "issue" if len(ids) == 1 else "issues"
        messages.success(request, f"{len(ids)} {noun} set to {label}.")
    return redirect(back)


@writes_need_login
def issue_new(request: HttpRequest) -> HttpResponse:
    form = IssueCreateForm(
        request.POST or None, users=selectors.users_to_pick(), labels=selectors.label_list()
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            issue = services.issue_create(
                title=data["title"],
                description=data["description"],
                status=data["status"],
                assignee_id=data["assignee_id"],
                priority=data["priority"],
                due_date=data["due_date"],
                labels=form.label_names(),
                actor=actor_of(request),
                source=WEB,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Issue #{issue.pk} created.")
            return redirect("ui:issue-detail", issue_id=issue.pk)
    return render(
        request,
        "tracker/issue_new.html",
        {"nav": "new", "form": form},
        status=400 if form.errors else 200,
    )

"""REST endpoints: parse input with a serializer, call one service or selector, render.
Errors are raised, never built here (see exceptions.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from typing import ClassVar, cast

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from issuetracker.long_requests import long_request
from tracker import selectors, selectors_json, services
from tracker.actors import actor_of
from tracker.errors import IssueNotFound
from tracker.filters import IssueFilter
from tracker.imports.uploads import check_upload
from tracker.models import Comment, IssueEvent, User
from tracker.rules import csv_columns_help, may_see_private_fields
from tracker.services import import_jobs

from . import serializers as s
from .jobs import PREFER_HEADER, JobOutput, accepted, prefers_async
from .pagination import IdPagination, KeysetLinkPagination, json_response
from .schema import errors

SOURCE = IssueEvent.Source.API


def wants_json(request: Request) -> bool:
    """Whether the answer is JSON (not the browsable API's HTML): then the hot reads send
    the JSON PostgreSQL built (selectors_json), which holds exactly the serializers' shape."""
    return isinstance(request.accepted_renderer, JSONRenderer)


def tagged_json_response(request: Request, body: str) -> HttpResponse:
    """`body` with a strong ETag made from it, or a 304 Not Modified when the request's
    If-None-Match names that tag: the client keeps the copy it has and the answer is not
    sent again. The body is read afresh for every request, so a 304 never hides a change."""
    tag = quote_etag(hashlib.blake2b(body.encode(), digest_size=16).hexdigest())
    response = get_conditional_response(request, etag=tag) or json_response(body)
    response["ETag"] = tag
    return response


def json_page(view: GenericAPIView, queryset: QuerySet, *, shape: Hashable | None) -> HttpResponse:
    """One page of `queryset` (read with its rows' JSON) with its Link header. `shape`
    names the queryset when it is always the same one (see keyset_page), else None."""
    paginator = cast(KeysetLinkPagination, view.paginator)
    rows = paginator.paginate_queryset(queryset, view.request, view, shape=shape)
    return paginator.json_response(selectors_json.json_array(rows))


class TrackerView(GenericAPIView):
    """`input_serializers`: the serializer each write method checks its body with (shape
    only); OPTIONS describes them (metadata.py)."""

    input_serializers: ClassVar[dict[str, type[serializers.Serializer]]] = {}

    def validated_body(self) -> dict:
        return s.validated(self.input_serializers[self.request.method or ""], self.request.data)


class UserListCreateView(TrackerView):
    pagination_class = IdPagination
    serializer_class = s.UserOutput
    input_serializers = {"POST": s.UserInput}

    def get_queryset(self):
        return selectors.user_list()

    @extend_schema(summary="List users", responses={200: s.UserOutput(many=True), **errors(400)})
    def get(self, request):
        if wants_json(request):
            users = selectors_json.with_user_json(self.get_queryset())
            return json_page(self, users, shape=selectors_json.json_shape("users"))
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.UserOutput(page, many=True).data)

    @extend_schema(
        summary="Create a user",
        request=s.UserInput,
        responses={201: s.UserOutput, **errors(400)},
        examples=[OpenApiExample("Alice", value={"name": "Alice"}, request_only=True)],
    )
    def post(self, request):
        data = self.validated_body()
        user = services.user_create(**data)
        return Response(user_data(request, user), status=status.HTTP_201_CREATED)


def user_data(request: Request, user: User) -> dict:
    return s.user_data(user, private=may_see_private_fields(request.user, user.pk))


class UserDetailView(TrackerView):
    serializer_class = s.UserDetailOutput
    input_serializers = {"PATCH": s.UserUpdateInput}

    @extend_schema(
        summary="Get a user",
        description="`email` and `email_notifications` are shown to the user and to staff only.",
        responses={200: s.UserDetailOutput, **errors(404)},
    )
    def get(self, request, user_id: int):
        return Response(user_data(request, selectors.user_get(user_id=user_id)))

    @extend_schema(
        summary="Update a user",
        description="With TRACKER_REQUIRE_AUTH on, only the user themselves or staff.",
        request=s.UserUpdateInput,
        responses={200: s.UserDetailOutput, **errors(400, 403, 404)},
        examples=[
            OpenApiExample(
                "Set an e-mail address", value={"email": "alice@example.com"}, request_only=True
            )
        ],
    )
    def patch(self, request, user_id: int):
        data = self.validated_body()
        user = services.user_update(user_id=user_id, actor=actor_of(request), **data)
        return Response(user_data(request, user))


class IssueListCreateView(TrackerView):
    pagination_class = KeysetLinkPagination
    serializer_class = s.IssueOutput
    input_serializers = {"POST": s.IssueCreateInput}
    filter_backends = [DjangoFilterBackend]
    filterset_class = IssueFilter

    def get_queryset(self):
        return selectors.issue_list()

    def filter_queryset(self, queryset):
        # A plain page of the list (no filter asked for): django-filter would build and
        # validate a form of a dozen fields only to filter by none of them.
        if IssueFilter.base_filters.keys().isdisjoint(self.request.query_params):
            return queryset
        return super().filter_queryset(queryset)

    @extend_schema(
        summary="List issues",
        description="A JSON array; the next and previous pages are in the `Link` header.",
        parameters=[
            OpenApiParameter(
                "assignee_id",
                # Ids of up to 18 digits: what the filter takes, without a number too large
                # to name a row (rules.MAX_ID); `none` or `null` in any case.
                {
                    "type": "string",
                    "pattern": "^(0*[1-9][0-9]{0,17}|[Nn][Oo][Nn][Ee]|[Nn][Uu][Ll][Ll]|[Mm][Ee])$",
                },
                description="A user id, `none` for unassigned issues, or `me` for the "
                "signed-in user's (400 `login_required` when anonymous).",
            )
        ],
        responses={200: s.IssueOutput(many=True), **errors(400)},
    )
    def get(self, request):
        everything = self.get_queryset()
        queryset = self.filter_queryset(everything)
        if wants_json(request):
            # A filtered list is planned for its values each time (keyset_page).
            shape = selectors_json.json_shape("issues") if queryset is everything else None
            return json_page(self, selectors_json.with_issue_json(queryset), shape=shape)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.IssueOutput(page, many=True).data)

    @extend_schema(
        summary="Create an issue",
        request=s.IssueCreateInput,
        responses={201: s.IssueOutput, **errors(400)},
        examples=[
            OpenApiExample(
                "Login bug",
                value={"title": "Login page bug", "assignee_id": 1},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = self.validated_body()
        issue = services.issue_create(**data, actor=actor_of(request), source=SOURCE)
        return Response(s.issue_data(issue), status=status.HTTP_201_CREATED)


class IssueDetailView(TrackerView):
    serializer_class = s.IssueDetailOutput
    input_serializers = {"PATCH": s.IssueUpdateInput}

    @extend_schema(
        summary="Get an issue",
        description="The answer carries an `ETag`. Send it back in `If-None-Match` and, while "
        "the issue, its labels and its comments are as they were, the answer is a 304 without "
        "a body.",
        parameters=[
            OpenApiParameter(
                "If-None-Match",
                str,
                OpenApiParameter.HEADER,
                description="The ETag of the copy you have.",
            )
        ],
        responses={
            200: s.IssueDetailOutput,
            304: OpenApiResponse(description="Not modified: the copy you have is current."),
            **errors(404),
        },
    )
    def get(self, request, issue_id: int):
        if wants_json(request):
            body = selectors_json.issue_detail_json(issue_id=issue_id)
            if body is None:
                raise IssueNotFound()
            return tagged_json_response(request, body)
        return Response(s.IssueDetailOutput(selectors.issue_detail(issue_id=issue_id)).data)

    @extend_schema(
        summary="Update an issue (optimistic locking)",
        description="Send the `version` you read. If the issue changed since, the answer is "
        '409 `{"detail": "Version conflict"}` and nothing is written.',
        request=s.IssueUpdateInput,
        responses={200: s.IssueOutput, **errors(400, 404, 409)},
        examples=[
            OpenApiExample("Close", value={"status": "closed", "version": 1}, request_only=True)
        ],
    )
    def patch(self, request, issue_id: int):
        data = self.validated_body()
        issue = services.issue_update(
            issue_id=issue_id, actor=actor_of(request), source=SOURCE, **data
        )
        return Response(s.issue_data(issue))


class IssueLabelsView(TrackerView):
    serializer_class = s.IssueLabelsOutput
    input_serializers = {"PUT": s.IssueLabelsInput}

    @extend_schema(
        summary="Replace an issue's labels",
        description="Atomic: the new set replaces the old one entirely, missing labels are "
        "created, names are trimmed and de-duplicated without regard to case.",
        request=s.IssueLabelsInput,
        responses={200: s.IssueLabelsOutput, **errors(400, 404, 409)},
        examples=[
            OpenApiExample("Two labels", value={"labels": ["bug", "urgent"]}, request_only=True)
        ],
    )
    def put(self, request, issue_id: int):
        data = self.validated_body()
        issue, labels = services.issue_labels_replace(
            issue_id=issue_id,
            labels=data["labels"],
            version=data.get("version"),
            actor=actor_of(request),
            source=SOURCE,
        )
        return Response(
            {
                "issue_id": issue.pk,
                "labels": [label.name for label in labels],
                "version": issue.version,
            }
        )


class IssueCommentsView(TrackerView):
    serializer_class = s.CommentOutput
    input_serializers = {"POST": s.CommentInput}
    pagination_class = IdPagination
    queryset = Comment.objects.none()  # lets the schema generator name the model

    @extend_schema(
        summary="List an issue's comments",
        responses={200: s.CommentOutput(many=True), **errors(400, 404)},
    )
    def get(self, request, issue_id: int):
        page = self.paginate_queryset(selectors.comment_list(issue_id=issue_id))
        return self.get_paginated_response(s.CommentOutput(page, many=True).data)

    @extend_schema(
        summary="Add a comment",
        request=s.CommentInput,
        responses={201: s.CommentOutput, **errors(400, 404)},
        examples=[
            OpenApiExample(
                "Comment",
                value={"body": "Bug reproduced and assigned", "author_id": 2},
                request_only=True,
            )
        ],
    )
    def post(self, request, issue_id: int):
        data = self.validated_body()
        comment = services.comment_add(
            issue_id=issue_id,
            author_id=data.get("author_id"),
            body=data["body"],
            actor=actor_of(request),
            source=SOURCE,
        )
        return Response(s.comment_data(comment), status=status.HTTP_201_CREATED)


class IssueTimelineView(TrackerView):
    serializer_class = s.TimelineOutput

    @extend_schema(summary="An issue's timeline", responses={200: s.TimelineOutput, **errors(404)})
    def get(self, request, issue_id: int):
        events = selectors.issue_timeline(issue_id=issue_id)
        return Response(
            {"issue_id": issue_id, "timeline": s.TimelineEventOutput(events, many=True).data}
        )


@long_request("POST")
class IssuesBulkStatusView(TrackerView):
    serializer_class = s.BulkStatusOutput
    input_serializers = {"POST": s.BulkStatusInput}

    @extend_schema(
        summary="Change the status of many issues at once",
        description="All or nothing: if any issue is missing or may not change, nothing does.",
        request=s.BulkStatusInput,
        responses={200: s.BulkStatusOutput, **errors(400)},
        examples=[
            OpenApiExample(
                "Close two", value={"issue_ids": [1, 2], "status": "closed"}, request_only=True
            )
        ],
    )
    def post(self, request):
        data = self.validated_body()
        ids = services.issues_bulk_set_status(
            issue_ids=data["issue_ids"],
            status=data["status"],
            actor=actor_of(request),
            source=IssueEvent.Source.BULK,
        )
        return Response({"updated_issues": ids, "new_status": data["status"]})


@long_request("POST")
class IssuesImportView(TrackerView):
    serializer_class = s.ImportResultOutput
    parser_classes = [MultiPartParser]
    input_serializers = {"POST": s.ImportInput}

    @extend_schema(
        summary="Import issues from a CSV file",
        description="Multipart upload in the field `file`. Columns (header names match "
        f"without regard to case or surrounding spaces): {csv_columns_help()}; other "
        "columns are ignored and listed in `ignored_columns`. Valid rows are created, all in "
        "one transaction; invalid rows are reported in `errors` (`row` counts data rows from "
        "1). A file that cannot be read as a whole (not UTF-8, not CSV, no `title` column, "
        "empty) is a 400 and writes nothing.\n\n"
        "With `Prefer: respond-async` the import runs as a background job: the answer is "
        "`202 Accepted` with the job (`Location: /jobs/{id}`), whose `progress` counts rows "
        "and whose `result`, once it succeeds, is this endpoint's synchronous answer. A file "
        "that is missing, too large, or not a UTF-8 CSV with a `title` column by its first "
        "lines is refused at once as without the header; a problem further down fails the "
        "job (`status: failed`, `error`) and writes nothing.",
        parameters=[
            s.ImportQuery,
            PREFER_HEADER,
            OpenApiParameter(
                "Location",
                str,
                OpenApiParameter.HEADER,
                response=[202],
                description="The job to follow: /jobs/{id}.",
            ),
            OpenApiParameter(
                "Preference-Applied",
                str,
                OpenApiParameter.HEADER,
                response=[202],
                description="`respond-async`.",
            ),
        ],
        request={"multipart/form-data": s.ImportInput},
        responses={
            200: s.ImportResultOutput,
            202: OpenApiResponse(
                JobOutput, description="With `Prefer: respond-async`: the queued job."
            ),
            **errors(400, 413),
        },
        examples=[
            OpenApiExample(
                "Seed example",
                response_only=True,
                value={
                    "total_rows": 4,
                    "created": 2,
                    "failed": 2,
                    "errors": [
                        {"row": 3, "error": "Title is required", "field": "title"},
                        {"row": 4, "error": "Invalid assignee_id", "field": "assignee_id"},
                    ],
                    "ignored_columns": [],
                    "dry_run": False,
                },
            )
        ],
    )
    def post(self, request):
        query = s.validated(s.ImportQuery, request.query_params)
        upload = request.FILES.get("file")
        check_upload(upload, request=request)
        if prefers_async(request):
            job = import_jobs.import_job_create(
                upload, dry_run=query["dry_run"], actor=actor_of(request)
            )
            return accepted(request, job)
        result = services.issues_import(
            upload,
            dry_run=query["dry_run"],
            actor=actor_of(request),
            source=IssueEvent.Source.IMPORT,
        )
        return Response(result.as_dict())

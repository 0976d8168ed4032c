"""Lists are JSON arrays, as in the original system; the way on is an RFC 8288 `Link`
header (rel="next" / rel="prev") carrying an opaque cursor."""

from __future__ import annotations

from django.http import HttpResponse
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from tracker.filters import ORDERING_CHOICES, RELEVANCE, clean_ordering, sort_key
from tracker.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE, clean_per_page, keyset_page


def json_response(body: str) -> HttpResponse:
    return HttpResponse(body, content_type="application/json")


class KeysetLinkPagination(BasePagination):
    orderable = True

    def paginate_queryset(self, queryset, request, view=None, *, shape=None):
        """`shape`: see keyset_page."""
        self.request = request
        q = request.query_params.get("q")
        ordering = (
            clean_ordering(request.query_params.get("ordering"), q=q) if self.orderable else "id"
        )
        order, computed = sort_key(ordering, q=q)
        self.page = keyset_page(
            queryset,
            order=order,
            cursor=request.query_params.get("cursor") or None,
            per_page=clean_per_page(request.query_params.get("per_page")),
            computed=computed,
            shape=shape,
        )
        return self.page.items

    def link_header(self) -> str:
        here = self.request.build_absolute_uri()
        links = []
        if self.page.next_cursor:
            links.append(
                f'<{replace_query_param(here, "cursor", self.page.next_cursor)}>; rel="next"'
            )
        if self.page.prev_cursor:
            links.append(
                f'<{replace_query_param(here, "cursor", self.page.prev_cursor)}>; rel="prev"'
            )
        links.append(f'<{remove_query_param(here, "cursor")}>; rel="first"')
        return ", ".join(links)

    def get_paginated_response(self, data):
        return Response(data, headers={"Link": self.link_header()})

    def json_response(self, body: str) -> HttpResponse:
        """The page as JSON text already built (selectors_json), with its Link header."""
        response = json_response(body)
        response["Link"] = self.link_header()
        return response

    def get_paginated_response_schema(self, schema):
        return schema

    def get_schema_operation_parameters(self, view):
        params = [
            {
                "name": "per_page",
                "in": "query",
                "required": False,
                "description": f"Items per page (default {DEFAULT_PER_PAGE}, "
                f"at most {MAX_PER_PAGE}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
            },
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "Opaque position, taken from the Link header of the previous page.",
                "schema": {"type": "string"},
            },
        ]
        if self.orderable:
            params.append(
                {
                    "name": "ordering",
                    "in": "query",
                    "required": False,
                    "description": "Sort order (default `id`; `-` for descending; "
                    "`priority`: most urgent first; `due_date`: soonest first, issues without "
                    "one last (`-due_date` too); `relevance`, best match first, with `q`).",
                    "schema": {
                        "type": "string",
                        "enum": [*(name for name, _ in ORDERING_CHOICES), RELEVANCE],
                    },
                }
            )
        return params


class IdPagination(KeysetLinkPagination):
    """Lists in id order only (users, an issue's comments)."""

    orderable = False


class NewestFirst(KeysetLinkPagination):
    """Lists newest first, in id order (deliveries, notifications)."""

    orderable = False

    def paginate_queryset(self, queryset, request, view=None, *, shape=None):
        self.request = request
        self.page = keyset_page(
            queryset,
            order="-id",
            cursor=request.query_params.get("cursor") or None,
            per_page=clean_per_page(request.query_params.get("per_page")),
            shape=shape,
        )
        return self.page.items

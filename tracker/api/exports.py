"""`GET /issues/export`: the issues matching the list's filters as a CSV file, streamed."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request

from issuetracker.long_requests import long_request
from tracker import exports, selectors
from tracker.filters import IssueFilter, clean_ordering, sort_key
from tracker.rules import CSV_EXPORT_COLUMNS

from .schema import errors


@long_request("GET")
class IssuesExportView(GenericAPIView):
    filterset_class = IssueFilter  # documents the filters (the list's own)

    @extend_schema(
        summary="Export issues as CSV",
        description=(
            "The issues matching the same filters as `GET /issues` (and `q`, and `ordering`), "
            f"as CSV with the columns {', '.join(CSV_EXPORT_COLUMNS)}. `POST /issues/import` "
            "takes the file back (it ignores the read-only columns `id`, `created_at`, "
            "`updated_at` and `resolved_at`). Cells that a spreadsheet would run as a formula "
            "start with `'`. Streamed: any number of rows."
        ),
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV file."),
            **errors(400),
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        params = request.query_params
        q = params.get("q", "").strip()
        order = clean_ordering(params.get("ordering"), q=q)
        queryset = selectors.issue_list(filters=params, request=request)
        order, computed = sort_key(order, q=q)
        if computed is not None:
            sign = "-" if computed.descending else ""
            queryset = queryset.annotate(**{computed.name: computed.expression()}).order_by(
                f"{sign}{computed.name}", f"{sign}id"
            )
        else:
            queryset = queryset.order_by(order, "-pk" if order.startswith("-") else "pk")
        response = StreamingHttpResponse(
            exports.issues_csv(queryset), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="issues-{stamp}.csv"'
        return response

"""Report endpoints: parse the query string, call one function of tracker.reports, return its
plain data. The reports module owns the rules (valid statuses, ranges, period caps); the
parameter serializers here only parse types."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker import reports
from tracker.rules import in_utc

from .schema import errors
from .serializers import StatusField, validated

# --- Query parameters.


@extend_schema_field({"type": "string", "format": "date-time"})
class InstantField(serializers.Field):
    """An ISO 8601 date or date-time, read as an aware datetime.

    A bare date means the start of that day; with `end_of_range`, the start of the next day,
    so `until=2026-01-31` includes the 31st (the reports take `until` as exclusive).
    A date-time without an offset is in the server's time zone.
    """

    default_error_messages = {"invalid": "Enter an ISO 8601 date or date-time."}

    def __init__(self, *, end_of_range: bool = False, **kwargs) -> None:
        self.end_of_range = end_of_range
        super().__init__(**kwargs)

    def to_internal_value(self, value) -> datetime:
        text = str(value).strip()
        try:
            day = parse_date(text)
            moment = None if day else parse_datetime(text)
        except ValueError:
            self.fail("invalid")
        try:
            if day is not None:
                if self.end_of_range:
                    day += timedelta(days=1)
                return timezone.make_aware(datetime.combine(day, time.min))
            if moment is None:
                self.fail("invalid")
            return in_utc(moment) if timezone.is_aware(moment) else timezone.make_aware(moment)
        except OverflowError:  # a date at the very end (or start) of the calendar
            self.fail("invalid")

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class TopAssigneesParams(serializers.Serializer):
    limit = serializers.IntegerField(required=False, help_text="At most this many assignees.")
    status = StatusField(required=False, help_text="Count only the issues in this status.")


class LatencyParams(serializers.Serializer):
    since = InstantField(
        required=False, help_text="Only issues resolved at or after this date or date-time."
    )
    until = InstantField(
        required=False,
        end_of_range=True,
        help_text="Only issues resolved before this date-time, or on or before this date.",
    )


class SeriesParams(serializers.Serializer):
    interval = serializers.CharField(
        required=False,
        default="day",
        help_text=f"`day` or `week` (ISO weeks, starting on Monday). "
        f"Default window: the last {reports.DEFAULT_PERIODS['day']} days or "
        f"{reports.DEFAULT_PERIODS['week']} weeks; at most {reports.MAX_PERIODS} periods.",
    )
    since = serializers.DateField(required=False, help_text="First day of the series.")
    until = serializers.DateField(required=False, help_text="Last day (default today).")


# --- Responses, for the schema: the views return the report functions' data as it is.


class TopAssigneeOutput(serializers.Serializer):
    assignee_id = serializers.IntegerField()
    name = serializers.CharField()
    total = serializers.IntegerField()
    open = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    closed = serializers.IntegerField()
    overdue = serializers.IntegerField(
        help_text="Open or in progress, due before today (in the server's time zone)."
    )


class LatencyOutput(serializers.Serializer):
    average_resolution_time = serializers.CharField(
        allow_null=True, help_text='Python timedelta text, e.g. "1 day, 2:03:04.500000".'
    )
    resolved_count = serializers.IntegerField()
    average_seconds = serializers.FloatField(allow_null=True)
    median_seconds = serializers.FloatField(allow_null=True)
    p90_seconds = serializers.FloatField(allow_null=True)


class SeriesPointOutput(serializers.Serializer):
    period = serializers.DateField(help_text="First day of the day or week.")
    created = serializers.IntegerField()
    resolved = serializers.IntegerField()


# --- Views.


class TopAssigneesView(APIView):
    @extend_schema(
        summary="Issues per assignee",
        description="Most issues first, ties by user id; unassigned issues are not counted.",
        parameters=[
            TopAssigneesParams,
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": reports.MAX_LIMIT},
                description="At most this many assignees.",
            ),
        ],
        responses={200: TopAssigneeOutput(many=True), **errors(400)},
        examples=[
            OpenApiExample(
                "Two assignees",
                value=[
                    {
                        "assignee_id": 1,
                        "name": "Alice",
                        "total": 3,
                        "open": 1,
                        "in_progress": 1,
                        "closed": 1,
                    },
                    {
                        "assignee_id": 2,
                        "name": "Bob",
                        "total": 1,
                        "open": 0,
                        "in_progress": 0,
                        "closed": 1,
                    },
                ],
                response_only=True,
            )
        ],
    )
    def get(self, request):
        return Response(
            reports.top_assignees(**validated(TopAssigneesParams, request.query_params))
        )


class LatencyView(APIView):
    @extend_schema(
        summary="Resolution time",
        description="Time from creation to resolution of closed issues: average (also as "
        "text, as in the original system), median and 90th percentile in seconds. "
        "`null` values when nothing was resolved.",
        parameters=[LatencyParams],
        responses={200: LatencyOutput, **errors(400)},
        examples=[
            OpenApiExample(
                "Resolved issues",
                value={
                    "average_resolution_time": "0:02:45.123456",
                    "resolved_count": 12,
                    "average_seconds": 165.123456,
                    "median_seconds": 140.0,
                    "p90_seconds": 290.5,
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        return Response(
            reports.resolution_latency(**validated(LatencyParams, request.query_params))
        )


class CreatedVsResolvedView(APIView):
    @extend_schema(
        summary="Issues created and resolved per day or week",
        description="Every period of the window appears, empty ones with zeros.",
        parameters=[
            SeriesParams,
            OpenApiParameter(
                "interval",
                {"type": "string", "enum": list(reports.INTERVALS), "default": "day"},
                description=str(SeriesParams().fields["interval"].help_text),
            ),
        ],
        responses={200: SeriesPointOutput(many=True), **errors(400)},
    )
    def get(self, request):
        return Response(
            reports.created_vs_resolved(**validated(SeriesParams, request.query_params))
        )

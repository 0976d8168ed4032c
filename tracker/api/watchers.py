"""Who watches an issue (`/issues/{id}/watchers`) and the authenticated person's
notifications (`/notifications`, `/notifications/read`)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from tracker import selectors
from tracker.actors import actor_of
from tracker.models import Notification, User
from tracker.services import notifications, watchers

from . import serializers as s
from .pagination import IdPagination, NewestFirst
from .schema import errors
from .views import TrackerView


def _me(request: Request) -> User:
    """The authenticated person (the views' permission_classes make sure there is one)."""
    user = actor_of(request)
    assert user is not None
    return user


class WatcherOutput(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "name", "username"]


class WatchOutput(serializers.Serializer):
    issue_id = serializers.IntegerField()
    user_id = serializers.IntegerField()
    watching = serializers.BooleanField()


class WatcherListView(TrackerView):
    serializer_class = WatcherOutput
    pagination_class = IdPagination

    @extend_schema(
        summary="Who watches an issue",
        description="Watchers hear of every change of the issue they did not make themselves "
        "(`GET /notifications`, and e-mail if they have it on). Creating, commenting on, "
        "being assigned to or being mentioned in an issue makes a person a watcher.",
        responses={200: WatcherOutput(many=True), **errors(400, 404)},
    )
    def get(self, request: Request, issue_id: int) -> Response:
        page = self.paginate_queryset(selectors.watcher_list(issue_id=issue_id))
        return self.get_paginated_response(WatcherOutput(page, many=True).data)


class WatcherDetailView(TrackerView):
    serializer_class = WatchOutput

    @extend_schema(
        summary="Watch an issue",
        description="Idempotent: 201 when the person starts watching, 200 when they already "
        "did. With TRACKER_REQUIRE_AUTH on, a person adds only themselves unless staff (403 "
        "`not_yourself`). 404 `issue_not_found` or `user_not_found`, nothing written.",
        request=None,
        responses={200: WatchOutput, 201: WatchOutput, **errors(401, 403, 404)},
    )
    def put(self, request: Request, issue_id: int, user_id: int) -> Response:
        created = watchers.watch_add(issue_id=issue_id, user_id=user_id, actor=actor_of(request))
        body = {"issue_id": issue_id, "user_id": user_id, "watching": True}
        return Response(body, status=201 if created else 200)

    @extend_schema(
        summary="Stop watching an issue",
        description="Idempotent: 204 whether or not the person watched it. Same rules as PUT.",
        responses={204: None, **errors(401, 403, 404)},
    )
    def delete(self, request: Request, issue_id: int, user_id: int) -> Response:
        watchers.watch_remove(issue_id=issue_id, user_id=user_id, actor=actor_of(request))
        return Response(status=204)


class NotificationOutput(serializers.ModelSerializer):
    issue_title = serializers.CharField(source="issue.title")
    actor = WatcherOutput(allow_null=True)
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "issue_id",
            "issue_title",
            "event",
            "version",
            "details",
            "reason",
            "actor",
            "created_at",
            "read",
            "read_at",
        ]

    def get_read(self, notification: Notification) -> bool:
        return notification.read_at is not None


PAGE_PARAMETERS = ("cursor", "per_page")


class NotificationQuery(s.StrictInput):
    """The list's own parameters (the paginator reads and documents `cursor` and
    `per_page`)."""

    unread = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Only unread (`true`) or read."
    )


class NotificationReadInput(s.StrictInput):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=10_000
    )
    all = s.BooleanInput(required=False, default=False)

    def validate(self, data: dict) -> dict:
        if not data.get("all") and not data.get("ids"):
            raise serializers.ValidationError(
                {"ids": ['Give "ids" or "all": true']}, code="ids_or_all"
            )
        return data


class NotificationReadOutput(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many were unread.")
    unread = serializers.IntegerField(help_text="How many remain unread.")


class NotificationListView(TrackerView):
    permission_classes = [IsAuthenticated]
    serializer_class = NotificationOutput
    pagination_class = NewestFirst

    @extend_schema(
        summary="Your notifications, newest first",
        description="One per change of an issue you watch, are assigned or were mentioned in, "
        "that someone else made. `reason`: assignee, unassigned, mention, creator, watcher.",
        parameters=[NotificationQuery],
        responses={200: NotificationOutput(many=True), **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        own = {k: v for k, v in request.query_params.items() if k not in PAGE_PARAMETERS}
        query = s.validated(NotificationQuery, own)
        page = self.paginate_queryset(
            selectors.notification_list(recipient_id=_me(request).pk, unread=query["unread"])
        )
        return self.get_paginated_response(NotificationOutput(page, many=True).data)


class NotificationReadView(TrackerView):
    permission_classes = [IsAuthenticated]
    serializer_class = NotificationReadOutput
    input_serializers = {"POST": NotificationReadInput}

    @extend_schema(
        summary="Mark notifications read",
        description='`{"ids": [...]}` marks those of yours (others\' ids are ignored); '
        '`{"all": true}` marks every one.',
        request=NotificationReadInput,
        responses={200: NotificationReadOutput, **errors(400, 401)},
        examples=[OpenApiExample("Two", value={"ids": [1, 2]}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        data = self.validated_body()
        marked = notifications.notifications_mark_read(
            recipient=_me(request), ids=data.get("ids"), everything=data["all"]
        )
        unread = selectors.notification_list(recipient_id=_me(request).pk, unread=True).count()
        return Response({"marked": marked, "unread": unread})

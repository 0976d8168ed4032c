"""Outgoing webhooks, staff only in every auth mode: `/webhooks`, `/webhooks/{id}`, its
deliveries (newest first) and their redelivery. The secret is write-only."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from tracker.models import IssueEvent, Webhook, WebhookDelivery
from tracker.services import webhooks

from .pagination import IdPagination, NewestFirst
from .schema import errors
from .serializers import BooleanInput, StrictInput
from .views import TrackerView


class WebhookInput(StrictInput):
    ignored_fields = frozenset({"id", "created_at", "updated_at"})
    url = serializers.CharField(help_text="An http or https URL.", trim_whitespace=True)
    secret = serializers.CharField(
        write_only=True, trim_whitespace=False, help_text="Signs each delivery; never shown."
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=IssueEvent.Kind.choices),
        required=False,
        help_text="The events to send; empty or absent for all.",
    )
    active = BooleanInput(required=False)


class WebhookPatch(WebhookInput):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class WebhookOutput(serializers.ModelSerializer):
    class Meta:
        model = Webhook
        fields = ["id", "url", "events", "active", "created_at", "updated_at"]


class DeliveryOutput(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "delivery_id",
            "webhook_id",
            "event",
            "issue_id",
            "version",
            "status",
            "attempts",
            "last_status_code",
            "duration_ms",
            "error",
            "response_snippet",
            "log",
            "body",
            "created_at",
            "delivered_at",
        ]


class StaffView(TrackerView):
    permission_classes = [IsAdminUser]


class WebhookListView(StaffView):
    serializer_class = WebhookOutput
    pagination_class = IdPagination
    input_serializers = {"POST": WebhookInput}

    @extend_schema(
        summary="Webhooks (staff)", responses={200: WebhookOutput(many=True), **errors(400, 403)}
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(Webhook.objects.order_by("id"))
        return self.get_paginated_response(WebhookOutput(page, many=True).data)

    @extend_schema(
        summary="Register a webhook (staff)",
        description="Every event of the issues (or those in `events`) is POSTed to `url`, "
        "signed with `secret` (X-Tracker-Signature-256). Addresses of loopback, private, "
        "link-local, multicast or reserved networks are refused (`url_not_allowed`).",
        request=WebhookInput,
        responses={201: WebhookOutput, **errors(400, 403)},
    )
    def post(self, request: Request) -> Response:
        webhook = webhooks.webhook_create(**self.validated_body())
        return Response(WebhookOutput(webhook).data, status=201)


class WebhookDetailView(StaffView):
    serializer_class = WebhookOutput
    input_serializers = {"PATCH": WebhookPatch}

    @extend_schema(summary="A webhook (staff)", responses={200: WebhookOutput, **errors(403, 404)})
    def get(self, request: Request, webhook_id: int) -> Response:
        return Response(WebhookOutput(webhooks.webhook_get(webhook_id)).data)

    @extend_schema(
        summary="Change a webhook (staff)",
        request=WebhookPatch,
        responses={200: WebhookOutput, **errors(400, 403, 404)},
    )
    def patch(self, request: Request, webhook_id: int) -> Response:
        changes = self.validated_body()
        return Response(
            WebhookOutput(webhooks.webhook_update(webhook_id=webhook_id, **changes)).data
        )

    @extend_schema(summary="Delete a webhook (staff)", responses={204: None, **errors(403, 404)})
    def delete(self, request: Request, webhook_id: int) -> Response:
        webhooks.webhook_delete(webhook_id=webhook_id)
        return Response(status=204)


class DeliveryListView(StaffView):
    serializer_class = DeliveryOutput
    pagination_class = NewestFirst

    @extend_schema(
        summary="A webhook's deliveries, newest first (staff)",
        responses={200: DeliveryOutput(many=True), **errors(400, 403, 404)},
    )
    def get(self, request: Request, webhook_id: int) -> Response:
        webhook = webhooks.webhook_get(webhook_id)
        page = self.paginate_queryset(WebhookDelivery.objects.filter(webhook=webhook))
        return self.get_paginated_response(DeliveryOutput(page, many=True).data)


class DeliveryRedeliverView(StaffView):
    serializer_class = DeliveryOutput

    @extend_schema(
        summary="Send a delivery again (staff)",
        description="The same body and delivery id, after the webhook's queued deliveries.",
        request=None,
        responses={202: DeliveryOutput, **errors(403, 404)},
    )
    def post(self, request: Request, webhook_id: int, delivery_id: uuid.UUID) -> Response:
        delivery = webhooks.delivery_redeliver(webhook_id=webhook_id, delivery_id=delivery_id)
        return Response(DeliveryOutput(delivery).data, status=202)

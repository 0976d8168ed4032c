"""`GET /jobs/{id}`: a background job's state, progress and result (DESIGN.md, Background
jobs API)."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from tracker.actors import actor_of
from tracker.models import Job
from tracker.services import jobs

from .schema import errors


class JobProgressOutput(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField(allow_null=True)


class JobOutput(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()
    result = serializers.JSONField(
        allow_null=True, help_text="An import's result is the synchronous answer's body."
    )
    error = serializers.CharField(allow_null=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "progress",
            "result",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]

    @extend_schema(responses=JobProgressOutput)
    def get_progress(self, job: Job) -> dict:
        return {"done": job.progress_done, "total": job.progress_total}

    def to_representation(self, instance: Job) -> dict:
        data = super().to_representation(instance)
        data["error"] = instance.error or None
        return data


def job_data(job: Job) -> dict:
    return JobOutput(job).data


class JobDetailView(GenericAPIView):
    serializer_class = JobOutput

    @extend_schema(
        summary="A background job",
        description="Its state (`queued`, `running`, `succeeded`, `failed`), progress and "
        "result. Visible to anyone in open mode; with TRACKER_REQUIRE_AUTH on, to the "
        "person who started it and to staff.",
        responses={200: JobOutput, **errors(404)},
    )
    def get(self, request: Request, job_id: int) -> Response:
        return Response(job_data(jobs.job_get(job_id, viewer=actor_of(request))))


def prefers_async(request: Request) -> bool:
    """The request asks to be answered before the work is done: `Prefer: respond-async`
    (RFC 7240; preferences are separated by commas, parameters by semicolons)."""
    header = request.headers.get("Prefer", "")
    return any(
        part.split(";")[0].split("=")[0].strip().lower() == "respond-async"
        for part in header.split(",")
    )


def accepted(request: Request, job: Job) -> Response:
    """202 Accepted: the job, where to follow it, and that the preference was applied."""
    location = reverse("api-job", kwargs={"job_id": job.pk})
    return Response(
        job_data(job),
        status=202,
        headers={"Location": location, "Preference-Applied": "respond-async"},
    )


PREFER_HEADER = OpenApiParameter(
    "Prefer",
    str,
    OpenApiParameter.HEADER,
    required=False,
    enum=["respond-async"],
    description="`respond-async` (RFC 7240): answer `202 Accepted` at once with the job "
    "(`Location: /jobs/{id}`, `Preference-Applied: respond-async`) and run the work in the "
    "background; follow it with GET /jobs/{id}.",
)

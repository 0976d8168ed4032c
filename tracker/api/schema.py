"""What the OpenAPI schema says beyond the serializers: the error responses, and a hook."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse

from .serializers import ErrorOutput

ERROR_DESCRIPTIONS = {
    400: "Invalid input: `detail`, `code` and `errors` by field.",
    401: "Authentication needed (TRACKER_REQUIRE_AUTH is on).",
    403: "Not allowed.",
    404: "Not found.",
    409: "Version conflict: the issue changed since you read it; nothing was written.",
    413: "The file is larger than TRACKER_IMPORT_MAX_BYTES.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error responses of an operation, by status code."""
    return {
        code: OpenApiResponse(ErrorOutput, description=ERROR_DESCRIPTIONS[code]) for code in codes
    }


def drop_trailing_slash_twins(endpoints: list, **kwargs) -> list:
    """Every API path also answers with a trailing slash; document each path once."""
    paths = {path for path, *_ in endpoints}
    return [
        endpoint
        for endpoint in endpoints
        if not (endpoint[0].endswith("/") and endpoint[0].rstrip("/") in paths)
    ]

"""What the OpenAPI schema says beyond the serializers: the error responses, who may call
without credentials, the JSON request bodies, text that must not be blank, and query
parameters whose empty value is ignored."""

from __future__ import annotations

import functools
import sys

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import IsAuthenticated

from .permissions import anonymous_may
from .serializers import ErrorOutput, StrictInput

ERROR_DESCRIPTIONS = {
    400: "Invalid input: `detail`, `code` and `errors` by field.",
    401: "Not authenticated: wrong credentials (token or password) on any request, or none "
    "on a write while TRACKER_REQUIRE_AUTH is on.",
    403: "Not allowed.",
    404: "Not found.",
    409: "Version conflict: the issue changed since you read it; nothing was written.",
    413: "The file is larger than TRACKER_IMPORT_MAX_BYTES.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error responses of an operation, by status code (401 and 414 are
    added to every operation by `document_common_responses`)."""
    return {
        code: OpenApiResponse(ErrorOutput, description=ERROR_DESCRIPTIONS[code]) for code in codes
    }


class TrackerAutoSchema(AutoSchema):
    def get_auth(self) -> list[dict]:
        """The authentication schemes, and `{}` (none at all) where the permission lets an
        anonymous request through: reads always, writes while TRACKER_REQUIRE_AUTH is off."""
        auths = super().get_auth()
        signed_in_only = IsAuthenticated in getattr(self.view, "permission_classes", ())
        if {} not in auths and anonymous_may(self.method) and not signed_in_only:
            auths.append({})
        return auths

    def map_parsers(self) -> list[str]:
        """The API takes JSON. DRF also parses form encodings, which the browsable API's HTML
        form uses, but they cannot carry null or a list of names: not part of the contract."""
        media_types = super().map_parsers()
        return ["application/json"] if "application/json" in media_types else media_types

    def _map_basic_serializer(self, serializer, direction):
        """A StrictInput refuses keys it does not know (400 `unknown_field`) and drops its
        `ignored_fields` quietly: no other properties, and those listed as ignored."""
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictInput):
            schema["additionalProperties"] = False
            for name in sorted(serializer.ignored_fields):
                schema["properties"].setdefault(
                    name,
                    {
                        "description": "Ignored: read-only, accepted so that a client may "
                        "send back what it read."
                    },
                )
        return schema


# What rules.NOT_ALLOWED_CHARACTER refuses, but CR (the rules make it a newline first) and
# the lone surrogates (not characters at all, so no schema string holds one).
NOT_ALLOWED = "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f"
ALLOWED_TEXT = f"^[^{NOT_ALLOWED}]*$"
NOT_EMPTY_TEXT = f"^[^{NOT_ALLOWED}]+$"


@functools.cache
def not_only_white_space() -> str:
    """A pattern for text the services accept: no character rules.py refuses, and one that
    str.strip() keeps. The white space of Python's str.isspace(), which the services trim,
    is spelled out as \\u escapes: ECMAScript's `\\S` (the schema's regex dialect) does not
    mean that: it counts U+FEFF as space and U+001C..U+001F not, so a client would be told
    that a blank name is fine."""
    spaces = [code for code in range(sys.maxunicode + 1) if chr(code).isspace()]
    ranges, start = [], spaces[0]
    for previous, following in zip(spaces, [*spaces[1:], -1], strict=True):
        if following != previous + 1:
            ranges.append(f"\\u{start:04x}" + (f"-\\u{previous:04x}" if previous > start else ""))
            start = following
    return f"^[^{NOT_ALLOWED}]*[^{''.join(ranges)}{NOT_ALLOWED}][^{NOT_ALLOWED}]*$"


class TextInputExtension(OpenApiSerializerFieldExtension):
    """serializers.TextInput: any text the rules accept, blank included. For a field that
    allows blank, the pattern is for text that is not empty: a pattern on such a field makes
    drf-spectacular offer the empty string as an alternative of its own (`oneOf`), and a
    pattern that matched it too would make "" match both, which `oneOf` refuses."""

    target_class = "tracker.api.serializers.TextInput"

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        schema["pattern"] = NOT_EMPTY_TEXT if self.target.allow_blank else ALLOWED_TEXT
        return schema


class RequiredTextExtension(OpenApiSerializerFieldExtension):
    """serializers.RequiredText: the service refuses blank text (with its own message), and
    text over the field's limit once trimmed; the schema says so with minLength (as for any
    CharField that does not allow blank), a pattern for "not only white space", and
    maxLength."""

    target_class = "tracker.api.serializers.RequiredText"
    priority = 1  # over TextInputExtension, whose class it extends

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        schema["minLength"] = 1
        schema["pattern"] = not_only_white_space()
        if self.target.limit is not None:
            schema["maxLength"] = self.target.limit
        return schema


EMPTY = {"type": "string", "maxLength": 0}


def _rejects_empty(schema: dict) -> bool:
    return schema.get("type") != "string" or any(
        key in schema for key in ("format", "enum", "pattern", "minLength")
    )


def _operations(result: dict):
    for operations in result.get("paths", {}).values():
        yield from operations.values()


def document_common_responses(result: dict, generator, request, public) -> dict:
    """Postprocessing hook: the answers any operation can get before its view runs. Wrong
    credentials are a 401 wherever credentials are taken; a request line longer than the
    server's limit is refused by the server itself (414, not JSON)."""
    unauthorized = {
        "description": ERROR_DESCRIPTIONS[401],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOutput"}}},
    }
    uri_too_long = {
        "description": "URI too long: the server refuses a request line over its limit "
        "(some tens of kilobytes; a proxy in front may set a lower one)."
    }
    for operation in _operations(result):
        if any(requirement for requirement in operation.get("security", [])):
            operation["responses"]["401"] = unauthorized
        operation["responses"]["414"] = uri_too_long
    return result


def document_empty_query_values(result: dict, generator, request, public) -> dict:
    """Postprocessing hook: a query parameter left empty (`?created_after=`) is ignored, as
    Django forms ignore it, so the schema allows it (repeatable parameters excepted: there an
    empty value is an invalid choice). A free-text parameter holds no control character
    (middleware.QueryParametersChecked)."""
    for operation in _operations(result):
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema", {})
            if schema.get("type") == "string" and not _rejects_empty(schema):
                schema["pattern"] = ALLOWED_TEXT
            if parameter["in"] == "query" and schema.get("type") != "array":
                if _rejects_empty(schema):
                    parameter["schema"] = {"anyOf": [schema, EMPTY]}
                note = "An empty value is ignored."
                parameter["description"] = f"{parameter.get('description', '')} {note}".strip()
    return result


def drop_trailing_slash_twins(endpoints: list, **kwargs) -> list:
    """Every API path also answers with a trailing slash; document each path once."""
    paths = {path for path, *_ in endpoints}
    return [
        endpoint
        for endpoint in endpoints
        if not (endpoint[0].endswith("/") and endpoint[0].rstrip("/") in paths)
    ]

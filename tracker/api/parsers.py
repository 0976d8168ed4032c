"""The API's JSON parser: DRF's, within the limits of a JSON body (DESIGN.md, "Text, Unicode
and limits"): at most JSON_MAX_BYTES (413), at most JSON_MAX_DEPTH levels of nesting (400),
and no lone surrogates anywhere, keys included (400 naming the field).

A lone surrogate ("\\ud800" in the JSON text) is valid JSON but no character: it cannot be
encoded as UTF-8, stored or rendered, so it is refused here, before any message can echo it.
Form and multipart bodies (the browsable API, the CSV import) keep DRF's parsers and their
own limits (DATA_UPLOAD_MAX_MEMORY_SIZE, TRACKER_IMPORT_MAX_BYTES).
"""

from __future__ import annotations

import json
import re
from typing import Any

from rest_framework import exceptions, parsers
from rest_framework.utils.json import strict_constant

from tracker.rules import escaped, not_allowed_character

JSON_MAX_BYTES = 1024 * 1024
JSON_MAX_DEPTH = 32
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = f"Request body too large (max {JSON_MAX_BYTES:,} bytes of JSON)"
    default_code = "request_too_large"


class NestedTooDeeply(exceptions.ParseError):
    default_detail = f"JSON nesting is deeper than the limit of {JSON_MAX_DEPTH} levels"
    default_code = "too_deeply_nested"


def _label(field: str) -> str:
    return field.replace("_", " ").capitalize()


def _check_text(text: str, field: str, label: str) -> None:
    bad = LONE_SURROGATE.search(text)
    if bad:
        raise not_allowed_character(field, label, bad.group())


def _inspect(value: Any, depth: int, field: str | None) -> None:
    """Refuse nesting deeper than JSON_MAX_DEPTH and lone surrogates, naming the top-level
    field they are under. Recurses at most JSON_MAX_DEPTH + 1 deep."""
    if isinstance(value, str):
        _check_text(value, field or "non_field_errors", _label(field) if field else "The body")
        return
    if not isinstance(value, dict | list):
        return
    if depth >= JSON_MAX_DEPTH:
        raise NestedTooDeeply()
    if isinstance(value, list):
        for item in value:
            _inspect(item, depth + 1, field)
        return
    for key, item in value.items():
        if field is None:
            shown = escaped(key)
            _check_text(key, shown, f"The field name '{shown}'")
            _inspect(item, depth + 1, key)
        else:
            _check_text(key, field, _label(field))
            _inspect(item, depth + 1, field)


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        parser_context = parser_context or {}
        request = parser_context.get("request")
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0) if request else 0
        except ValueError:
            declared = 0
        if declared > JSON_MAX_BYTES:
            raise RequestTooLarge()
        raw = stream.read(JSON_MAX_BYTES + 1)
        if len(raw) > JSON_MAX_BYTES:
            raise RequestTooLarge()
        encoding = parser_context.get("encoding") or "utf-8"
        try:
            data = json.loads(
                raw.decode(encoding), parse_constant=strict_constant if self.strict else None
            )
        except RecursionError as exc:
            raise NestedTooDeeply() from exc
        except (ValueError, LookupError) as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        _inspect(data, 0, None)
        return data

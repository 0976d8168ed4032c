"""Every error the API returns is JSON: a human `detail`, a machine `code`, and for invalid
input `errors`: {field: [messages]}. Domain errors and Django's ValidationError raised by
services are translated here, so views never build error responses themselves."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, OperationalError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tracker.errors import DomainError, VersionConflict

logger = logging.getLogger(__name__)


def _first_code(codes: Any) -> str:
    while isinstance(codes, dict | list) and codes:
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return codes if isinstance(codes, str) else "invalid"


def _summary(errors: dict[str, list[str]]) -> str:
    """One sentence for `detail`: a service's message is already a sentence ("Title is
    required"); a bare framework message ("This field is required.") gets its field name."""
    field, messages = next(iter(errors.items()))
    message = str(messages[0]) if isinstance(messages, list) and messages else str(messages)
    if (
        field in ("non_field_errors", "__all__")
        or field.replace("_", " ").lower() in message.lower()
    ):
        return message
    return f"{field}: {message}"


def _flatten(data: Any) -> dict[str, list[str]]:
    if isinstance(data, dict):
        return {key: _messages(value) for key, value in data.items()}
    return {"non_field_errors": _messages(data)}


def _messages(value: Any) -> list[str]:
    if isinstance(value, list):
        flat: list[str] = []
        for item in value:
            flat.extend(_messages(item) if isinstance(item, list | dict) else [str(item)])
        return flat
    if isinstance(value, dict):
        return [f"{key}: {msg}" for key, inner in value.items() for msg in _messages(inner)]
    return [str(value)]


def _is_retryable(exc: OperationalError) -> bool:
    # SQLSTATE class 40: transaction rollback (40001 serialization failure, 40P01 deadlock).
    return str(getattr(exc.__cause__, "pgcode", "") or "").startswith("40")


def validation_response(errors: dict[str, list[str]], code: str, detail: str) -> Response:
    return Response(
        {"detail": detail, "code": code, "errors": errors},
        status=status.HTTP_400_BAD_REQUEST,
    )


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code}
        if isinstance(exc, VersionConflict) and exc.current_version is not None:
            body["current_version"] = exc.current_version
        return Response(body, status=exc.status_code)

    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            errors = {
                field: [str(m) for e in errs for m in e.messages]
                for field, errs in exc.error_dict.items()
            }
            code = next(iter(exc.error_dict.values()))[0].code or "invalid"
        else:
            errors = {"non_field_errors": [str(m) for m in exc.messages]}
            code = exc.error_list[0].code or "invalid"
        # Services word their messages as sentences ("Title is required"): keep them whole.
        return validation_response(errors, code, next(iter(errors.values()))[0])

    if isinstance(exc, DataError):
        # A number or date beyond what a column can hold names no row and fits no field.
        # Logged: the same error from a value the services should have refused is a bug.
        logger.warning("Data error reached the API: %s", exc)
        return Response(
            {"detail": "A value is out of range", "code": "out_of_range"},
            status=status.HTTP_400_BAD_REQUEST,
        )

    # A lost connection (no SQLSTATE, or a connection one) is not handled here but in
    # tracker.middleware.DatabaseUnavailable, which can run a read again on a new connection.
    if isinstance(exc, OperationalError) and _is_retryable(exc):
        # Deadlock or serialization failure: PostgreSQL rolled the transaction back whole.
        return Response(
            {"detail": "The change collided with another one; try again", "code": "retry"},
            status=status.HTTP_409_CONFLICT,
        )

    if isinstance(exc, IntegrityError):
        # The database's constraints are the last line; reaching them means a race the
        # services did not foresee. Report it as a conflict, never as a 500.
        logger.warning("Integrity error reached the API: %s", exc)
        return Response(
            {"detail": "The change conflicts with the current data; try again", "code": "conflict"},
            status=status.HTTP_409_CONFLICT,
        )

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        return validation_response(errors, _first_code(exc.get_codes()), _summary(errors))
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        response.data = {"detail": str(detail), "code": _first_code(exc.get_codes())}
    return response

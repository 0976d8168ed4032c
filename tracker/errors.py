"""Domain errors raised by services. Each carries a stable `code` and an HTTP status, so
every interface (API, pages, admin, import) reports the same thing the same way.

Invalid field values are raised as Django's `ValidationError` with a code, keyed by field.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError


class DomainError(Exception):
    status_code = 400
    code = "invalid"
    default_message = "Invalid request"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.message = message or self.default_message
        if code:
            self.code = code
        super().__init__(self.message)


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    default_message = "Not found"


class IssueNotFound(NotFound):
    code = "issue_not_found"
    default_message = "Issue not found"


class UserNotFound(NotFound):
    code = "user_not_found"
    default_message = "User not found"


class NotAllowed(DomainError):
    """The actor may not make this change (TRACKER_REQUIRE_AUTH on)."""

    status_code = 403
    code = "permission_denied"
    default_message = "You may not change this"


class InvalidLink(DomainError):
    """A signed link (an e-mail's unsubscribe link) that this site did not make."""

    code = "invalid_link"
    default_message = "This link is not valid"


class JobNotFound(NotFound):
    code = "job_not_found"
    default_message = "Job not found"


class WebhookNotFound(NotFound):
    code = "webhook_not_found"
    default_message = "Webhook not found"


class DeliveryNotFound(NotFound):
    code = "delivery_not_found"
    default_message = "Delivery not found"


class VersionConflict(DomainError):
    """The issue changed since the version the client read; nothing was written."""

    status_code = 409
    code = "version_conflict"
    default_message = "Version conflict"

    def __init__(self, *, current_version: int | None = None) -> None:
        super().__init__()
        self.current_version = current_version


class RuleViolation(DomainError):
    """A business rule refused the change as a whole (nothing was written)."""

    code = "rule_violation"


class ImportFileError(DomainError):
    """A CSV file cannot be imported as a whole; nothing was written."""

    code = "invalid_file"
    default_message = "The file cannot be imported"


class FileTooLarge(ImportFileError):
    status_code = 413
    code = "file_too_large"


def error_message(exc: DomainError | ValidationError) -> str:
    """A domain error's message, or a ValidationError's messages as one line, for the
    interfaces that show an error as text (page messages, the admin, commands)."""
    if isinstance(exc, DomainError):
        return exc.message
    return "; ".join(exc.messages)


def field_messages(exc: ValidationError) -> list[str]:
    """Each message of a ValidationError, led by its field's name unless it already names it
    ("created_after: Enter a valid date/time.", but "ordering must be one of: ..."), for
    pages that list errors away from any form field, as the API's `detail` does."""
    if not hasattr(exc, "error_dict"):
        return list(exc.messages)
    return [
        message
        if field == "__all__" or field.replace("_", " ").lower() in message.lower()
        else f"{field}: {message}"
        for field, errors in exc.error_dict.items()
        for error in errors
        for message in error.messages
    ]

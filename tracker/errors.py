"""Domain errors raised by services. Each carries a stable `code` and an HTTP status, so
every interface (API, pages, admin, import) reports the same thing the same way.

Invalid field values are raised as Django's `ValidationError` with a code, keyed by field.
"""

from __future__ import annotations


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

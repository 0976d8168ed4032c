from __future__ import annotations

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission


def anonymous_may(method: str) -> bool:
    """Whether a request without credentials may use `method` (the schema says the same)."""
    return method in SAFE_METHODS or not settings.TRACKER_REQUIRE_AUTH


class WritesNeedAuthWhenRequired(BasePermission):
    """Reads are always open. Writes are open too, as in the original system, unless
    TRACKER_REQUIRE_AUTH is on; then they need an authenticated user."""

    message = "Authentication is required to change anything"

    def has_permission(self, request, view) -> bool:
        if anonymous_may(request.method):
            return True
        return bool(request.user and request.user.is_authenticated)

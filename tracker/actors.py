"""Who a request acts as: the one rule the API, the pages and the admin share."""

from __future__ import annotations

from typing import Any

from tracker.models import User


def actor_of(request: Any) -> User | None:
    """The signed-in user making `request` (a Django or DRF request), or None when
    anonymous. The services record it as the actor of the events the request causes."""
    user = request.user
    return user if user.is_authenticated else None

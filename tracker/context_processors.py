from __future__ import annotations

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from tracker import selectors


def tracker(request) -> dict:
    """`require_auth`, and for a signed-in person `nav_personal`: their unread count and
    saved views, read in one query and only by a page that shows them."""
    context: dict = {"require_auth": settings.TRACKER_REQUIRE_AUTH}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        context["nav_personal"] = SimpleLazyObject(lambda: _nav(user.pk))
    return context


def _nav(user_id: int) -> dict:
    unread, views = selectors.nav_counts(user_id=user_id)
    return {"unread": unread, "views": views}

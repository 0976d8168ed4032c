"""Saved views: a person's named issue lists (the list page's query string)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from django.db import IntegrityError, transaction

from tracker import selectors
from tracker.errors import NotAllowed
from tracker.models import SAVED_VIEW_QUERY_MAX, SavedView, User
from tracker.rules import clean_view_name, invalid

SAVED_VIEWS_MAX = 50
# What a view keeps of the list's query string: its filters, sort and search (not the page).
VIEW_PARAMS = ("status", "assignee_id", "label", "q", "created_after", "created_before", "ordering")


def clean_view_query(query: str) -> str:
    """The list parameters of `query` (a query string, with or without `?`), in a stable
    form; paging (`cursor`, `per_page`) and unknown parameters are dropped."""
    pairs = [
        (key, value)
        for key, value in parse_qsl(query.removeprefix("?"), keep_blank_values=False)
        if key in VIEW_PARAMS
    ]
    cleaned = urlencode(pairs)
    if len(cleaned) > SAVED_VIEW_QUERY_MAX:
        raise invalid("query", f"At most {SAVED_VIEW_QUERY_MAX} characters", "too_long")
    return cleaned


def _own(view_id: int, owner: User) -> SavedView:
    view = selectors.saved_view_get(view_id=view_id)
    if view.owner_id != owner.pk:
        raise NotAllowed("This view is someone else's", code="not_your_view")
    return view


def _taken() -> Exception:
    return invalid("name", "You already have a view with this name", "view_name_taken")


def saved_view_create(*, owner: User, name: str, query: str) -> SavedView:
    """Raises ValidationError: blank or long name (`blank`, `max_length`), a name the owner
    already uses, compared without case (`view_name_taken`), too many views (`too_many`)."""
    name = clean_view_name(name)
    query = clean_view_query(query)
    with transaction.atomic():
        # The owner's row serialises their creations, so the limit holds under races.
        User.objects.select_for_update().filter(pk=owner.pk).first()
        if SavedView.objects.filter(owner=owner).count() >= SAVED_VIEWS_MAX:
            raise invalid("name", f"At most {SAVED_VIEWS_MAX} saved views", "too_many")
        if SavedView.objects.filter(owner=owner, name__iexact=name).exists():
            raise _taken()
        return SavedView.objects.create(owner=owner, name=name, query=query)


def saved_view_rename(*, view_id: int, owner: User, name: str) -> SavedView:
    """Raises NotFound (`view_not_found`), NotAllowed (`not_your_view`), ValidationError."""
    name = clean_view_name(name)
    view = _own(view_id, owner)
    if SavedView.objects.filter(owner=owner, name__iexact=name).exclude(pk=view.pk).exists():
        raise _taken()
    view.name = name
    try:
        with transaction.atomic():
            view.save(update_fields=["name"])
    except IntegrityError:
        raise _taken() from None
    return view


def saved_view_delete(*, view_id: int, owner: User) -> None:
    """Raises NotFound (`view_not_found`) or NotAllowed (`not_your_view`)."""
    _own(view_id, owner).delete()

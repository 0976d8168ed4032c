from __future__ import annotations

from tracker import selectors
from tracker.models import User
from tracker.rules import clean_user_name, same_name_error


def user_create(*, name: str, allow_same_name: bool = True) -> User:
    """Add a person. With `allow_same_name` off, a name someone already has (compared by
    rules.name_key) is refused with code `same_name`: the People page asks before
    adding a twin, while the API creates one as the original system does."""
    cleaned = clean_user_name(name)
    if not allow_same_name and (twin := selectors.user_named(name=cleaned)) is not None:
        raise same_name_error(twin.name)
    return User.objects.create_user(name=cleaned)

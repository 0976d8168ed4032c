from __future__ import annotations

from tracker.models import User
from tracker.rules import clean_user_name


def user_create(*, name: str) -> User:
    return User.objects.create_user(name=clean_user_name(name))

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from tracker import selectors
from tracker.errors import NotAllowed, UserNotFound
from tracker.models import User
from tracker.rules import (
    clean_email,
    clean_user_name,
    email_taken_error,
    is_id,
    may_see_private_fields,
    same_name_error,
)

# What `user_update` leaves alone: "not given", unlike None (which clears the e-mail).
UNCHANGED: object = object()


def user_create(
    *,
    name: str,
    email: str | None = None,
    email_notifications: bool = True,
    allow_same_name: bool = True,
) -> User:
    """Add a person. With `allow_same_name` off, a name someone already has (compared by
    rules.name_key) is refused with code `same_name`: the People page asks before
    adding a twin, while the API creates one as the original system does. An e-mail address
    someone else uses is refused with code `email_taken` (compared without regard to case)."""
    cleaned = clean_user_name(name)
    address = clean_email(email)
    if not allow_same_name and (twin := selectors.user_named(name=cleaned)) is not None:
        raise same_name_error(twin.name)
    _check_email_free(address, user_id=None)
    try:
        with transaction.atomic():
            return User.objects.create_user(
                name=cleaned, email=address, email_notifications=email_notifications
            )
    except IntegrityError as exc:
        raise _taken_or(exc) from exc


def user_update(
    *,
    user_id: int,
    actor: User | None,
    name: str | object = UNCHANGED,
    email: str | object | None = UNCHANGED,
    email_notifications: bool | object = UNCHANGED,
) -> User:
    """Change a person's name or e-mail settings. With TRACKER_REQUIRE_AUTH on only the
    person themselves or staff may (NotAllowed); in open mode anyone may, as with every
    other write. Raises UserNotFound, and ValidationError with codes `invalid_email`,
    `email_taken` and the name's codes."""
    user = User.objects.filter(pk=user_id).first() if is_id(user_id) else None
    if user is None:
        raise UserNotFound()
    if settings.TRACKER_REQUIRE_AUTH and not may_see_private_fields(actor, user.pk):
        raise NotAllowed("You may change only your own settings")
    fields: list[str] = []
    if name is not UNCHANGED:
        user.name = clean_user_name(name if isinstance(name, str) else None)
        fields.append("name")
    if email is not UNCHANGED:
        user.email = clean_email(email if isinstance(email, str) else None)
        _check_email_free(user.email, user_id=user.pk)
        fields.append("email")
    if email_notifications is not UNCHANGED:
        user.email_notifications = bool(email_notifications)
        fields.append("email_notifications")
    if fields:
        try:
            with transaction.atomic():
                user.save(update_fields=fields)
        except IntegrityError as exc:
            raise _taken_or(exc) from exc
    return user


def user_email_off(*, user_id: int) -> User:
    """Stop e-mail to a person (the unsubscribe link: the signature is the permission)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise UserNotFound()
    if user.email_notifications:
        user.email_notifications = False
        user.save(update_fields=["email_notifications"])
    return user


def _check_email_free(address: str | None, *, user_id: int | None) -> None:
    if address is None:
        return
    others = User.objects.annotate(email_key=Lower("email")).filter(email_key=address.lower())
    if user_id is not None:
        others = others.exclude(pk=user_id)
    if others.exists():
        raise email_taken_error()


def _taken_or(exc: IntegrityError) -> Exception:
    """Two requests took one address at once: the unique index refused the second."""
    return email_taken_error() if "users_email_unique" in str(exc) else exc

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from .factories import UserFactory


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory.create(name="Alice")


@pytest.fixture
def login_user(db):
    return UserFactory.create(name="Staff Sam", username="sam", is_staff=True)

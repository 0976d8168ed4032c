from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from .factories import UserFactory


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory(name="Alice")


@pytest.fixture
def login_user(db):
    return UserFactory(name="Staff Sam", username="sam", is_staff=True)


@pytest.fixture(autouse=True)
def _static_files_without_manifest(settings):
    """Tests run with debug off, where static files are looked up in the manifest that
    `collectstatic` writes; serve them straight from static/ instead, so pages render
    without a collectstatic step."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

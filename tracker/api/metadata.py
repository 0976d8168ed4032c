"""OPTIONS: DRF's metadata, with `actions` describing what each write method takes (the
view's `input_serializers`) rather than what it returns. It never looks an object up: the
API's views have no querysets, and an OPTIONS request names no issue that must exist."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.metadata import SimpleMetadata
from rest_framework.request import clone_request


class InputMetadata(SimpleMetadata):
    def determine_actions(self, request, view) -> dict[str, Any]:
        actions: dict[str, Any] = {}
        for method, serializer_class in getattr(view, "input_serializers", {}).items():
            if method not in view.allowed_methods:
                continue
            view.request = clone_request(request, method)
            try:
                view.check_permissions(view.request)
            except (exceptions.APIException, PermissionDenied, Http404):
                continue
            finally:
                view.request = request
            actions[method] = self.get_serializer_info(serializer_class())
        return actions

"""issuetracker/long_requests.py: the views that say their requests may take seconds, as the
server finds them in the URL configuration."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.urls import include, path
from django.views import View

from issuetracker.long_requests import long_request, long_request_paths


@long_request("post")
def slow_view(request):
    return HttpResponse()


def quick_view(request):
    return HttpResponse()


@long_request("GET")
class SlowClassView(View):
    pass


def test_the_marked_views_of_the_project_are_its_exports_imports_and_bulk_changes():
    assert set(long_request_paths()) == {
        ("GET", "/issues/export"),
        ("GET", "/issues/export/"),
        ("POST", "/issues/import"),
        ("POST", "/issues/import/"),
        ("POST", "/issues/bulk-status"),
        ("POST", "/issues/bulk-status/"),
        ("POST", "/ui/import/"),  # the upload (its GET, the form, is an ordinary request)
        ("POST", "/ui/import/confirm/"),
        ("GET", "/ui/import/errors.csv"),
        ("POST", "/ui/issues/bulk-status/"),
    }


def test_marks_are_found_on_functions_and_classes_under_includes():
    patterns = [
        path("quick/", quick_view),
        path("a/", include([path("slow/", slow_view), path("class/", SlowClassView.as_view())])),
    ]
    assert sorted(long_request_paths(patterns)) == [("GET", "/a/class/"), ("POST", "/a/slow/")]


@pytest.mark.parametrize(
    "patterns",
    [
        [path("slow/<int:n>/", slow_view)],
        [path("team/<slug:team>/", include([path("slow/", slow_view)]))],
    ],
    ids=["its own route", "an include's"],
)
def test_a_marked_view_under_parameters_is_refused(patterns):
    with pytest.raises(ImproperlyConfigured, match="may hold no parameters"):
        list(long_request_paths(patterns))


def test_parameters_beside_no_marked_view_are_fine():
    patterns = [path("items/<int:n>/", quick_view), path("slow/", slow_view)]
    assert list(long_request_paths(patterns)) == [("POST", "/slow/")]

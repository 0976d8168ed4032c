"""issuetracker/long_requests.py: the views that say their requests may take seconds, as the
server finds them in the URL configuration."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, include, path, re_path, resolve
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from issuetracker import serving
from issuetracker.long_requests import long_request, long_request_paths


@long_request("post")
def slow_view(request):
    return HttpResponse()


def quick_view(request):
    return HttpResponse()


@long_request("GET")
class SlowClassView(View):
    pass


@long_request("POST")
@csrf_exempt
@require_POST
def slow_decorated_view(request):
    return HttpResponse()


@csrf_exempt
@long_request("POST")
def marked_under_a_decorator(request):
    return HttpResponse()


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


def test_each_path_found_reaches_its_marked_view():
    """Not shadowed by an earlier route, and the mark is on what the URLconf holds."""
    for method, found in long_request_paths():
        match = resolve(found)
        view_class = getattr(match.func, "view_class", None)
        marks = getattr(match.func, "long_methods", set()) | getattr(
            view_class, "long_methods", set()
        )
        assert method in marks, found


def test_the_server_routes_the_paths_found():
    assert serving.application.long_requests == frozenset(long_request_paths())


def test_marks_are_found_on_functions_and_classes_under_includes_and_decorators():
    patterns: list[URLPattern | URLResolver] = [
        path("quick/", quick_view),
        path(
            "a/",
            include(
                [
                    path("slow/", slow_view),
                    path("class/", SlowClassView.as_view()),
                    path("decorated/", slow_decorated_view),
                    path("under/", marked_under_a_decorator),
                ]
            ),
        ),
    ]
    assert sorted(long_request_paths(patterns)) == [
        ("GET", "/a/class/"),
        ("POST", "/a/decorated/"),
        ("POST", "/a/slow/"),
        ("POST", "/a/under/"),
    ]


def test_a_mark_names_real_methods():
    with pytest.raises(TypeError):
        long_request()
    with pytest.raises(ValueError):
        long_request("PSOT")


@pytest.mark.parametrize(
    "patterns",
    [
        [path("slow/<int:n>/", slow_view)],
        [path("team/<slug:team>/", include([path("slow/", slow_view)]))],
        [re_path(r"^slow/$", slow_view)],
    ],
    ids=["its own route", "an include's", "a regular expression"],
)
def test_a_marked_view_under_parameters_is_refused(patterns):
    with pytest.raises(ImproperlyConfigured, match="path\\(\\) routes without converters"):
        list(long_request_paths(patterns))


def test_parameters_beside_no_marked_view_are_fine():
    patterns = [path("items/<int:n>/", quick_view), path("slow/", slow_view)]
    assert list(long_request_paths(patterns)) == [("POST", "/slow/")]

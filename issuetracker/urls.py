import sys

from django.contrib import admin
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from tracker.middleware import (
    QueryParameterRefused,
    connection_lost,
    database_unavailable,
    drop_connection,
    wants_page,
)
from tracker.views import accounts, api_docs, errors

# The split view serves Swagger UI's start-up script from /docs?script= rather than inline.
swagger_ui = SpectacularSwaggerSplitView.as_view(url_name="openapi-schema")
redoc = SpectacularRedocView.as_view(url_name="openapi-schema")

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="ui:issue-list", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    path("accounts/logout/", accounts.LogoutView.as_view(), name="logout"),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-schema"),
    path("docs", swagger_ui, name="swagger-ui"),
    path("docs/", swagger_ui),
    path("redoc", redoc, name="redoc"),
    path("redoc/", redoc),
    path("redoc/redoc.standalone.js", api_docs.redoc_bundle, name="redoc-bundle"),
    path("ui/", include("tracker.urls")),
    path("", include("tracker.api.urls")),
]


def handler400(request, exception=None):
    # Reached for requests Django itself refuses, e.g. a body over DATA_UPLOAD_MAX_MEMORY_SIZE.
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(
            {"detail": "Request body too large", "code": "request_too_large"}, status=413
        )
    if wants_page(request):
        return errors.bad_request(request, exception)
    if isinstance(exception, QueryParameterRefused):
        detail = str(exception)
        return JsonResponse(
            {"detail": detail, "code": "invalid_character", "errors": {exception.name: [detail]}},
            status=400,
        )
    return JsonResponse({"detail": "Bad request", "code": "bad_request"}, status=400)


def handler403(request, exception=None):
    if wants_page(request):
        return errors.permission_denied(request, exception)
    return JsonResponse({"detail": "Permission denied", "code": "permission_denied"}, status=403)


def handler404(request, exception=None):
    if wants_page(request):
        return errors.page_not_found(request, exception)
    return JsonResponse({"detail": "Not found", "code": "not_found"}, status=404)


def handler500(request):
    # A connection lost outside a view (e.g. saving the session after it) is not a server
    # fault either; inside a view, tracker.middleware.DatabaseUnavailable answers first.
    if connection_lost(sys.exc_info()[1]):
        drop_connection()
        return database_unavailable(request)
    if wants_page(request):
        return errors.server_error(request)
    return JsonResponse({"detail": "Internal server error", "code": "server_error"}, status=500)

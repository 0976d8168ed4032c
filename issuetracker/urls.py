from django.contrib import admin
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.urls import include, path
from django.views.defaults import bad_request, page_not_found, permission_denied, server_error
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from tracker.views import accounts, api_docs

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


def _is_page(request) -> bool:
    return request.path.startswith(
        ("/ui/", "/admin/", "/accounts/")
    ) or "text/html" in request.headers.get("Accept", "")


def handler400(request, exception=None):
    # Reached for requests Django itself refuses, e.g. a body over DATA_UPLOAD_MAX_MEMORY_SIZE.
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(
            {"detail": "Request body too large", "code": "request_too_large"}, status=413
        )
    if _is_page(request):
        return bad_request(request, exception)
    return JsonResponse({"detail": "Bad request", "code": "bad_request"}, status=400)


def handler403(request, exception=None):
    if _is_page(request):
        return permission_denied(request, exception)
    return JsonResponse({"detail": "Permission denied", "code": "permission_denied"}, status=403)


def handler404(request, exception=None):
    if _is_page(request):
        return page_not_found(request, exception)
    return JsonResponse({"detail": "Not found", "code": "not_found"}, status=404)


def handler500(request):
    if _is_page(request):
        return server_error(request)
    return JsonResponse({"detail": "Internal server error", "code": "server_error"}, status=500)

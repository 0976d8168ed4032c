"""The server-rendered pages, under /ui/."""

from django.urls import path

from .views import people as people_views
from .views import reports as reports_views

app_name = "ui"

urlpatterns: list = [
    path("reports/", reports_views.dashboard, name="reports"),
    path("people/", people_views.people, name="people"),
]

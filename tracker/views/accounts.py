"""Django's login and logout views, with a message confirming each, as every other
action on the pages has."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpResponse


class LoginView(auth_views.LoginView):
    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, f"Logged in as {form.get_user().name}.")
        return response


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        # The session is gone by now; the message travels in the messages cookie.
        messages.info(request, "Logged out.")
        return response

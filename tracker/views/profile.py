"""The signed-in person's own settings (/ui/me/), and the unsubscribe link of the e-mails."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from tracker import services
from tracker.errors import InvalidLink
from tracker.forms import RawTextField, add_service_errors
from tracker.models import User
from tracker.services import notifications


class ProfileForm(forms.Form):
    """Shape only: services.user_update checks the address."""

    email = RawTextField(
        required=False,
        strip=False,
        label="E-mail address",
        help_text="Where notifications are sent. Leave empty to get none.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    email_notifications = forms.BooleanField(
        required=False,
        label="E-mail me about issues assigned to me or created by me",
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def me(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    form = ProfileForm(
        initial={"email": user.email or "", "email_notifications": user.email_notifications}
    )
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                services.user_update(user_id=user.pk, actor=user, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Your e-mail settings are saved.")
                return redirect("ui:me")
    return render(
        request,
        "tracker/me.html",
        {"nav": "me", "form": form},
        status=400 if form.errors else 200,
    )


# Mail clients post here without cookies (RFC 8058 one-click): the signed token is the
# permission, so there is no CSRF token to check.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (link checkers and previews fetch links); POST turns e-mail off."""
    try:
        if request.method == "POST":
            user = notifications.unsubscribe(token=token)
            done = True
        else:
            user = notifications.user_for_unsubscribe(token=token)
            done = False
    except InvalidLink:
        return render(request, "tracker/unsubscribe.html", {"invalid": True}, status=400)
    return render(request, "tracker/unsubscribe.html", {"person": user, "done": done})

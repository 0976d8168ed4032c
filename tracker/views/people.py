"""The people page: everyone with their open and closed issues, and a form to add someone."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from tracker import reports, services
from tracker.forms import RawTextField
from tracker.models import Issue

from .access import can_write, login_redirect


class PersonForm(forms.Form):
    """Shape only: whether the name is acceptable is services.user_create's rule, so the page
    and the API refuse the same names with the same message. `same_name_ok` carries the name
    the person confirmed adding a second time; it counts only for that very name."""

    name = RawTextField(required=False, strip=False, label="Name")
    same_name_ok = RawTextField(required=False, strip=False)

    def confirmed_same_name(self) -> bool:
        data = self.cleaned_data
        return bool(data["same_name_ok"]) and data["same_name_ok"] == data["name"].strip()


def _asks_to_confirm(error: ValidationError) -> bool:
    return any(e.code == "same_name" for e in getattr(error, "error_dict", {}).get("name", []))


def _workload(row: dict, busiest: int) -> list[dict]:
    """Each status's part of the bar drawn beside a person, scaled to the busiest person:
    where it starts and how wide it is, in percent of the bar."""
    parts, done = [], 0
    for status in reports.STATUSES:
        if row[status]:
            parts.append(
                {
                    "status": status,
                    "label": Issue.Status(status).label,
                    "start": round(100 * done / busiest, 1),
                    "percent": round(100 * row[status] / busiest, 1),
                }
            )
            done += row[status]
    return parts


@require_http_methods(["GET", "HEAD", "POST"])
def people(request: HttpRequest) -> HttpResponse:
    form = PersonForm()
    confirm_name = None
    if request.method == "POST":
        if not can_write(request):
            return login_redirect(request, fallback="ui:people")
        form = PersonForm(request.POST)
        if form.is_valid():
            name = form.cleaned_data["name"]
            try:
                person = services.user_create(name=name, allow_same_name=form.confirmed_same_name())
            except ValidationError as exc:
                form.add_error(None, exc)
                if _asks_to_confirm(exc):
                    confirm_name = name.strip()
            else:
                messages.success(request, f"Added {person.name}.")
                return redirect(f"{reverse('ui:people')}#person-{person.pk}")

    rows = reports.people_summary()
    busiest = max((row["total"] for row in rows), default=0)
    for row in rows:
        row["workload"] = _workload(row, busiest)
    context = {
        "nav": "people",
        "form": form,
        "confirm_name": confirm_name,
        "can_write": can_write(request),
        "people": rows,
        "statuses": Issue.Status.choices,
    }
    return render(request, "tracker/people.html", context, status=400 if form.errors else 200)

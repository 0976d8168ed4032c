"""The admin: users (with passwords and staff rights), labels, a read-mostly view of
issues whose edits go through the services, so they bump the version and write events."""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from procrastinate.contrib.django.models import ProcrastinateJob

from . import selectors, services
from .errors import DomainError, error_message
from .forms import add_service_errors
from .models import (
    Comment,
    Issue,
    IssueEvent,
    Job,
    JobFailure,
    Label,
    Notification,
    SavedView,
    User,
    Watch,
    Webhook,
    WebhookDelivery,
)
from .rules import ISSUE_EDITABLE_FIELDS, clean_email
from .services import webhooks

ADMIN = IssueEvent.Source.ADMIN
# The admin form's name of each editable field: the assignee is picked as a user.
ISSUE_FORM_FIELDS = {name.removesuffix("_id"): name for name in ISSUE_EDITABLE_FIELDS}


class OptionalUsernameField(auth_forms.UsernameField):
    """An empty username means "cannot log in"; it is stored as NULL so that many
    such users can exist beside the unique usernames."""

    def to_python(self, value):
        return super().to_python(value) if value else None


class EmailCleaned:
    """The address as services store it (rules.clean_email): trimmed, empty as NULL; the
    unique index's message covers a taken address."""

    cleaned_data: dict[str, Any]

    def clean_email(self) -> str | None:
        return clean_email(self.cleaned_data.get("email"))


class UserCreationForm(EmailCleaned, auth_forms.AdminUserCreationForm):
    class Meta(auth_forms.AdminUserCreationForm.Meta):
        model = User
        fields = ("name", "username", "email")
        field_classes = {"username": OptionalUsernameField}


class UserChangeForm(EmailCleaned, auth_forms.UserChangeForm):
    class Meta(auth_forms.UserChangeForm.Meta):
        model = User
        fields = "__all__"
        field_classes = {"username": OptionalUsernameField}


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ("id", "name", "username", "email", "is_staff", "is_active", "open_issues")
    list_filter = ("is_staff", "is_superuser", "is_active", "email_notifications")
    search_fields = ("name", "username", "email")
    ordering = ("id",)
    fieldsets = (
        (None, {"fields": ("name", "username", "password")}),
        ("Notifications", {"fields": ("email", "email_notifications")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "name",
                    "username",
                    "email",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                open_count=Count(
                    "assigned_issues", filter=~Q(assigned_issues__status=Issue.Status.CLOSED)
                )
            )
        )

    @admin.display(description="Open issues", ordering="open_count")
    def open_issues(self, user):
        return user.open_count

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # The issue form's assignee picker offers the people the pages offer. The user list
        # itself still finds everyone, deactivated or not.
        picker = (request.GET.get(key) for key in ("app_label", "model_name", "field_name"))
        if tuple(picker) == ("tracker", "issue", "assignee"):
            queryset = selectors.users_to_pick(among=queryset)
        return queryset, may_have_duplicates


class LabelForm(forms.ModelForm):
    """A colour is optional: a text field (a colour picker always sends a colour, so a
    label saved without one would turn black and could never lose its colour)."""

    class Meta:
        model = Label
        fields = ("name", "color", "description")
        widgets = {"color": forms.TextInput(attrs={"placeholder": "#d73a4a", "size": 8})}

    def clean(self) -> dict:
        data = super().clean() or {}
        if not self.errors:
            try:
                # Against a copy: the instance itself is filled in after clean().
                services.label_check(
                    label=copy.copy(self.instance),
                    name=data.get("name", ""),
                    color=data.get("color", ""),
                    description=data.get("description", ""),
                )
            except ValidationError as exc:
                add_service_errors(self, exc)
        return data


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    form = LabelForm
    list_display = ("name", "color", "description", "issue_count")
    search_fields = ("name",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(issue_count=Count("issues"))

    @admin.display(description="Issues", ordering="issue_count")
    def issue_count(self, label):
        return label.issue_count

    def save_model(self, request, obj, form, change):
        services.label_save(
            label=obj,
            name=form.cleaned_data["name"],
            color=form.cleaned_data["color"],
            description=form.cleaned_data["description"],
        )

    def delete_model(self, request, obj):
        services.label_delete(label_id=obj.pk, actor=request.user, source=ADMIN)

    def delete_queryset(self, request, queryset):
        for label_id in queryset.values_list("pk", flat=True):
            services.label_delete(label_id=label_id, actor=request.user, source=ADMIN)


class IssueAdminForm(forms.ModelForm):
    # The version the editor loaded; `version` itself is shown read-only.
    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    class Meta:
        model = Issue
        fields = tuple(ISSUE_FORM_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Editing needs the version the form was loaded with: without it a save could
            # overwrite someone else's change unseen.
            self.fields["loaded_version"].required = True
            self.fields["loaded_version"].initial = self.instance.version


class CommentInline(admin.TabularInline):
    model = Comment
    fields = ("created_at", "author", "body")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")

    def has_add_permission(self, request, obj=None):
        return False


class EventInline(admin.TabularInline):
    model = IssueEvent
    fields = ("created_at", "event", "version", "actor", "source", "details")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "Timeline"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Issue)
class IssueAdmin(admin.ModelAdmin):
    form = IssueAdminForm
    list_display = (
        *("id", "title", "status", "priority", "due_date", "assignee", "version"),
        *("created_at", "resolved_at"),
    )
    list_filter = ("status", "priority")
    search_fields = ("title",)
    list_select_related = ("assignee",)
    autocomplete_fields = ("assignee",)
    readonly_fields = ("version", "created_at", "updated_at", "resolved_at", "label_names")
    inlines = [CommentInline, EventInline]
    actions = ["close_issues", "reopen_issues"]
    show_full_result_count = False

    @admin.display(description="Labels")
    def label_names(self, issue):
        return ", ".join(label.name for label in issue.labels.all()) or "—"

    def has_delete_permission(self, request, obj=None):
        # An issue's history is part of the record; close issues instead of deleting them.
        return False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (DomainError, ValidationError) as exc:
            self.message_user(request, f"Nothing was saved: {error_message(exc)}.", messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        assignee = data.get("assignee")
        if not change:
            created = services.issue_create(
                title=data["title"],
                description=data.get("description", ""),
                status=data["status"],
                assignee_id=assignee.pk if assignee else None,
                priority=data.get("priority") or Issue.Priority.NONE,
                due_date=data.get("due_date"),
                actor=request.user,
                source=ADMIN,
            )
            obj.pk = created.pk
            return
        changes = {
            ISSUE_FORM_FIELDS[name]: data[name]
            for name in form.changed_data
            if name in ISSUE_FORM_FIELDS
        }
        if "assignee_id" in changes:
            changes["assignee_id"] = assignee.pk if assignee else None
        services.issue_update(
            issue_id=obj.pk,
            version=data["loaded_version"],
            actor=request.user,
            source=ADMIN,
            **changes,
        )

    def _bulk(self, request, queryset, status: str) -> None:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        try:
            services.issues_bulk_set_status(
                issue_ids=ids, status=status, actor=request.user, source=ADMIN
            )
        except (DomainError, ValidationError) as exc:
            self.message_user(request, f"Nothing changed: {error_message(exc)}.", messages.ERROR)
            return
        self.message_user(request, f"{len(ids)} issue(s) set to {status}.", messages.SUCCESS)

    @admin.action(description="Close selected issues")
    def close_issues(self, request, queryset):
        self._bulk(request, queryset, Issue.Status.CLOSED)

    @admin.action(description="Reopen selected issues")
    def reopen_issues(self, request, queryset):
        self._bulk(request, queryset, Issue.Status.OPEN)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the workers: shown, never edited here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "status",
        "attempts",
        "progress_done",
        "progress_total",
        "created_by",
        "created_at",
        "finished_at",
        "short_error",
    )
    list_filter = ("kind", "status")
    readonly_fields = [field.name for field in Job._meta.fields]

    @admin.display(description="error")
    def short_error(self, job: Job) -> str:
        return job.error[:120]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("id", "recipient", "issue", "event", "reason", "created_at", "emailed_at")
    list_filter = ("event", "reason")
    list_select_related = ("recipient", "issue")
    search_fields = ("recipient__name", "recipient__email")
    raw_id_fields = ("recipient", "issue", "actor")


class DeleteOnlyAdmin(ReadOnlyAdmin):
    """Rows their owners make in the app: shown, and removable (a watcher who should hear
    no more, a view nobody needs), never written here."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return admin.ModelAdmin.has_delete_permission(self, request, obj)  # Django's own rule


@admin.register(Watch)
class WatchAdmin(DeleteOnlyAdmin):
    list_display = ("issue", "user", "created_at")
    list_select_related = ("issue", "user")
    search_fields = ("user__name", "user__username", "issue__title")
    raw_id_fields = ("issue", "user")
    show_full_result_count = False


@admin.register(SavedView)
class SavedViewAdmin(DeleteOnlyAdmin):
    list_display = ("name", "owner", "query", "created_at")
    list_select_related = ("owner",)
    search_fields = ("name", "owner__name", "owner__username")
    raw_id_fields = ("owner",)


@admin.register(JobFailure)
class JobFailureAdmin(ReadOnlyAdmin):
    """Every attempt of a queued job that raised (the queue's own job list is beside it)."""

    list_display = ("queue_job_id", "task_name", "attempt", "at", "short_error")
    list_filter = ("task_name",)
    search_fields = ("=queue_job_id",)
    readonly_fields = [field.name for field in JobFailure._meta.fields]

    @admin.display(description="error")
    def short_error(self, failure: JobFailure) -> str:
        return failure.error.splitlines()[-1][:160] if failure.error else ""


_QueueJobAdmin: Any = type(admin.site.get_model_admin(ProcrastinateJob))
admin.site.unregister(ProcrastinateJob)


@admin.register(ProcrastinateJob)
class QueueJobAdmin(_QueueJobAdmin):
    """The queue's jobs (state, attempts) with the error of their last failed attempt."""

    list_display = [*_QueueJobAdmin.list_display, "attempts", "last_error"]
    fields = [*_QueueJobAdmin.fields, "last_error"]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "pk", "last_error"]

    @admin.display(description="last error")
    def last_error(self, job) -> str:
        failure = JobFailure.objects.filter(queue_job_id=job.pk).first()
        return failure.error.splitlines()[-1][:300] if failure else ""


class WebhookForm(forms.ModelForm):
    """The secret is write-only: a blank field keeps the current one (required when adding).
    The URL and events are checked by the service, as the API's are."""

    url = forms.CharField(max_length=2000, help_text="An http or https URL.")

    secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Signs each delivery. Leave blank to keep the current secret.",
    )
    events = forms.MultipleChoiceField(
        choices=IssueEvent.Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )

    class Meta:
        model = Webhook
        fields = ("url", "secret", "events", "active")

    def clean(self) -> dict:
        data = super().clean() or {}
        if self.errors:
            return data
        checks = [
            ("url", lambda: webhooks.url_check(data.get("url", ""))),
            ("events", lambda: webhooks.events_check(data.get("events") or [])),
        ]
        if data.get("secret") or not self.instance.pk:
            checks.append(("secret", lambda: webhooks.secret_check(data.get("secret", ""))))
        for _field, check in checks:
            try:
                check()
            except ValidationError as exc:
                add_service_errors(self, exc)
        return data


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = (
        "delivery_id",
        "event",
        "issue_id",
        "version",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
        "delivered_at",
    )
    readonly_fields = fields
    ordering = ("-id",)
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        # The latest 20: the full list is under Webhook deliveries.
        ids = list(super().get_queryset(request).order_by("-id").values_list("id", flat=True)[:20])
        return super().get_queryset(request).filter(id__in=ids)


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ("id", "url", "active", "event_list", "created_at", "updated_at")
    list_filter = ("active",)
    inlines = [DeliveryInline]

    @admin.display(description="events")
    def event_list(self, webhook: Webhook) -> str:
        return ", ".join(webhook.events) or "all"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            changes = {"url": data["url"], "events": data["events"], "active": data["active"]}
            if data.get("secret"):
                changes["secret"] = data["secret"]
            saved = webhooks.webhook_update(webhook_id=obj.pk, **changes)
        else:
            saved = webhooks.webhook_create(
                url=data["url"], secret=data["secret"], events=data["events"], active=data["active"]
            )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        webhooks.webhook_delete(webhook_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for webhook_id in queryset.values_list("pk", flat=True):
            webhooks.webhook_delete(webhook_id=webhook_id)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Every delivery with its attempts; "Redeliver" sends the selected ones again."""

    list_display = (
        "id",
        "webhook",
        "event",
        "issue_id",
        "version",
        "status",
        "attempts",
        "last_status_code",
        "duration_ms",
        "created_at",
        "delivered_at",
    )
    list_filter = ("status", "event", "webhook")
    search_fields = ("=delivery_id", "=issue_id")
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
    actions = ["redeliver"]

    @admin.action(description="Redeliver the selected deliveries")
    def redeliver(self, request, queryset):
        count = 0
        for webhook_id, delivery_id in queryset.order_by("id").values_list(
            "webhook_id", "delivery_id"
        ):
            webhooks.delivery_redeliver(webhook_id=webhook_id, delivery_id=delivery_id)
            count += 1
        self.message_user(request, f"{count} deliveries queued again.", messages.SUCCESS)

"""The schema. Rules that need other rows or the actor live in services/;
what the database can guarantee on its own is declared here in Meta.constraints."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Length, Lower, Now, Trim
from django.db.models.lookups import GreaterThan
from django.utils import timezone

USER_NAME_MAX = 100
ISSUE_TITLE_MAX = 255
LABEL_NAME_MAX = 50
# Casefolding turns one character into at most three (`ΐ`, `ﬃ`).
LABEL_KEY_MAX = 3 * LABEL_NAME_MAX
LABEL_DESCRIPTION_MAX = 255


def _not_blank(field: str) -> GreaterThan:
    return GreaterThan(Length(Trim(field)), 0)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        name: str,
        **extra: Any,
    ) -> User:
        user = self.model(username=username or None, name=name.strip(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(
        self, username: str, password: str | None = None, *, name: str = "", **extra: Any
    ) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(username, password, name=name or username, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person: assignee, comment author and, once given a username and password, a login.

    Users made through the API carry only a name and cannot log in until an admin
    gives them a username and a password.
    """

    name = models.CharField(max_length=USER_NAME_MAX)
    username = models.CharField(
        max_length=150,
        unique=True,
        null=True,
        blank=True,
        help_text="Needed only to log in. Leave empty for people who only get assigned issues.",
    )
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now, db_default=Now())
    # Optional: people without an address are assigned and mentioned, never e-mailed.
    email = models.EmailField(
        "e-mail address",
        null=True,
        blank=True,
        help_text="Where notifications are sent. Optional; no two people share one.",
    )
    email_notifications = models.BooleanField(
        "e-mail notifications",
        default=True,
        db_default=True,
        help_text="Send e-mail about the issues this person is assigned or created.",
    )

    objects = UserManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        db_table = "users"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=_not_blank("name"), name="users_name_not_blank"),
            # `Ann@Example.com` and `ann@example.com` are one mailbox for every mail server
            # people use; empty is stored as NULL, so any number of people have none.
            models.UniqueConstraint(
                Lower("email"),
                name="users_email_unique",
                violation_error_code="email_taken",
                violation_error_message="Someone else already uses this e-mail address.",
            ),
            models.CheckConstraint(condition=~Q(email=""), name="users_email_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.name


class Label(models.Model):
    name = models.CharField(max_length=LABEL_NAME_MAX)
    key = models.CharField(
        max_length=LABEL_KEY_MAX,
        editable=False,
        help_text="rules.name_key(name): how label names compare, in Python and here alike.",
    )
    color = models.CharField(
        max_length=7, blank=True, default="", help_text="A hex colour such as #d73a4a."
    )
    description = models.CharField(max_length=LABEL_DESCRIPTION_MAX, blank=True, default="")

    class Meta:
        db_table = "labels"
        ordering = ["name"]
        constraints = [
            # `Bug` and `bug`, `Straße` and `STRASSE` are one label.
            models.UniqueConstraint(
                fields=["key"],
                name="labels_key_unique",
                violation_error_message="A label with this name already exists.",
            ),
            models.CheckConstraint(condition=_not_blank("name"), name="labels_name_not_blank"),
            models.CheckConstraint(
                condition=Q(color="") | Q(color__regex=r"^#[0-9a-fA-F]{6}$"),
                name="labels_color_hex",
            ),
        ]

    def __str__(self) -> str:
        return self.name


# How urgent a priority is, as a number that sorts (0 for none up to 4 for urgent), and an
# issue's due date as a sort key that puts issues without one last, whichever the direction.
PRIORITY_RANKS = {"none": 0, "low": 1, "medium": 2, "high": 3, "urgent": 4}
PRIORITY_RANK = models.Case(
    *(
        models.When(priority=name, then=models.Value(rank))
        for name, rank in PRIORITY_RANKS.items()
        if rank
    ),
    default=models.Value(0),
)
DUE_DATE_LAST = Coalesce(F("due_date"), models.Value(date.max))
DUE_DATE_FIRST = Coalesce(F("due_date"), models.Value(date.min))


class Issue(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        CLOSED = "closed", "Closed"

    class Priority(models.TextChoices):
        NONE = "none", "None"
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    title = models.CharField(max_length=ISSUE_TITLE_MAX)
    description = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.OPEN, db_default=Status.OPEN
    )
    # db_index=False where a composite index in Meta starts with the column already: a
    # second index would only slow every write (the CSV import most of all).
    assignee = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_issues",
        db_index=False,
    )
    # A constant default and a nullable column: PostgreSQL adds both without rewriting the
    # table (migration 0008), so a million issues are not locked while it runs.
    priority = models.CharField(
        max_length=8,
        choices=Priority.choices,
        default=Priority.NONE,
        db_default=Priority.NONE,
    )
    due_date = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1, db_default=1)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    updated_at = models.DateTimeField(default=timezone.now, db_default=Now())
    resolved_at = models.DateTimeField(null=True, blank=True)
    labels = models.ManyToManyField(Label, through="IssueLabel", related_name="issues", blank=True)
    # Not a column: set by the queries and services that read the label names with the issue.
    label_names: list[str]

    class Meta:
        db_table = "issues"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=_not_blank("title"), name="issues_title_not_blank"),
            models.CheckConstraint(condition=Q(version__gte=1), name="issues_version_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["open", "in_progress", "closed"]),
                name="issues_status_valid",
            ),
            # resolved_at is set exactly when the issue is closed.
            models.CheckConstraint(
                condition=(Q(status="closed") & Q(resolved_at__isnull=False))
                | (~Q(status="closed") & Q(resolved_at__isnull=True)),
                name="issues_resolved_at_iff_closed",
            ),
            # Added NOT VALID, then validated without blocking writes (migration 0008).
            models.CheckConstraint(
                condition=Q(priority__in=["none", "low", "medium", "high", "urgent"]),
                name="issues_priority_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "id"], name="issues_status_id_idx"),
            models.Index(fields=["assignee", "status", "id"], name="issues_assignee_status_idx"),
            models.Index(fields=["created_at", "id"], name="issues_created_at_id_idx"),
            models.Index(fields=["updated_at", "id"], name="issues_updated_at_id_idx"),
            models.Index(fields=["title", "id"], name="issues_title_id_idx"),
            models.Index(
                fields=["resolved_at"],
                name="issues_resolved_at_idx",
                condition=Q(resolved_at__isnull=False),
            ),
            # The keyset sorts by urgency and by due date (tracker.filters.sort_key): the
            # expressions are exactly those the list sorts by, so PostgreSQL reads a page of
            # them from these indexes.
            models.Index(PRIORITY_RANK, F("id"), name="issues_priority_rank_idx"),
            models.Index(DUE_DATE_LAST, F("id"), name="issues_due_date_last_idx"),
            models.Index(DUE_DATE_FIRST, F("id"), name="issues_due_date_first_idx"),
        ]
        # Two columns live in the database only (migration 0006_search), out of the ORM's
        # way so that no query reads them by accident: `search`, the issue's full-text
        # document (a stored generated tsvector of the title, the description and
        # `comments_search`, with a GIN index), and `comments_search`, the comments' part,
        # kept by a trigger on `comments`. Both follow every write in its own transaction,
        # COPY included. `q` reads them through tracker.search.

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"


class IssueLabel(models.Model):
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, db_index=False)
    label = models.ForeignKey(Label, on_delete=models.CASCADE, db_index=False)

    class Meta:
        db_table = "issue_labels"
        constraints = [
            models.UniqueConstraint(fields=["issue", "label"], name="issue_labels_unique"),
        ]
        indexes = [models.Index(fields=["label", "issue"], name="issue_labels_label_idx")]

    def __str__(self) -> str:
        return f"{self.label_id} on issue {self.issue_id}"


class Comment(models.Model):
    body = models.TextField()
    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, related_name="comments", db_index=False
    )
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="comments")
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        db_table = "comments"
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=_not_blank("body"), name="comments_body_not_blank"),
        ]
        indexes = [models.Index(fields=["issue", "created_at"], name="comments_issue_idx")]

    def __str__(self) -> str:
        return f"Comment {self.pk} on issue {self.issue_id}"


class IssueEvent(models.Model):
    """One line of an issue's timeline. Append-only, written by services in the same
    transaction as the change it describes."""

    class Kind(models.TextChoices):
        ISSUE_CREATED = "issue_created"
        TITLE_CHANGED = "title_changed"
        DESCRIPTION_CHANGED = "description_changed"
        STATUS_CHANGED = "status_changed"
        ISSUE_CLOSED = "issue_closed"
        ISSUE_REOPENED = "issue_reopened"
        ASSIGNEE_CHANGED = "assignee_changed"
        LABELS_CHANGED = "labels_changed"
        PRIORITY_CHANGED = "priority_changed"
        DUE_DATE_CHANGED = "due_date_changed"
        COMMENT_ADDED = "comment_added"

    class Source(models.TextChoices):
        API = "api"
        WEB = "web"
        ADMIN = "admin"
        IMPORT = "import"
        BULK = "bulk"

    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    event = models.CharField(max_length=32, choices=Kind.choices)
    version = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The issue's version after this change; empty for comments, "
        "which do not change it.",
    )
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    details = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)

    class Meta:
        db_table = "issue_events"
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["issue", "created_at", "id"], name="issue_events_issue_idx"),
            # Who created an issue (its creator is told of its changes): one entry per issue,
            # however long its timeline.
            models.Index(
                fields=["issue"],
                include=["actor"],
                condition=models.Q(event="issue_created"),
                name="issue_events_created_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} on issue {self.issue_id}"


class Job(models.Model):
    """Background work that a person started and follows (an import): its state, progress
    and result, as `GET /jobs/{id}` shows them. The queue's own job (procrastinate's) runs it;
    this row is what people see, written by `services.jobs`."""

    class Kind(models.TextChoices):
        IMPORT = "import"
        CHECK = "check"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(
        default=0, help_text="How many times a worker started it."
    )
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    queue_job_id = models.BigIntegerField(
        null=True, blank=True, help_text="The queue's job that runs this one."
    )

    class Meta:
        db_table = "jobs"
        verbose_name = "background job"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress_done__gte=0), name="jobs_progress_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} ({self.status})"


class JobFailure(models.Model):
    """An attempt of a queued job that raised: what the admin shows as the job's error."""

    queue_job_id = models.BigIntegerField(db_index=True)
    task_name = models.CharField(max_length=128)
    attempt = models.PositiveIntegerField()
    error = models.TextField()
    at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        db_table = "job_failures"
        verbose_name = "job failure"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"job {self.queue_job_id} attempt {self.attempt}"


class Webhook(models.Model):
    """An address that receives every change of the issues (or the events named in
    `events`) as a signed POST, sent by a worker (services/webhooks.py)."""

    url = models.URLField(max_length=2000)
    secret = models.CharField(
        max_length=255, help_text="Signs each delivery (X-Tracker-Signature-256); never shown."
    )
    events = ArrayField(
        models.CharField(max_length=32, choices=IssueEvent.Kind.choices),
        default=list,
        blank=True,
        help_text="The events sent; empty for all of them.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    updated_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        db_table = "webhooks"
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one webhook. `body` is the exact JSON sent, built
    in the transaction of the change; `log` holds every attempt."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.UUIDField(unique=True)
    event = models.CharField(max_length=32, choices=IssueEvent.Kind.choices)
    issue_id = models.BigIntegerField()
    version = models.PositiveIntegerField(null=True, blank=True)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    response_snippet = models.TextField(blank=True, default="")
    log = models.JSONField(
        default=list, blank=True, help_text="Every attempt: when, status code, duration, error."
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "webhook_deliveries"
        verbose_name_plural = "webhook deliveries"
        ordering = ["-id"]
        indexes = [models.Index(fields=["webhook", "-id"], name="webhook_deliveries_hook_idx")]

    def __str__(self) -> str:
        return f"{self.event} on issue {self.issue_id} to webhook {self.webhook_id}"


class Notification(models.Model):
    """One event of an issue, for one person who should hear of it: what the e-mails are
    made of (`emailed_at`) and what an in-app inbox lists (`read_at`).

    Written by the notifications outbox in the statement that writes the event, so it is a
    snapshot of the event (kind, details, actor, time) rather than a link to its row.
    """

    class Reason(models.TextChoices):
        ASSIGNEE = "assignee", "You are assigned"
        UNASSIGNED = "unassigned", "You were assigned"
        CREATOR = "creator", "You created the issue"
        WATCHER = "watcher", "You watch the issue"
        MENTION = "mention", "You were mentioned"

    recipient = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="+", db_index=False)
    event = models.CharField(max_length=32, choices=IssueEvent.Kind.choices)
    version = models.PositiveIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=16, choices=Reason.choices)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    emailed_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "notifications"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "created_at", "id"], name="notifications_inbox_idx"),
            # What the e-mail job reads: a person's notifications not yet e-mailed.
            models.Index(
                fields=["recipient", "id"],
                name="notifications_unsent_idx",
                condition=Q(emailed_at__isnull=True),
            ),
            models.Index(fields=["issue"], name="notifications_issue_idx"),
            # The unread count every page shows a signed-in person.
            models.Index(
                fields=["recipient"],
                name="notifications_unread_idx",
                condition=Q(read_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} on issue {self.issue_id} for user {self.recipient_id}"


class JobFileChunk(models.Model):
    """A piece (at most FILE_CHUNK_BYTES) of a file that belongs to a job, kept in the
    database so that whichever worker runs the job can read it: an import's upload while it
    waits and runs (removed when the job ends), and its report of failed rows afterwards
    (removed with the job)."""

    class Kind(models.TextChoices):
        UPLOAD = "upload"
        FAILED_ROWS = "failed_rows"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    seq = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        db_table = "job_file_chunks"
        constraints = [
            models.UniqueConstraint(fields=["job", "kind", "seq"], name="job_file_chunks_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} chunk {self.seq} of job {self.job_id}"


class Watch(models.Model):
    """A person who hears of every change of an issue. Creating, commenting on, being
    assigned to or being mentioned in an issue makes one (services/watchers.py), written in
    the statement that writes the change's events."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+", db_index=False)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        db_table = "watches"
        verbose_name_plural = "watches"
        ordering = ["issue", "user"]
        constraints = [
            models.UniqueConstraint(fields=["issue", "user"], name="watches_issue_user_unique"),
        ]
        indexes = [models.Index(fields=["user", "issue"], name="watches_user_idx")]

    def __str__(self) -> str:
        return f"user {self.user_id} watches issue {self.issue_id}"


SAVED_VIEW_NAME_MAX = 100
SAVED_VIEW_QUERY_MAX = 2000


class SavedView(models.Model):
    """A person's named issue list: the list page's query string (filters, sort, search).
    Anyone with its link sees it (/ui/views/<id>/ redirects to the list with that query)."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=SAVED_VIEW_NAME_MAX)
    query = models.CharField(max_length=SAVED_VIEW_QUERY_MAX, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        db_table = "saved_views"
        ordering = ["owner", "name"]
        constraints = [
            models.UniqueConstraint(
                "owner",
                Lower("name"),
                name="saved_views_owner_name_unique",
                violation_error_code="view_name_taken",
                violation_error_message="You already have a view with this name.",
            ),
            models.CheckConstraint(condition=_not_blank("name"), name="saved_views_name_not_blank"),
        ]

    def __str__(self) -> str:
        return self.name

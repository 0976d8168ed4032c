"""Every write of the tracker. The API, the pages, the admin, the CSV import and the
management commands all come through here, so a rule lives in exactly one place.

Each public function runs in one transaction and records the timeline events of the change
it makes in that same transaction.
"""

from .comments import comment_add
from .events import created_details, status_event
from .issues import (
    BULK_STATUS_MAX_IDS,
    issue_create,
    issue_labels_replace,
    issue_update,
    issues_bulk_set_status,
)
from .labels import label_delete, label_save, labels_get_or_create
from .rules import (
    MAX_ID,
    clean_label_color,
    clean_label_names,
    clean_status,
    clean_text,
    clean_title,
    clean_user_name,
    invalid,
    invalid_assignee,
    is_id,
    parse_id,
    resolved_at_for,
)
from .users import user_create

__all__ = [
    "BULK_STATUS_MAX_IDS",
    "MAX_ID",
    "clean_label_color",
    "clean_label_names",
    "clean_status",
    "clean_text",
    "clean_title",
    "clean_user_name",
    "comment_add",
    "created_details",
    "invalid",
    "invalid_assignee",
    "is_id",
    "issue_create",
    "issue_labels_replace",
    "issue_update",
    "issues_bulk_set_status",
    "label_delete",
    "label_save",
    "labels_get_or_create",
    "parse_id",
    "resolved_at_for",
    "status_event",
    "user_create",
]

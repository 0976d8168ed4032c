"""Every write of the tracker. The API, the pages, the admin, the CSV import and the
management commands all come through here, so a rule lives in exactly one place.

Each public function runs in one transaction and records the timeline events of the change
it makes in that same transaction, through events.record (the one door out).
"""

from .comments import comment_add, comment_add_setting_status
from .imports import issues_import
from .issues import (
    BULK_STATUS_MAX_IDS,
    issue_create,
    issue_labels_replace,
    issue_update,
    issues_bulk_set_status,
)
from .labels import label_check, label_delete, label_save, labels_get_or_create
from .users import user_create, user_update

__all__ = [
    "BULK_STATUS_MAX_IDS",
    "comment_add",
    "comment_add_setting_status",
    "issue_create",
    "issue_labels_replace",
    "issue_update",
    "issues_bulk_set_status",
    "issues_import",
    "label_check",
    "label_delete",
    "label_save",
    "labels_get_or_create",
    "user_create",
    "user_update",
]

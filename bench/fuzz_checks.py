"""Schemathesis hooks for `make fuzz` (bench/fuzz.py loads them).

A schema-valid request can still break a rule that JSON Schema cannot state: an id that
names no row, a cursor the server did not sign, `since` after `until`, a file that is not
CSV. Schemathesis's positive_data_acceptance is told to let 400 through
(bench/schemathesis.toml), and this check takes its place for 400s: a schema-valid request
may be refused only with the error code of such a rule. Any other 400 (a blank title, a
malformed field, an unknown key) means the schema allows what the API refuses.
"""

from __future__ import annotations

import schemathesis
from schemathesis import GenerationMode

RULES_THE_SCHEMA_CANNOT_STATE = {
    # Rows that must exist, or be in a given state.
    "invalid_assignee",
    "email_taken",
    "invalid_author",
    "issues_not_found",
    "already_closed",
    # With TRACKER_REQUIRE_AUTH on, people comment as themselves.
    "not_yourself",
    # Cursors are signed by the server and good only for the list and order they came from.
    "invalid_cursor",
    # Relations between parameters: since before until, at most MAX_PERIODS periods.
    "invalid_range",
    "relevance_needs_q",
    "too_many_periods",
    # POST /notifications/read needs `ids` or `all`; `assignee_id=me` needs a login.
    "ids_or_all",
    "login_required",
    # An e-mail address as the rules read it (more than JSON Schema's "format": "email").
    "invalid_email",
    # The uploaded file's content.
    "not_csv",
    "not_utf8",
    "empty_file",
    "missing_title_column",
}


@schemathesis.check
def refused_only_by_rules(ctx, response, case):
    """A 400 for schema-valid data carries the code of a rule the schema cannot state."""
    meta = case.meta
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return None
    if response.status_code != 400:
        return None
    try:
        code = response.json().get("code")
    except ValueError:
        code = None
    if code not in RULES_THE_SCHEMA_CANNOT_STATE:
        raise AssertionError(
            f"Schema-valid request refused with 400 `{code}`: the schema allows what the "
            f"API refuses ({response.text[:300]})"
        )
    return None

"""Full-text search: what `q` means on the API and the pages.

The document and the query function live in PostgreSQL (migration 0006_search): the issue's
`search` column covers its title, description and comments, and `tracker_search_query(q)`
reads websearch syntax (`"a phrase"`, `-word`, `or`) with English stemming, the last word
also matching as a prefix. This module writes the SQL that uses them: the match, the
relevance, and the highlighted snippets of a page of results.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField, FloatField
from django.db.models.expressions import RawSQL
from django.utils.safestring import SafeString, mark_safe

from tracker.pagination import Computed

# What marks a match in ts_headline's output: characters no text holds (rules.py refuses
# control characters), so the text around them can be escaped before <mark> goes in.
_START, _STOP = "\x02", "\x03"
_HEADLINE_OPTIONS = f"StartSel={_START}, StopSel={_STOP}, MaxWords=24, MinWords=10"
RELEVANCE_SQL = 'ts_rank_cd("issues"."search", tracker_search_query(%s))'


def matches(q: str) -> RawSQL:
    """The issues whose title, description or comments match `q`."""
    return RawSQL(
        '"issues"."search" @@ tracker_search_query(%s)', (q,), output_field=BooleanField()
    )


def relevance_order(q: str) -> Computed:
    """`ordering=relevance`: how well an issue matches `q` (cover density: matches close
    together, and in the title, count more), best first."""
    return Computed("relevance", RELEVANCE_SQL, (q,), FloatField(), "real")


@dataclass(frozen=True)
class Snippet:
    """Where a result matched: its title with the matches marked, and a fragment of the
    description or of a comment (`where`) with them marked, as safe HTML."""

    title: SafeString
    text: SafeString
    where: str  # "description", "comment" or "" (the title alone matched)


def snippets(issue_ids: Iterable[int], q: str) -> dict[int, Snippet]:
    """The snippets of a page of results (one query, whatever the page size)."""
    ids = list(issue_ids)
    if not ids or not q.strip():
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH query AS (SELECT tracker_search_query(%(q)s) AS tsq)
            SELECT i.id,
                   ts_headline('english', i.title, query.tsq, %(title_options)s),
                   CASE WHEN to_tsvector('english', i.description) @@ query.tsq
                        THEN ts_headline('english', i.description, query.tsq, %(options)s) END,
                   CASE WHEN NOT to_tsvector('english', i.description) @@ query.tsq
                         AND NOT to_tsvector('english', i.title) @@ query.tsq
                        THEN (SELECT ts_headline('english', c.body, query.tsq, %(options)s)
                                FROM comments c
                               WHERE c.issue_id = i.id
                                 AND to_tsvector('english', c.body) @@ query.tsq
                               ORDER BY c.id LIMIT 1) END
              FROM issues i, query
             WHERE i.id = ANY(%(ids)s)
            """,
            {
                "q": q,
                "ids": ids,
                "options": _HEADLINE_OPTIONS,
                "title_options": f"HighlightAll=true, StartSel={_START}, StopSel={_STOP}",
            },
        )
        rows = cursor.fetchall()
    found = {}
    for issue_id, title, description, comment in rows:
        text, where = (description, "description") if description else (comment, "comment")
        if not text:
            text, where = "", ""
        found[issue_id] = Snippet(_marked(title), _marked(text), where)
    return found


def _marked(text: str) -> SafeString:
    escaped = html.escape(text, quote=False)
    return mark_safe(escaped.replace(_START, "<mark>").replace(_STOP, "</mark>"))

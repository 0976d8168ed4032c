"""A comment's words are appended to its issue's search document in one UPDATE.

The trigger read the document, then wrote it with the comment's words added: two comments on
one issue committing at once both read the same document, and the second write lost the
first one's words (a comment then could not be found by them). One UPDATE that appends
re-reads the row it waited for, so each comment adds to what the other wrote. The cap is
checked on the sum of the two parts' sizes, an upper bound of their union's.
"""

from django.db import migrations

def _function(declare: str, insert: str) -> str:
    """The trigger function with `insert` for new comments; edits and deletions rebuild the
    document as before."""
    return rf"""
CREATE OR REPLACE FUNCTION tracker_comments_search() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  {declare}
BEGIN
  IF TG_OP = 'INSERT' THEN
{insert}
    RETURN NULL;
  END IF;
  UPDATE issues SET comments_search = tracker_comments_search_of(OLD.issue_id)
   WHERE id = OLD.issue_id;
  IF TG_OP = 'UPDATE' AND NEW.issue_id <> OLD.issue_id THEN
    UPDATE issues SET comments_search = tracker_comments_search_of(NEW.issue_id)
     WHERE id = NEW.issue_id;
  END IF;
  RETURN NULL;
EXCEPTION WHEN program_limit_exceeded THEN
  RETURN NULL;
END
$$;
"""


APPEND = _function(
    "piece tsvector;",
    """    piece := setweight(to_tsvector('english'::regconfig, NEW.body), 'C');
    UPDATE issues SET comments_search = comments_search || piece
     WHERE id = NEW.issue_id
       AND pg_column_size(comments_search) + pg_column_size(piece) <= 524288;""",
)

# Migration 0006's: read, then write.
READ_THEN_WRITE = _function(
    "grown tsvector;",
    """    SELECT comments_search || setweight(to_tsvector('english'::regconfig, NEW.body), 'C')
      INTO grown FROM issues WHERE id = NEW.issue_id;
    IF pg_column_size(grown) <= 524288 THEN
      UPDATE issues SET comments_search = grown WHERE id = NEW.issue_id;
    END IF;""",
)


class Migration(migrations.Migration):
    dependencies = [("tracker", "0013_comments_indexed_at_commit")]

    operations = [migrations.RunSQL(APPEND, READ_THEN_WRITE)]

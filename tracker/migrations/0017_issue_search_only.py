"""`q` reads `issue_search` now: the comments' trigger writes only there, and the issues
table's own document columns (0006) go, with their GIN index. Dropping a column does not
rewrite the table."""

import importlib

from django.db import migrations

COMMENTS_ONLY = r"""
CREATE OR REPLACE FUNCTION tracker_comments_search() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  piece tsvector;
BEGIN
  IF TG_OP = 'INSERT' THEN
    piece := setweight(to_tsvector('english'::regconfig, NEW.body), 'C');
    UPDATE issue_search SET comments = comments || piece
     WHERE issue_id = NEW.issue_id
       AND pg_column_size(comments) + pg_column_size(piece) <= 524288;
    RETURN NULL;
  END IF;
  UPDATE issue_search SET comments = tracker_comments_search_of(OLD.issue_id)
   WHERE issue_id = OLD.issue_id;
  IF TG_OP = 'UPDATE' AND NEW.issue_id <> OLD.issue_id THEN
    UPDATE issue_search SET comments = tracker_comments_search_of(NEW.issue_id)
     WHERE issue_id = NEW.issue_id;
  END IF;
  RETURN NULL;
EXCEPTION WHEN program_limit_exceeded THEN
  RETURN NULL;
END
$$;

ALTER TABLE issues DROP COLUMN search;
ALTER TABLE issues DROP COLUMN comments_search;
"""

# The old columns back, filled from issue_search, and 0015's trigger writing both.
RESTORE = r"""
ALTER TABLE issues ADD COLUMN comments_search tsvector NOT NULL DEFAULT '';
UPDATE issues SET comments_search = s.comments FROM issue_search s WHERE s.issue_id = issues.id;
ALTER TABLE issues ADD COLUMN search tsvector GENERATED ALWAYS AS (
  setweight(to_tsvector('english'::regconfig, title), 'A')
  || setweight(to_tsvector('english'::regconfig, description), 'B')
  || comments_search
) STORED;
CREATE INDEX issues_search_idx ON issues USING gin (search);
ALTER TABLE issues ALTER COLUMN search SET STATISTICS 1000;
"""
COMMENTS_BOTH = importlib.import_module("tracker.migrations.0015_issue_search").COMMENTS_BOTH


class Migration(migrations.Migration):
    dependencies = [("tracker", "0016_issue_search_filled")]

    operations = [migrations.RunSQL(COMMENTS_ONLY, RESTORE + COMMENTS_BOTH)]

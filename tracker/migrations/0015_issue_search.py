"""The search document moves out of `issues` into a table of its own, `issue_search`.

Every comment appended its words to its issue's document, and the document was a column of
the issue's row: each comment rewrote that row with all eleven of the issues table's
indexes, and comments on one issue queued for it at commit. `issue_search` holds one row per
issue with two indexes (its key and the document's GIN):

- `fields`: the title (weight A) and the description (B), kept by triggers on `issues`
  (an insert or COPY, a change of either, a delete, a TRUNCATE);
- `comments`: the comments' part (C), kept by the trigger on `comments` as before (appended
  at commit, rebuilt on an edit or a deletion);
- `document`: `fields || comments`, generated, what `q` matches.

This migration, in one short transaction, makes the table and the triggers that keep it
from now on; the comments' trigger writes both the old column and the new table until
0017. 0016 fills it for the issues that exist, in batches, and builds its index without
holding writes. 0017 then drops the old columns.
"""

import importlib

from django.db import migrations

FUNCTIONS = r"""
CREATE FUNCTION tracker_issue_fields(title text, description text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT setweight(to_tsvector('english'::regconfig, title), 'A')
      || setweight(to_tsvector('english'::regconfig, description), 'B')
$$;

CREATE TABLE issue_search (
  issue_id bigint PRIMARY KEY,
  fields tsvector NOT NULL DEFAULT '',
  comments tsvector NOT NULL DEFAULT '',
  document tsvector GENERATED ALWAYS AS (fields || comments) STORED
);

CREATE FUNCTION tracker_issue_search_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO issue_search (issue_id, fields)
  SELECT id, tracker_issue_fields(title, description) FROM added;
  RETURN NULL;
END
$$;

CREATE FUNCTION tracker_issue_search_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE issue_search SET fields = tracker_issue_fields(NEW.title, NEW.description)
   WHERE issue_id = NEW.id;
  RETURN NULL;
END
$$;

CREATE FUNCTION tracker_issue_search_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM issue_search WHERE issue_id IN (SELECT id FROM removed);
  RETURN NULL;
END
$$;

CREATE FUNCTION tracker_issue_search_emptied() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE issue_search;
  RETURN NULL;
END
$$;

CREATE TRIGGER issues_search_insert AFTER INSERT ON issues
  REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION tracker_issue_search_added();
CREATE TRIGGER issues_search_update AFTER UPDATE OF title, description ON issues
  FOR EACH ROW
  WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.description IS DISTINCT FROM NEW.description)
  EXECUTE FUNCTION tracker_issue_search_changed();
CREATE TRIGGER issues_search_delete AFTER DELETE ON issues
  REFERENCING OLD TABLE AS removed
  FOR EACH STATEMENT EXECUTE FUNCTION tracker_issue_search_removed();
CREATE TRIGGER issues_search_truncate AFTER TRUNCATE ON issues
  FOR EACH STATEMENT EXECUTE FUNCTION tracker_issue_search_emptied();
"""

# Until 0017: a comment's words go to both documents, so that 0016 can copy the old one for
# the issues it fills without missing a comment committed meanwhile.
COMMENTS_BOTH = r"""
CREATE OR REPLACE FUNCTION tracker_comments_search() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  piece tsvector;
BEGIN
  IF TG_OP = 'INSERT' THEN
    piece := setweight(to_tsvector('english'::regconfig, NEW.body), 'C');
    UPDATE issues SET comments_search = comments_search || piece
     WHERE id = NEW.issue_id
       AND pg_column_size(comments_search) + pg_column_size(piece) <= 524288;
    UPDATE issue_search SET comments = comments || piece
     WHERE issue_id = NEW.issue_id
       AND pg_column_size(comments) + pg_column_size(piece) <= 524288;
    RETURN NULL;
  END IF;
  UPDATE issues SET comments_search = tracker_comments_search_of(OLD.issue_id)
   WHERE id = OLD.issue_id;
  UPDATE issue_search SET comments = tracker_comments_search_of(OLD.issue_id)
   WHERE issue_id = OLD.issue_id;
  IF TG_OP = 'UPDATE' AND NEW.issue_id <> OLD.issue_id THEN
    UPDATE issues SET comments_search = tracker_comments_search_of(NEW.issue_id)
     WHERE id = NEW.issue_id;
    UPDATE issue_search SET comments = tracker_comments_search_of(NEW.issue_id)
     WHERE issue_id = NEW.issue_id;
  END IF;
  RETURN NULL;
EXCEPTION WHEN program_limit_exceeded THEN
  RETURN NULL;
END
$$;
"""

DROP = r"""
DROP TRIGGER issues_search_insert ON issues;
DROP TRIGGER issues_search_update ON issues;
DROP TRIGGER issues_search_delete ON issues;
DROP TRIGGER issues_search_truncate ON issues;
DROP FUNCTION tracker_issue_search_added();
DROP FUNCTION tracker_issue_search_changed();
DROP FUNCTION tracker_issue_search_removed();
DROP FUNCTION tracker_issue_search_emptied();
DROP TABLE issue_search;
DROP FUNCTION tracker_issue_fields(text, text);
"""

# Back to 0014's comments trigger, which writes the old column only.
APPEND = importlib.import_module("tracker.migrations.0014_comments_search_append").APPEND


class Migration(migrations.Migration):
    dependencies = [("tracker", "0014_comments_search_append")]

    operations = [migrations.RunSQL(FUNCTIONS + COMMENTS_BOTH, APPEND + DROP)]

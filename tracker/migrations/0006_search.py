"""Full-text search over an issue's title, description and comments.

`issues.search` is the issue's document: a stored generated tsvector (English stemming) of the
title (weight A), the description (B) and `issues.comments_search` (C), the comments' part,
which a trigger on `comments` keeps. So the one GIN index answers `q` for all three, and it is
current in the transaction of every write, whatever wrote it (services, COPY, the admin).
`tracker_search_query(q)` turns what a person typed into the tsquery (websearch syntax: quoted
phrases, `-word`, `or`; the last word also matches as a prefix, so `KeyErr` finds `KeyError`
and a search can be typed as it is thought). Both columns stay out of the ORM (models.py).

The comments' part is capped (512 kB, far above any real issue's discussion): past it, new
comments are not indexed rather than the write failing on PostgreSQL's 1 MB tsvector limit.
"""

from django.db import migrations

SEARCH_QUERY = r"""
CREATE OR REPLACE FUNCTION tracker_search_query(q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN parsed::text ~ '''$' THEN regexp_replace(parsed::text, '''$', ''':*')::tsquery
              ELSE parsed END
  FROM websearch_to_tsquery('english'::regconfig, q) AS parsed
$$;
"""

COMMENTS_TRIGGER = r"""
CREATE OR REPLACE FUNCTION tracker_comments_search_of(issue bigint) RETURNS tsvector
LANGUAGE sql STABLE AS $$
  SELECT COALESCE(
    (SELECT setweight(to_tsvector('english'::regconfig, string_agg(body, ' ' ORDER BY id)), 'C')
       FROM comments WHERE issue_id = issue),
    ''::tsvector)
$$;

CREATE OR REPLACE FUNCTION tracker_comments_search() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  grown tsvector;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT comments_search || setweight(to_tsvector('english'::regconfig, NEW.body), 'C')
      INTO grown FROM issues WHERE id = NEW.issue_id;
    IF pg_column_size(grown) <= 524288 THEN
      UPDATE issues SET comments_search = grown WHERE id = NEW.issue_id;
    END IF;
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

CREATE TRIGGER comments_search_insert AFTER INSERT ON comments
  FOR EACH ROW EXECUTE FUNCTION tracker_comments_search();
CREATE TRIGGER comments_search_change AFTER UPDATE OF body, issue_id OR DELETE ON comments
  FOR EACH ROW EXECUTE FUNCTION tracker_comments_search();
"""

COLUMNS = r"""
ALTER TABLE issues ADD COLUMN comments_search tsvector NOT NULL DEFAULT '';
UPDATE issues SET comments_search = parts.vector
  FROM (SELECT issue_id,
               setweight(to_tsvector('english'::regconfig, string_agg(body, ' ' ORDER BY id)), 'C')
                 AS vector
          FROM comments GROUP BY issue_id) AS parts
 WHERE issues.id = parts.issue_id;
ALTER TABLE issues ADD COLUMN search tsvector GENERATED ALWAYS AS (
  setweight(to_tsvector('english'::regconfig, title), 'A')
  || setweight(to_tsvector('english'::regconfig, description), 'B')
  || comments_search
) STORED;
CREATE INDEX issues_search_idx ON issues USING gin (search);
"""

DROP = r"""
DROP TRIGGER IF EXISTS comments_search_insert ON comments;
DROP TRIGGER IF EXISTS comments_search_change ON comments;
DROP FUNCTION IF EXISTS tracker_comments_search();
DROP FUNCTION IF EXISTS tracker_comments_search_of(bigint);
DROP FUNCTION IF EXISTS tracker_search_query(text);
ALTER TABLE issues DROP COLUMN IF EXISTS search;
ALTER TABLE issues DROP COLUMN IF EXISTS comments_search;
"""


class Migration(migrations.Migration):
    dependencies = [("tracker", "0005_webhooks")]

    operations = [
        # `q` now searches the document below; the title's trigram index served the old
        # substring match only.
        migrations.RemoveIndex(model_name="issue", name="issues_title_trgm_idx"),
        migrations.RunSQL(SEARCH_QUERY + COLUMNS + COMMENTS_TRIGGER, DROP),
    ]

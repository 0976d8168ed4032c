"""A new comment enters its issue's search document when its transaction commits, not when
it is inserted.

The trigger rewrites the issue's row, so it holds that row's lock until the transaction
ends: run at the insert, every comment on an issue waited for the whole of the previous
one's transaction (its timeline, notifications, webhooks and commit); people commenting at
once on one busy issue were served one at a time. A deferred constraint trigger takes the
lock at commit, for the time the commit takes. Nobody else sees the difference: the comment
and its issue's document still become visible together. Issue writers are not put in a
different order by it either: a comment's insert locks its issue FOR KEY SHARE from the start
(services/comments.py), and every change to an issue first locks it FOR UPDATE, which waits
for that.
"""

from django.db import migrations

DEFERRED = """
DROP TRIGGER comments_search_insert ON comments;
CREATE CONSTRAINT TRIGGER comments_search_insert AFTER INSERT ON comments
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tracker_comments_search();
"""

IMMEDIATE = """
DROP TRIGGER comments_search_insert ON comments;
CREATE TRIGGER comments_search_insert AFTER INSERT ON comments
  FOR EACH ROW EXECUTE FUNCTION tracker_comments_search();
"""


class Migration(migrations.Migration):
    dependencies = [("tracker", "0012_issue_events_created")]

    operations = [migrations.RunSQL(DEFERRED, IMMEDIATE)]

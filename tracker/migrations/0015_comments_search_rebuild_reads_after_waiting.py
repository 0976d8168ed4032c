"""Rebuilding an issue's comments' document reads the comments as they are when it writes.

An edited or deleted comment rebuilds its issue's `comments_search` from the issue's
comments (migration 0006). That read was STABLE: it used the snapshot of the statement that
changed the comment. When the rebuild had to wait for the issue's row, held by a new
comment committing (which appends its words to the same row, migration 0014), PostgreSQL
re-ran it for the row as that commit left it, but with the old snapshot: it wrote back a
document without the new comment, which then could not be found by its words until the next
change. VOLATILE, the read takes a snapshot of its own each time it runs (at READ
COMMITTED, the isolation every write of the tracker runs at), so the re-run sees the comment
whose commit it waited for.
"""

from django.db import migrations

VOLATILE = "ALTER FUNCTION tracker_comments_search_of(bigint) VOLATILE;"
STABLE = "ALTER FUNCTION tracker_comments_search_of(bigint) STABLE;"


class Migration(migrations.Migration):
    dependencies = [("tracker", "0014_comments_search_append")]

    operations = [migrations.RunSQL(VOLATILE, STABLE)]

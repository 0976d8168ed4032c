"""`issue_search` filled for the issues that existed before 0015, and its index built,
without holding the issues' writes for the time it takes (a million issues: see the
README's migration figures).

The issues are filled in batches of ids, each its own transaction. A batch locks its issues
FOR SHARE, so it waits for a comment committing on one of them and reads the document that
comment wrote; a comment committing after the batch finds the issue's row and appends to it
(0015's trigger writes both documents). An issue created since 0015 already has its row,
which is kept. The GIN index is built CONCURRENTLY, and the document gets 0011's finer
statistics, so the planner knows a rare word is rare.
"""

from django.db import migrations, transaction

BATCH = 20_000

FILL = """
INSERT INTO issue_search (issue_id, fields, comments)
SELECT id, tracker_issue_fields(title, description), comments_search
  FROM issues
 WHERE id > %s AND id <= %s
   FOR SHARE
ON CONFLICT (issue_id) DO NOTHING
"""


def fill(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM issues")
        (last,) = cursor.fetchone()
    for start in range(0, last, BATCH):
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(FILL, [start, start + BATCH])


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("tracker", "0015_issue_search")]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY issue_search_document_idx ON issue_search"
            " USING gin (document)",
            "DROP INDEX issue_search_document_idx",
        ),
        migrations.RunSQL(
            "ALTER TABLE issue_search ALTER COLUMN document SET STATISTICS 1000",
            migrations.RunSQL.noop,
        ),
        migrations.RunSQL("ANALYZE issue_search", migrations.RunSQL.noop),
    ]

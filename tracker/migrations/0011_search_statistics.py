"""Finer statistics on the search document, so the planner knows a rare word is rare.

With the default statistics target, PostgreSQL keeps the frequencies of about a thousand
most common words and guesses every other word at half the rarest of them (0.5% of a
million issues): it then walks the issues in id order looking for 5,000 matches that are in
fact 20, reading the whole table (0.35 s at a million issues) instead of asking the index
(0.1 ms). Ten times the target makes the guess small enough for the index; ANALYZE samples
more rows (about 3 s at a million issues, in the background).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tracker", "0010_watchers")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE issues ALTER COLUMN search SET STATISTICS 1000",
            "ALTER TABLE issues ALTER COLUMN search SET STATISTICS -1",
        )
    ]

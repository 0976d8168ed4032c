"""`tracker_isoformat(ts, tz)`: a timestamp as the API writes it (Python's isoformat in the
time zone `tz`, `Z` for UTC, microseconds only when there are some), so PostgreSQL can build
the JSON of the hot read paths in one statement (selectors_json.py). A plain SQL function:
the planner inlines it."""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION tracker_isoformat(ts timestamptz, tz text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT to_char(ts AT TIME ZONE tz, 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN date_part('microseconds', ts)::bigint % 1000000 = 0 THEN ''
            ELSE to_char(ts AT TIME ZONE tz, '.US') END
    || CASE WHEN (ts AT TIME ZONE tz) = (ts AT TIME ZONE 'UTC') THEN 'Z'
            WHEN (ts AT TIME ZONE tz) > (ts AT TIME ZONE 'UTC')
              THEN '+' || to_char((ts AT TIME ZONE tz) - (ts AT TIME ZONE 'UTC'), 'HH24:MI')
            ELSE '-' || to_char((ts AT TIME ZONE 'UTC') - (ts AT TIME ZONE tz), 'HH24:MI') END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("tracker", "0002_label_key")]

    operations = [
        migrations.RunSQL(CREATE, "DROP FUNCTION IF EXISTS tracker_isoformat(timestamptz, text)")
    ]

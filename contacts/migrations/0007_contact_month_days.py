"""A GIN index of contacts' date-valued attributes by key and month-day, for date triggers.

A date-attribute journey ("3 days before {{renewal_date}}", a birthday) looks every few
minutes for the contacts whose date falls on today's month and day; the attribute's key is the
journey's, so no per-key expression index can be written ahead of time. This one indexes every
attribute whose value is a date (YYYY-MM-DD…, the form typed attributes store) as
`key:MM-DD`, and only contacts that have one: journeys/triggers.py's sweep asks for
`contacts_month_days(attributes) && ARRAY['renewal_date:12-07', …]` and reads those contacts,
not every contact.
"""

from django.db import migrations

FUNCTION = r"""
CREATE FUNCTION contacts_month_days(attributes jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(a.key || ':' || substring(a.value from 6 for 5)), '{}')
    FROM jsonb_each_text(
        CASE WHEN jsonb_typeof(attributes) = 'object' THEN attributes ELSE '{}'::jsonb END
    ) AS a
    WHERE a.value ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}'
$$
"""
INDEX = """
CREATE INDEX contact_month_days ON contacts_contact
USING gin (contacts_month_days(attributes)) WHERE contacts_month_days(attributes) <> '{}'
"""


class Migration(migrations.Migration):
    dependencies = [("contacts", "0006_memberships_checked_per_statement")]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION contacts_month_days(jsonb)"),
        migrations.RunSQL(INDEX, "DROP INDEX contact_month_days"),
    ]

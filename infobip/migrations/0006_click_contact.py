"""Clicks carry their message's contact, for attribution's one probe per contact.

Safe on a big clicks table, with the app running (hence not atomic): the column is added empty
(a catalogue change, no rewrite); the backfill copies each click's ledger contact in batches of
BATCH click ids, each its own short transaction (no long lock, no giant WAL burst); the index
is built CONCURRENTLY afterwards (no write lock, and cheaper than keeping it up to date during
the backfill). Clicks stored by the previous code while this runs are picked up by the last
batch, which goes to the highest id at its own start; those stored between this migration and
the new code's start (seconds: docs/DEPLOYMENT.md "Upgrades") are filled by
`manage.py clicks_contacts` (the same statement; it touches only clicks without a contact).
"""

import django.db.models.deletion
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

BATCH = 20_000
FILL = """
    UPDATE infobip_click c SET contact_id = m.contact_id
      FROM campaigns_message m
     WHERE m.id = c.message_id AND c.id >= %s AND c.id < %s
       AND c.contact_id IS NULL AND m.contact_id IS NOT NULL
"""


def backfill(apps, schema_editor) -> None:
    """Each click's ledger contact, BATCH click ids a transaction (autocommit between)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM infobip_click")
        low, high = cursor.fetchone()
        if low is None:
            return
        start = low
        while start <= high:
            cursor.execute(FILL, [start, start + BATCH])
            start += BATCH
            if start > high:  # clicks stored meanwhile by the running app
                cursor.execute("SELECT max(id) FROM infobip_click")
                high = cursor.fetchone()[0]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("contacts", "0006_memberships_checked_per_statement"),
        ("infobip", "0005_click_message_without_constraint"),
    ]

    operations = [
        migrations.AddField(
            model_name="click",
            name="contact",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="contacts.contact",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        AddIndexConcurrently(
            model_name="click",
            index=models.Index(fields=["contact", "-clicked_at"], name="infobip_click_contact_idx"),
        ),
    ]

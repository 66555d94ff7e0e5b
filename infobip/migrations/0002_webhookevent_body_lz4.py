"""Stored push bodies compressed with lz4 instead of pglz (when the server has it).

A 100-report push is ~50 KB of JSON; pglz compressing it was ~0.6 ms of PostgreSQL CPU per
push, lz4 ~0.1–0.3 ms for the same size on disk (bench/HISTORY.md, "Reports and events").
Only new rows use it; old rows stay readable. A server built without lz4 keeps pglz.
"""

from django.db import migrations, transaction


def lz4(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        try:
            with transaction.atomic(using=schema_editor.connection.alias):  # a savepoint
                cursor.execute(
                    "ALTER TABLE infobip_webhookevent ALTER COLUMN body SET COMPRESSION lz4"
                )
        except Exception:  # noqa: BLE001  (PostgreSQL < 14 or built without lz4: keep pglz)
            return


def pglz(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("ALTER TABLE infobip_webhookevent ALTER COLUMN body SET COMPRESSION DEFAULT")


class Migration(migrations.Migration):
    dependencies = [("infobip", "0001_initial")]

    operations = [migrations.RunPython(lz4, pglz)]

"""A partial index of split campaigns' groups (the sweep's figures of the test).

Built CONCURRENTLY (no write lock on a big ledger while it builds; hence not atomic). Its entries
are split campaigns' rows only, and nothing updates `split_group`, so the send answer and the
reports stay HOT updates (docs/DATABASE.md).
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("campaigns", "0021_history"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="message",
            index=models.Index(
                condition=models.Q(("split_group__isnull", False)),
                fields=["campaign", "split_group"],
                name="message_split_group",
            ),
        ),
    ]

"""Contacts: drop the three varchar_pattern_ops `_like` indexes no query uses (issue 18).

unique=True / db_index=True on a CharField make Django build, on PostgreSQL, a second btree
with varchar_pattern_ops for case-sensitive `LIKE 'x%'`. Nothing runs one on these columns
(searches use contains / icontains / istartswith: a leading % or UPPER(), no btree helps), so
they only cost a write per inserted or updated contact. The state moves to Meta.constraints and
Meta.indexes (which build no twin); the database keeps its unique constraint and its two plain
indexes as they are (renamed, not rebuilt) and loses only the twins.
"""

from django.db import migrations, models

_RENAMES = (
    ("contacts_contact_language_de4f779c", "contact_language_idx"),
    ("contacts_contact_country_0029577e", "contact_country_idx"),
)
_LIKE = (
    ("contacts_contact_phone_2a8bc2d8_like", "phone"),
    ("contacts_contact_language_de4f779c_like", "language"),
    ("contacts_contact_country_0029577e_like", "country"),
)


def forwards(apps, schema_editor) -> None:  # noqa: ANN001
    run = schema_editor.execute
    for old, new in _RENAMES:
        run(f'ALTER INDEX IF EXISTS "{old}" RENAME TO "{new}"')
    for name, _ in _LIKE:
        run(f'DROP INDEX IF EXISTS "{name}"')


def backwards(apps, schema_editor) -> None:  # noqa: ANN001
    run = schema_editor.execute
    for old, new in _RENAMES:
        run(f'ALTER INDEX IF EXISTS "{new}" RENAME TO "{old}"')
    for name, column in _LIKE:
        run(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "contacts_contact" '
            f'("{column}" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0002_audiences_consent"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[
                migrations.AlterField(
                    model_name="contact",
                    name="country",
                    field=models.CharField(blank=True, max_length=2),
                ),
                migrations.AlterField(
                    model_name="contact",
                    name="language",
                    field=models.CharField(blank=True, max_length=20),
                ),
                migrations.AlterField(
                    model_name="contact",
                    name="phone",
                    field=models.CharField(max_length=16),
                ),
                migrations.AddIndex(
                    model_name="contact",
                    index=models.Index(fields=["language"], name="contact_language_idx"),
                ),
                migrations.AddIndex(
                    model_name="contact",
                    index=models.Index(fields=["country"], name="contact_country_idx"),
                ),
                migrations.AddConstraint(
                    model_name="contact",
                    constraint=models.UniqueConstraint(
                        fields=("phone",), name="contacts_contact_phone_key"
                    ),
                ),
            ],
        ),
    ]

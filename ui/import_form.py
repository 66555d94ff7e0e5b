"""The import's mapping step as a form: one row per column of the file, what it becomes.

Each column `N` posts `col-N-target` (a field, consent, opted_out, consent_date, attr:TYPE or
ignore), `col-N-key` (the attribute's name), `col-N-order` (how its dates are written) and
`col-N-channel` (which channel its consent is about); the page shows the last three only for
the targets that use them (the stylesheet, no server round trip), and they are read only for
those. A column the form does not mention keeps its suggestion. Nothing here writes or
checks: contacts.mapping does.
"""

from dataclasses import dataclass
from typing import Any

from contacts.attributes import AttributeType, date_order_guess
from contacts.csvfile import normalise_column
from contacts.mapping import TARGET_LABELS, Column
from contacts.services import ImportPreview

TARGET_CHOICES = [
    ("Contact", [(t, TARGET_LABELS[t]) for t in
                 ("phone", "first_name", "last_name", "language", "timezone")]),
    ("Consent", [(t, TARGET_LABELS[t]) for t in ("consent", "opted_out", "consent_date")]),
    ("Attribute", [("attr:text", "Attribute: text"), ("attr:number", "Attribute: number"),
                   ("attr:date", "Attribute: date"), ("attr:boolean", "Attribute: yes/no")]),
    ("", [("ignore", TARGET_LABELS["ignore"])]),
]  # fmt: skip
CONSENT_CHANNEL_CHOICES = [("all", "every channel"), ("sms", "SMS"), ("whatsapp", "WhatsApp")]
_ALLOWED = {value for _group, options in TARGET_CHOICES for value, _label in options}


@dataclass(frozen=True)
class MappingRow:
    """One column as the mapping step shows it."""

    index: int
    name: str
    samples: list[str]
    choice: str  # the select's value
    column: Column
    # What the column's inputs start with, whatever its target (shown when the target uses them)
    key: str
    order: str
    channel: str


def choice_of(column: Column) -> str:
    return f"attr:{column.type}" if column.target == "attribute" else column.target


def columns_from_form(post: Any, header: list[str], suggested: list[Column]) -> list[Column]:
    """The columns the form says (the suggestion for any it does not mention)."""
    columns = []
    for index, column in enumerate(suggested):
        choice = post.get(f"col-{index}-target")
        if choice is None or choice not in _ALLOWED:
            columns.append(column)
            continue
        order = str(post.get(f"col-{index}-order", column.order or ""))[:3]
        if choice.startswith("attr:"):
            key = str(post.get(f"col-{index}-key", "")).strip()[:64]
            key = key or column.key or normalise_column(header[index])
            kind = choice[5:]
            columns.append(
                Column(
                    "attribute",
                    key=key,
                    type=kind,
                    order=order if kind == AttributeType.DATE else "",
                )
            )
        elif choice == "consent":
            channel = str(post.get(f"col-{index}-channel", column.channel or "all"))[:10]
            columns.append(Column("consent", channel=channel))
        elif choice == "consent_date":
            columns.append(Column("consent_date", order=order))
        else:
            columns.append(Column(choice))
    return columns


def mapping_rows(preview: ImportPreview, columns: list[Column]) -> list[MappingRow]:
    """The rows of the mapping table: each column with its sample cells and its target."""
    rows = []
    for index, (name, column) in enumerate(zip(preview.header, columns, strict=True)):
        samples = [row[index] for row in preview.sample if index < len(row)]
        rows.append(
            MappingRow(
                index=index,
                name=name.strip() or f"(column {index + 1}, no name)",
                samples=samples,
                choice=choice_of(column),
                column=column,
                key=column.key or normalise_column(name),
                order=column.order or date_order_guess(samples),
                channel=column.channel,
            )
        )
    return rows

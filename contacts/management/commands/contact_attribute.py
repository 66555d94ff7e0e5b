"""Operator command for attribute types: list, set KEY --type T, remove KEY (each with --json)."""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from contacts.attributes import AttributeType
from contacts.models import AttributeDefinition
from contacts.services import attribute_define, attribute_undefine, attribute_usage
from core.cli import add_actor_argument, cli_actor
from core.rules import Refused


class Command(BaseCommand):
    """Declare a contact attribute a number, date or boolean, so segments compare it so."""

    help = (
        "Attribute types: list | set KEY --type text|number|date|boolean [--label L] | "
        "remove KEY (keys not declared are text)"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="declared keys, with how many values fit the type")
        put = sub.add_parser("set", help="declare (or re-declare) a key's type")
        put.add_argument("key")
        put.add_argument("--type", required=True, choices=AttributeType.values, dest="kind")
        put.add_argument("--label", default="")
        remove = sub.add_parser("remove", help="forget a key's type (it is text again)")
        remove.add_argument("key")
        for subparser in (listing, put, remove):
            subparser.add_argument("--json", action="store_true")
        for subparser in (put, remove):
            add_actor_argument(subparser)

    def handle(self, *args: str, action: str, **o: Any) -> None:
        try:
            getattr(self, f"do_{action}")(**o)
        except ValidationError as exc:
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(problems) from exc
        except Refused as exc:
            raise CommandError(f"refused: {exc}") from exc

    def do_list(self, **o: Any) -> None:
        rows = []
        for definition in AttributeDefinition.objects.all():
            usage = attribute_usage(key=definition.key, kind=definition.type)
            rows.append(
                {
                    "key": definition.key,
                    "type": definition.type,
                    "label": definition.label,
                    "with_value": usage.with_value,
                    "not_of_type": usage.not_of_type,
                    "examples": usage.examples,
                }
            )
        if o["json"]:
            self.stdout.write(json.dumps(rows))
            return
        for row in rows:
            line = f"{row['key']}\t{row['type']}\t{row['with_value']} values"
            if row["not_of_type"]:
                line += f" ({row['not_of_type']} not a {row['type']}: never match)"
            self.stdout.write(line)
        self.stdout.write(f"attributes={len(rows)}")

    def do_set(self, **o: Any) -> None:
        definition = attribute_define(
            key=o["key"], kind=o["kind"], label=o["label"], actor=cli_actor(o["acting_user"])
        )
        usage = attribute_usage(key=definition.key, kind=definition.type)
        data = {
            "key": definition.key,
            "type": definition.type,
            "label": definition.label,
            "with_value": usage.with_value,
            "not_of_type": usage.not_of_type,
            "examples": usage.examples,
        }
        line = f"attribute {definition.key}: {definition.type} ({usage.with_value} values"
        if usage.not_of_type:
            shown = ", ".join(repr(v) for v in usage.examples)
            line += f"; {usage.not_of_type} are not a {definition.type} and never match: {shown}"
        self.stdout.write(json.dumps(data) if o["json"] else line + ")")

    def do_remove(self, **o: Any) -> None:
        if not attribute_undefine(key=o["key"], actor=cli_actor(o["acting_user"])):
            raise CommandError(f"no declared attribute {o['key']!r} (see contact_attribute list)")
        data = {"key": o["key"], "type": "text"}
        self.stdout.write(json.dumps(data) if o["json"] else f"attribute {o['key']}: text again")

"""A person's saved test numbers: add, list, remove (the same as their settings page)."""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.testsend import saved_number_add, saved_number_remove, saved_numbers_for
from core.cli import add_actor_argument, cli_actor
from core.rules import actor_user


class Command(BaseCommand):
    """Test numbers belong to a person: every action names them with --as (or HERALD_CLI_USER)."""

    help = "A person's test numbers: add NUMBER [--label L] | list | remove ID; --as USERNAME"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="save a number (national format in the team's region)")
        add.add_argument("number")
        add.add_argument("--label", default="")
        listing = sub.add_parser("list")
        remove = sub.add_parser("remove")
        remove.add_argument("id", type=int)
        for p in (add, listing, remove):
            p.add_argument("--json", action="store_true")
            add_actor_argument(p)

    def handle(
        self, *args: str, action: str, acting_user: str | None, json: bool, **o: Any
    ) -> None:
        user = actor_user(cli_actor(acting_user))
        if user is None:
            raise CommandError("test numbers belong to a person: give --as USERNAME")
        try:
            if action == "add":
                saved = saved_number_add(user=user, raw=o["number"], label=o["label"])
                data = {"id": saved.pk, "phone": saved.phone, "label": saved.label}
                line = f"test number saved: id={saved.pk} {saved.phone} {saved.label}".rstrip()
            elif action == "remove":
                phone = saved_number_remove(user=user, number_id=o["id"])
                data = {"id": o["id"], "phone": phone, "removed": True}
                line = f"test number removed: {phone}"
            else:
                rows = [
                    {"id": n.pk, "phone": n.phone, "label": n.label}
                    for n in saved_numbers_for(user)
                ]
                data = {"numbers": rows}
                line = "\n".join(f"{r['id']}\t{r['phone']}\t{r['label']}" for r in rows)
                line = line or f"{user.get_username()} has no test numbers"
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(_dumps(data) if json else line)


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)

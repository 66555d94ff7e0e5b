"""Operator command for saved message snippets: save (create or change), list, delete."""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.models import Snippet
from campaigns.services import snippet_delete, snippet_save
from core.cli import add_actor_argument, cli_actor
from core.rules import Refused


class Command(BaseCommand):
    """Pieces of text the wizard's message step and the inbox's reply box insert."""

    help = "Snippets: save --name N --text T | list | delete NAME; --json for scripts"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        save = sub.add_parser("save", help="create a snippet, or change the one of that name")
        save.add_argument("--name", required=True)
        save.add_argument("--text", required=True)
        save.add_argument("--json", action="store_true")
        add_actor_argument(save)
        sub.add_parser("list").add_argument("--json", action="store_true")
        delete = sub.add_parser("delete")
        delete.add_argument("name")
        add_actor_argument(delete)

    def handle(self, *args: str, action: str, **o: Any) -> None:
        try:
            getattr(self, f"do_{action}")(**o)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except Refused as exc:
            raise CommandError(f"refused: {exc}") from exc

    def do_save(self, **o: Any) -> None:
        existing = Snippet.objects.filter(name__iexact=o["name"].strip()).first()
        snippet = snippet_save(
            name=o["name"], text=o["text"], snippet=existing, actor=cli_actor(o.get("acting_user"))
        )
        if o["json"]:
            self.stdout.write(json.dumps({"id": snippet.pk, "name": snippet.name}))
        else:
            verb = "changed" if existing else "created"
            self.stdout.write(f"snippet {verb}: id={snippet.pk} name={snippet.name}")

    def do_list(self, **o: Any) -> None:
        rows = [{"id": s.pk, "name": s.name, "text": s.text} for s in Snippet.objects.all()]
        if o["json"]:
            self.stdout.write(json.dumps(rows, ensure_ascii=False))
            return
        for row in rows:
            self.stdout.write(f"{row['name']}: {row['text']}")
        self.stdout.write(f"{len(rows)} snippet(s)")

    def do_delete(self, **o: Any) -> None:
        snippet = Snippet.objects.filter(name__iexact=o["name"].strip()).first()
        if snippet is None:
            raise CommandError(f"no snippet named {o['name']!r}")
        name = snippet_delete(snippet=snippet, actor=cli_actor(o.get("acting_user")))
        self.stdout.write(f"snippet deleted: {name}")

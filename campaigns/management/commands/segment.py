"""Operator command for segments: save, count, sample, show, list, delete (rules as JSON)."""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.models import Segment
from campaigns.segments import (
    SegmentError,
    segment_count,
    segment_delete,
    segment_preview,
    segment_rules_normalize,
    segment_rules_summary,
    segment_save,
)
from core.cli import add_actor_argument, cli_actor
from core.rules import Refused


class Command(BaseCommand):
    """Saved audience rules usable wherever a list is (campaign create --segment)."""

    help = (
        "Segments: save --name N --rules JSON|@FILE | count NAME | count --rules JSON | "
        "sample NAME [--limit N] | show NAME | list | delete NAME (each with --json)"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        save = sub.add_parser("save", help="create or update a segment")
        save.add_argument("--name", required=True)
        save.add_argument(
            "--rules", required=True, help='{"match": "all", "rules": [...]} or @FILE'
        )
        save.add_argument("--description", default="")
        count = sub.add_parser("count", help="how many contacts a segment (or --rules) selects now")
        count.add_argument("name", nargs="?")
        count.add_argument("--rules", help="count unsaved rules (JSON or @FILE) instead")
        sample = sub.add_parser("sample", help="the newest contacts a segment selects")
        sample.add_argument("name", nargs="?")
        sample.add_argument("--rules", help="sample unsaved rules (JSON or @FILE) instead")
        sample.add_argument("--limit", type=int, default=10)
        show = sub.add_parser("show", help="a segment's rules, in JSON and in words")
        show.add_argument("name")
        sub.add_parser("list", help="every segment with its rules in words")
        delete = sub.add_parser("delete", help="delete a segment no campaign uses")
        delete.add_argument("name")
        for subparser in (save, count, sample, show, sub.choices["list"], delete):
            subparser.add_argument("--json", action="store_true")
        for subparser in (save, delete):
            add_actor_argument(subparser)

    def handle(self, *args: str, action: str, **o: Any) -> None:
        try:
            getattr(self, f"do_{action}")(**o)
        except SegmentError as exc:
            raise CommandError(str(exc)) from exc
        except Refused as exc:
            raise CommandError(f"refused: {exc}") from exc

    def _out(self, o: dict[str, Any], data: Any, line: str) -> None:
        self.stdout.write(json.dumps(data) if o["json"] else line)

    def do_save(self, **o: Any) -> None:
        rules = _rules(o["rules"], "--rules")
        existing = Segment.objects.filter(name=o["name"].strip()).first()
        segment = segment_save(
            name=o["name"],
            rules=rules,
            description=o["description"],
            segment=existing,
            actor=cli_actor(o["acting_user"]),
        )
        n = segment_count(segment=segment)
        verb = "updated" if existing else "created"
        data = {"id": segment.pk, "name": segment.name, "count": n, "rules": segment.rules}
        self._out(o, data, f"segment {verb}: id={segment.pk} name={segment.name} count={n}")

    def _rules_of(self, o: dict[str, Any]) -> Any:
        """The rules of the named segment, or of --rules (exactly one of them)."""
        if bool(o.get("name")) == bool(o.get("rules")):
            raise CommandError("give a segment NAME or --rules JSON (one of them)")
        if o.get("rules"):
            return segment_rules_normalize(_rules(o["rules"], "--rules"))
        return _segment(o["name"]).rules

    def do_count(self, **o: Any) -> None:
        n = segment_count(rules=self._rules_of(o))
        self._out(o, {"count": n}, f"count={n}")

    def do_sample(self, **o: Any) -> None:
        if not 1 <= o["limit"] <= 1000:
            raise CommandError("--limit is 1 to 1000")
        preview = segment_preview(rules=self._rules_of(o), limit=o["limit"])
        rows = [
            {
                "id": c.pk,
                "phone": c.phone,
                "first_name": c.first_name,
                "last_name": c.last_name,
                "country": c.country,
                "attributes": c.attributes,
            }
            for c in preview.sample
        ]
        if o["json"]:
            self.stdout.write(json.dumps({"count": preview.count, "sample": rows}))
            return
        for row in rows:
            name = f"{row['first_name']} {row['last_name']}".strip()
            self.stdout.write(f"{row['id']}\t{row['phone']}\t{name}\t{row['country']}")
        self.stdout.write(f"count={preview.count} shown={len(rows)}")

    def do_show(self, **o: Any) -> None:
        segment = _segment(o["name"])
        words = segment_rules_summary(segment.rules)
        data = {
            "id": segment.pk,
            "name": segment.name,
            "description": segment.description,
            "rules": segment.rules,
            "in_words": words,
        }
        self._out(o, data, f"{segment.name}: {words}\n{json.dumps(segment.rules, indent=2)}")

    def do_list(self, **o: Any) -> None:
        rows = [
            {"id": s.pk, "name": s.name, "in_words": segment_rules_summary(s.rules)}
            for s in Segment.objects.all()
        ]
        if o["json"]:
            self.stdout.write(json.dumps(rows))
            return
        for row in rows:
            self.stdout.write(f"{row['id']}\t{row['name']}\t{row['in_words']}")
        self.stdout.write(f"segments={len(rows)}")

    def do_delete(self, **o: Any) -> None:
        name = segment_delete(segment=_segment(o["name"]), actor=cli_actor(o["acting_user"]))
        self._out(o, {"deleted": name}, f"segment deleted: {name}")


def _segment(name: str) -> Segment:
    segment = Segment.objects.filter(name=name.strip()).first()
    if segment is None:
        raise CommandError(f"no segment named {name!r} (see manage.py segment list)")
    return segment


def _rules(text: str, option: str) -> Any:
    """JSON given inline, or @FILE."""
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{option}: cannot read {text[1:]}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{option} is not JSON: {exc}") from exc

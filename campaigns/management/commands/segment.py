"""Operator command for segments: save (create or update), count, list."""

import json

from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Segment
from campaigns.segments import SegmentError, segment_count, segment_save


class Command(BaseCommand):
    """Saved audience rules usable wherever a list is (campaign create --segment)."""

    help = "Segments: save --name N --rules JSON | count NAME | list"

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        save = sub.add_parser("save", help="create or update a segment")
        save.add_argument("--name", required=True)
        save.add_argument("--rules", required=True, help='{"match": "all", "rules": [...]}')
        save.add_argument("--description", default="")
        save.add_argument("--json", action="store_true")
        count = sub.add_parser("count", help="how many contacts a segment selects now")
        count.add_argument("name")
        count.add_argument("--json", action="store_true")
        sub.add_parser("list").add_argument("--json", action="store_true")

    def handle(self, *args, action: str, **o) -> None:
        try:
            getattr(self, f"do_{action}")(**o)
        except SegmentError as exc:
            raise CommandError(str(exc)) from exc

    def do_save(self, **o) -> None:
        try:
            rules = json.loads(o["rules"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--rules is not JSON: {exc}") from exc
        existing = Segment.objects.filter(name=o["name"].strip()).first()
        segment = segment_save(
            name=o["name"], rules=rules, description=o["description"], segment=existing
        )
        n = segment_count(segment=segment)
        if o["json"]:
            self.stdout.write(json.dumps({"id": segment.pk, "count": n}))
        else:
            verb = "updated" if existing else "created"
            self.stdout.write(f"segment {verb}: id={segment.pk} name={segment.name} count={n}")

    def do_count(self, **o) -> None:
        segment = Segment.objects.filter(name=o["name"]).first()
        if segment is None:
            raise CommandError(f"no segment named {o['name']!r}")
        n = segment_count(segment=segment)
        self.stdout.write(json.dumps({"count": n}) if o["json"] else f"count={n}")

    def do_list(self, **o) -> None:
        rows = [{"id": s.pk, "name": s.name} for s in Segment.objects.all()]
        if o["json"]:
            self.stdout.write(json.dumps(rows))
            return
        for row in rows:
            self.stdout.write(f"{row['id']}\t{row['name']}")
        self.stdout.write(f"segments={len(rows)}")

"""Operator command for the attribution rule: show it, recompute a period under another."""

import datetime as dt
import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime, parse_duration

from conversions.recompute import attribution_compare
from conversions.rule import rule_current, rule_document, rule_for


class Command(BaseCommand):
    """The versioned attribution rule (README "Conversions and attribution")."""

    help = "Attribution: rule | recompute --from ISO --to ISO [--click-window P5D …]"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        rule = sub.add_parser("rule", help="the rule in force and its version")
        rule.add_argument("--json", action="store_true")
        again = sub.add_parser(
            "recompute", help="a period under another rule, beside the stored credits (no writes)"
        )
        again.add_argument("--from", dest="start", required=True, help="ISO 8601 with a zone")
        again.add_argument("--to", dest="end", required=True, help="ISO 8601 with a zone")
        for kind in ("click", "reply", "delivery"):
            again.add_argument(
                f"--{kind}-window", metavar="ISO8601", help=f"default: the settings' ({kind})"
            )
        again.add_argument("--json", action="store_true")

    def handle(self, *args: str, action: str, **options: Any) -> None:
        getattr(self, f"do_{action}")(**options)

    def do_rule(self, *, json: bool, **_: Any) -> None:
        document = rule_document(rule_current())
        self.stdout.write(_json(document) if json else document["description"])

    def do_recompute(self, **o: Any) -> None:
        start, end = _when(o["start"], "--from"), _when(o["end"], "--to")
        if end <= start:
            raise CommandError("--to must be after --from")
        windows = {}
        for kind, default in (
            ("click", settings.HERALD_ATTRIBUTION_CLICK_WINDOW),
            ("reply", settings.HERALD_ATTRIBUTION_REPLY_WINDOW),
            ("delivery", settings.HERALD_ATTRIBUTION_DELIVERY_WINDOW),
        ):
            raw = o[f"{kind}_window"]
            value = parse_duration(raw) if raw else default
            if value is None or value.total_seconds() <= 0:
                raise CommandError(f"--{kind}-window takes an ISO 8601 duration such as P5D")
            windows[kind] = value
        rule = rule_for(**windows)
        comparison = attribution_compare(start=start, end=end, rule=rule)
        document = comparison.document(rule)
        if o["json"]:
            self.stdout.write(_json(document))
            return
        self.stdout.write(
            f"conversions={document['conversions']} changed={document['changed']} "
            f"stored under {', '.join(document['stored_rules']) or '-'}; "
            f"candidate {document['candidate_rule']}"
        )
        self.stdout.write(f"  {'campaign':>10}  {'stored':>18}  {'candidate':>18}")
        for row in document["campaigns"]:
            name = str(row["campaign"]) if row["campaign"] is not None else "none"
            stored, candidate = row["stored"], row["candidate"]
            self.stdout.write(
                f"  {name:>10}  {stored['conversions']:>6} {stored['revenue']:>11}"
                f"  {candidate['conversions']:>6} {candidate['revenue']:>11}"
            )


def _when(raw: str, flag: str) -> dt.datetime:
    parsed = parse_datetime(raw)
    if parsed is None or parsed.tzinfo is None:
        raise CommandError(f"{flag}: ISO 8601 with a zone, e.g. 2026-12-01T00:00:00Z")
    try:
        return parsed.astimezone(dt.UTC)  # PostgreSQL takes real offsets only
    except OverflowError:
        raise CommandError(f"{flag}: out of range") from None


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1)

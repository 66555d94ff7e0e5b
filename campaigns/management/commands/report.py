"""Operator command for reports: campaigns side by side, and trends over time (per person)."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.analytics import (
    COLUMNS,
    MAX_COMPARED,
    MAX_TREND_DAYS,
    Figures,
    campaigns_figures,
    campaigns_trends,
)


def _words(figures: Figures) -> str:
    data = figures.as_dict()
    return " ".join(f"{key}={'-' if data[key] is None else data[key]}" for key, _, _ in COLUMNS)


class Command(BaseCommand):
    """What campaigns achieved: sent, delivered, clicked, replied, opted out, cost; rates."""

    help = (
        "Reports: compare ID [ID ...] | trends [--days N] [--bucket day|week]; --json for scripts"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        compare = sub.add_parser("compare", help=f"campaigns side by side (up to {MAX_COMPARED})")
        compare.add_argument("ids", nargs="+", type=int, metavar="ID")
        compare.add_argument("--json", action="store_true")
        trends = sub.add_parser("trends", help="campaigns launched per day or week, added up")
        trends.add_argument("--days", type=int, default=30)
        trends.add_argument("--bucket", choices=["day", "week"], default="day")
        trends.add_argument("--json", action="store_true")

    def handle(self, *args: str, action: str, **o: Any) -> None:
        if action == "compare":
            if len(o["ids"]) > MAX_COMPARED:
                raise CommandError(f"compare at most {MAX_COMPARED} campaigns at once")
            figures = campaigns_figures(campaign_ids=o["ids"])
            missing = sorted(set(o["ids"]) - {f.id for f in figures})
            if missing:
                raise CommandError(f"no campaign with id {', '.join(map(str, missing))}")
            if o["json"]:
                self.stdout.write(json.dumps({"campaigns": [f.as_dict() for f in figures]}))
                return
            for f in figures:
                self.stdout.write(f"campaign {f.id} {f.name!r}: {_words(f)}")
            return
        if not 1 <= o["days"] <= MAX_TREND_DAYS:
            raise CommandError(f"--days must be between 1 and {MAX_TREND_DAYS}")
        points = campaigns_trends(days=o["days"], bucket=o["bucket"])
        if o["json"]:
            self.stdout.write(json.dumps({"points": [p.as_dict() for p in points]}))
            return
        for p in points:
            self.stdout.write(f"{p.start} campaigns={p.campaigns} {_words(p)}")
